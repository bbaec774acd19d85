"""Cheap inputs never jam the store (issue 18 item 4): a name git refuses, a
commit message beyond the argument limit, a commit git refuses for an
outside reason. A command that reports failure leaves nothing that a later
command commits, and every later write (cron `check` too) works.

Through the CLI on a real git store (the ``desk`` fixture)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import Desk

NOW = "2026-11-23T10:00:00+08:00"
LATER = "2026-11-23T18:00:00+08:00"


def _clean(desk: Desk) -> None:
    """Nothing staged, modified or untracked, and no journal left."""
    assert desk.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not (desk.root / ".git" / "elinkctl" / "journal.json").exists()


def _still_writable(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    desk.ok("comment", tid, "-m", "still writable", now=NOW)
    desk.ok("check", now=LATER)
    assert desk.run("fsck", now=LATER).exit_code == 0
    _clean(desk)


def test_an_actor_name_git_refuses_is_a_clean_error(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    commits = desk.commit_count()
    for name in (".", "...", ",;:", "<>", "a\nb", "\x1b[2J"):
        result = desk.run("--as", name, "comment", tid, "-m", "x", now=NOW)
        assert result.exit_code in (1, 2), result.output
        assert "Traceback" not in result.output
        assert "actor name" in result.stderr
        result = desk.run("new", "--title", "t", "--type", "failure", "--reporter", "r", user=name)
        assert result.exit_code in (1, 2)
    assert desk.commit_count() == commits
    _clean(desk)
    _still_writable(desk)


def test_a_signing_failure_leaves_nothing_behind(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    before = desk.ticket_path(tid).read_bytes()
    commits = desk.commit_count()
    desk.git("config", "commit.gpgsign", "true")
    desk.git("config", "gpg.program", "/bin/false")
    commented = desk.run("comment", tid, "-m", "never signed", now=NOW)
    assert commented.exit_code == 1 and "Traceback" not in commented.output
    assert len(commented.stderr.strip().splitlines()) == 1
    registered = desk.run("new", "--title", "t", "--type", "failure", "--reporter", "r", now=NOW)
    assert registered.exit_code == 1
    checked = desk.run("check", now=LATER)
    assert checked.exit_code == 1
    assert desk.ticket_path(tid).read_bytes() == before
    assert desk.commit_count() == commits
    _clean(desk)
    desk.git("config", "--unset", "commit.gpgsign")
    desk.ok("comment", tid, "-m", "signed off", now=NOW)
    log = desk.git("log", "--format=%s", f"-{desk.commit_count() - commits}")
    assert "never signed" not in log and "recovered" not in log
    _still_writable(desk)


def test_an_unfinished_merge_leaves_nothing_behind(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    before = desk.ticket_path(tid).read_bytes()
    head = desk.git("rev-parse", "HEAD").strip()
    (desk.root / ".git" / "MERGE_HEAD").write_text(head + "\n", encoding="utf-8")
    result = desk.run("comment", tid, "-m", "during a merge", now=NOW)
    assert result.exit_code == 1 and "Traceback" not in result.output
    new = desk.run("new", "--title", "t", "--type", "failure", "--reporter", "r", now=NOW)
    assert new.exit_code == 1
    assert desk.ticket_path(tid).read_bytes() == before
    fsck = desk.run("fsck", now=NOW)
    assert fsck.exit_code == 1 and "unfinished git merge" in fsck.stdout
    (desk.root / ".git" / "MERGE_HEAD").unlink()
    _clean(desk)
    desk.ok("comment", tid, "-m", "after the merge", now=NOW)
    assert "during a merge" not in desk.git("log", "--format=%B", "-3")
    _still_writable(desk)


def _alerts(n: int, tail: str = "x" * 60) -> str:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": f"DiskFull{i}",
                "instance": f"host{i}:9100",
                "severity": "critical",
            },
            "annotations": {"summary": f"disk full on host{i} {tail}"},
            "startsAt": "2026-11-23T01:00:00Z",
            "fingerprint": f"{i:016x}",
        }
        for i in range(n)
    ]
    return json.dumps({"version": "4", "status": "firing", "receiver": "x", "alerts": alerts})


def test_a_commit_message_beyond_the_argument_limit(desk: Desk, tmp_path: Path) -> None:
    # 1,200 alerts × ~130 bytes of message: more than one argument may hold (128 KiB).
    payload = tmp_path / "storm.json"
    payload.write_text(_alerts(1200), encoding="utf-8")
    result = desk.run("ingest", "alert", str(payload), now=NOW)
    assert result.exit_code == 0, result.stderr[-500:]
    assert len(result.stdout.split()) == 1200
    message = desk.git("log", "-1", "--format=%B")
    assert len(message.encode()) > 131072 and message.startswith("ingest alert: 1200 incidents")
    _clean(desk)
    # `check` catching up on all of them: one commit with a message as long.
    desk.ok("check", now=LATER)
    assert len(desk.git("log", "-1", "--format=%B").encode()) > 131072
    _still_writable(desk)


def test_the_porcelain_commit_takes_a_long_message_too(desk: Desk, tmp_path: Path) -> None:
    """A ``prepare-commit-msg`` hook makes the commit go through ``git commit``."""
    hook = desk.root / ".git" / "hooks" / "prepare-commit-msg"
    hook.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    hook.chmod(0o755)
    payload = tmp_path / "storm.json"
    payload.write_text(_alerts(1100, "y" * 80), encoding="utf-8")
    result = desk.run("ingest", "alert", str(payload), now=NOW)
    assert result.exit_code == 0, result.stderr[-500:]
    assert len(desk.git("log", "-1", "--format=%B").encode()) > 131072
    _clean(desk)


def test_a_journal_naming_a_refused_author_is_recovered(desk: Desk) -> None:
    """A journal left by an older version under a name git refuses is
    committed under elinkctl's name, not retried for ever."""
    tid = desk.new(now=NOW)
    path = desk.ticket_path(tid)
    rel = path.relative_to(desk.root).as_posix()
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    journal = {"paths": [rel], "message": "interrupted", "author": ".", "email": "x@y"}
    (desk.root / ".git" / "elinkctl" / "journal.json").write_text(json.dumps(journal))
    desk.ok("comment", tid, "-m", "next", now=NOW)
    authors = subprocess.run(
        ["git", "log", "--format=%an", "-2"], cwd=desk.root, capture_output=True, text=True
    ).stdout.split()
    assert authors == ["desk-wang", "elinkctl"]
    _clean(desk)


def test_a_refused_batch_is_undone_whole(desk: Desk, tmp_path: Path) -> None:
    """A `check` catching up on hundreds of tickets, then an alert storm,
    both refused by git: every file is put back (new ones removed)."""
    payload = tmp_path / "storm.json"
    payload.write_text(_alerts(300), encoding="utf-8")
    desk.ok("ingest", "alert", str(payload), now=NOW)
    before = {p: p.read_bytes() for p in (desk.root / "tickets").rglob("*.yaml")}
    desk.git("config", "commit.gpgsign", "true")
    desk.git("config", "gpg.program", "/bin/false")
    assert desk.run("check", now=LATER).exit_code == 1
    more = tmp_path / "more.json"
    storm = (
        _alerts(300, "z")
        .replace("DiskFull", "MemFull")
        .replace('"fingerprint": "0', '"fingerprint": "f')
    )
    more.write_text(storm, encoding="utf-8")
    assert desk.run("ingest", "alert", str(more), now=NOW).exit_code != 0
    assert {p: p.read_bytes() for p in (desk.root / "tickets").rglob("*.yaml")} == before
    _clean(desk)
    desk.git("config", "--unset", "commit.gpgsign")
    _still_writable(desk)


def test_a_p1_whose_commit_fails_leaves_no_notice_queued(desk: Desk) -> None:
    """A P1's 0h level is queued before the commit (so a crash cannot lose
    it); when git refuses the commit the incident does not exist, and no
    escalation or acknowledgement for it may stay in the outbox."""
    path = desk.root / "escalation.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("  pm: []", "  pm: [王五]").replace(
        "channels: {}", "channels: {hook: {type: webhook, url: 'http://127.0.0.1:9/hook'}}"
    )
    text = text.replace("people: {}", "people: {王五: {channels: [hook]}}")
    path.write_text(text, encoding="utf-8")
    desk.git("commit", "-q", "-m", "a PM with a webhook", "--", "escalation.yaml")
    desk.git("config", "commit.gpgsign", "true")
    desk.git("config", "gpg.program", "/bin/false")
    registered = desk.run(
        "new", "--title", "核心系统宕机", "--type", "failure", "--reporter", "r",
        "--priority", "P1", now=NOW,
    )  # fmt: skip
    assert registered.exit_code == 1 and "Traceback" not in registered.output
    pending = desk.root / ".git" / "elinkctl" / "outbox" / "pending"
    assert not pending.exists() or not list(pending.iterdir())
    outbox = desk.run("outbox", "list", "--json", now=NOW)
    assert json.loads(outbox.stdout or "[]") == []
    desk.git("config", "--unset", "commit.gpgsign")
    _still_writable(desk)
