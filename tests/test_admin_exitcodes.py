"""Exit statuses as a mail server and cron see them: real subprocesses.

Postfix's pipe(8) runs ``elinkctl … ingest email`` with the message on
standard input and decides on the exit status alone: 75 (EX_TEMPFAIL)
keeps the message and retries, anything else bounces it to the customer.
Each code is produced here by a real process on a real git store.
"""

from __future__ import annotations

import os
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from conftest import Desk
from elinkctl.store.lock import StoreLock

NOW = "2026-11-23T10:30:00+08:00"


def message(subject: str = "财务系统无法登录") -> bytes:
    msg = EmailMessage()
    msg["From"] = "王喆 <wangzhe@fin.example.cn>"
    msg["To"] = "servicedesk@elink.example.cn"
    msg["Subject"] = subject
    msg["Message-ID"] = "<a1@fin.example.cn>"
    msg.set_content("今天上午起无法登录财务系统。")
    return msg.as_bytes()


def pipe(
    elinkctl_bin: str,
    store: Path,
    data: bytes,
    *args: str,
    env: dict[str, str] | None = None,
    user: str = "mail-intake",
) -> subprocess.CompletedProcess[bytes]:
    """What Postfix's pipe transport does: argv, the message on stdin, a bare
    environment (no HOME-based git identity is needed)."""
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],
        "GIT_CONFIG_GLOBAL": os.environ["GIT_CONFIG_GLOBAL"],
        "GIT_CONFIG_NOSYSTEM": "1",
        "ELINKCTL_NOW": NOW,
        **(env or {}),
    }
    argv = [elinkctl_bin, "--store", str(store), "--as", user, *args]
    return subprocess.run(argv, input=data, env=full_env, capture_output=True, timeout=120)


def one_error_line(done: subprocess.CompletedProcess[bytes]) -> str:
    err = done.stderr.decode()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_ingest_email_exit_statuses_for_a_postfix_pipe(desk: Desk, elinkctl_bin: str) -> None:
    before = desk.commit_count()

    done = pipe(elinkctl_bin, desk.root, message(), "ingest", "email")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().startswith("INC-")
    assert desk.commit_count() == before + 1

    # 65 EX_DATAERR: a malformed message; retrying cannot help (Postfix bounces).
    bad = pipe(elinkctl_bin, desk.root, b"\x00\x01\x02 binary", "ingest", "email")
    assert bad.returncode == 65, bad.stderr.decode()
    one_error_line(bad)

    # 64 EX_USAGE: the master.cf line is wrong.
    usage = pipe(elinkctl_bin, desk.root, message(), "ingest", "email", "--type", "bogus")
    assert usage.returncode == 64, usage.stderr.decode()
    assert pipe(elinkctl_bin, desk.root, b"", "ingest", "mail").returncode == 64

    # 78 EX_CONFIG: no store at the configured path.
    missing = pipe(elinkctl_bin, desk.root / "nowhere", message(), "ingest", "email")
    assert missing.returncode == 78, missing.stderr.decode()
    assert "not an elinkctl store" in one_error_line(missing)

    assert desk.commit_count() == before + 1
    assert desk.git("status", "--porcelain") == ""


def test_a_busy_store_defers_the_mail_with_75(desk: Desk, elinkctl_bin: str) -> None:
    """Another elinkctl holds the lock longer than ELINKCTL_LOCK_TIMEOUT: 75,
    so Postfix keeps the mail and delivers it on its next try."""
    before = desk.commit_count()
    lock = StoreLock(desk.root / ".git" / "elinkctl" / "lock", timeout=1)
    lock.acquire()
    try:
        busy = pipe(
            elinkctl_bin,
            desk.root,
            message(),
            "ingest",
            "email",
            env={"ELINKCTL_LOCK_TIMEOUT": "0.3"},
        )
    finally:
        lock.release()
    assert busy.returncode == 75, busy.stderr.decode()
    assert "busy" in one_error_line(busy)
    assert desk.commit_count() == before
    retried = pipe(elinkctl_bin, desk.root, message(), "ingest", "email")
    assert retried.returncode == 0, retried.stderr.decode()
    assert desk.commit_count() == before + 1


def test_unknown_intake_user_under_strict_people_is_77(desk: Desk, elinkctl_bin: str) -> None:
    rules = desk.root / "escalation.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\nstrict_people: true\n", "utf-8")
    desk.git("commit", "-qam", "strict people")
    done = pipe(elinkctl_bin, desk.root, message(), "ingest", "email")
    assert done.returncode == 77, done.stderr.decode()
    one_error_line(done)


def test_alert_payload_statuses(desk: Desk, elinkctl_bin: str) -> None:
    assert pipe(elinkctl_bin, desk.root, b"{not json", "ingest", "alert").returncode == 65
    assert pipe(elinkctl_bin, desk.root, b"", "ingest", "alert", "--bogus").returncode == 64


@pytest.mark.parametrize("args", [("list",), ("show", "NOPE1")])
def test_other_commands_keep_exit_1_and_2(
    desk: Desk, elinkctl_bin: str, args: tuple[str, ...]
) -> None:
    """DESIGN §8's 0/1/2 stands for every command but ingest."""
    done = pipe(elinkctl_bin, desk.root / "nowhere", b"", *args)
    assert done.returncode == 1
    assert pipe(elinkctl_bin, desk.root, b"", *args, "--bogus").returncode == 2
