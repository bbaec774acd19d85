"""A store shared by several Unix users, with two real users (root only).

The admin's recipe of docs/administration.md ("Shared stores"): a group,
``core.sharedRepository=group``, group-writable folders with the setgid
bit, ``safe.directory``. Then each user writes in turn — the lock, the
journal, the index, the outbox and new ticket folders created by one are
usable by the other. Without the recipe, the second user gets one line
naming the path and the fix, never a traceback.

Skipped unless run as root with useradd/runuser, and a Python the test
users can execute (the venv's own, or the system's python of the same
version with the venv's packages on PYTHONPATH).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
GROUP = "elkdesk-t"
USERS = ("elk-mail-t", "elk-cron-t")
NOW = "2026-11-23T10:30:00+08:00"

pytestmark = pytest.mark.skipif(
    os.name != "posix"
    or os.geteuid() != 0
    or not all(shutil.which(t) for t in ("useradd", "groupadd", "userdel", "runuser")),
    reason="needs root, useradd and runuser (real Unix users)",
)


def _python_for(user: str) -> list[str] | None:
    """An interpreter ``user`` can run with elinkctl importable, else None."""
    site = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not os.path.exists(exe):
            continue
        probe = subprocess.run(
            [
                "runuser",
                "-u",
                user,
                "--",
                "env",
                f"PYTHONPATH={SRC}:{site}",
                exe,
                "-c",
                "import elinkctl.cli",
            ],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return [exe, "-m", "elinkctl"]
    return None


@pytest.fixture(scope="module")
def users() -> Iterator[list[str]]:
    subprocess.run(["groupadd", "-f", GROUP], check=True)
    made = []
    for user in USERS:
        if subprocess.run(["id", user], capture_output=True, check=False).returncode:
            subprocess.run(["useradd", "-M", "-N", "-g", GROUP, "-s", "/bin/sh", user], check=True)
            made.append(user)
    try:
        python = _python_for(USERS[0])
        if python is None:
            pytest.skip("no Python the test users can execute")
        yield python
    finally:
        for user in made:
            subprocess.run(["userdel", user], check=False)
        subprocess.run(["groupdel", GROUP], check=False, capture_output=True)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="elk-shared-"))
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def home_of(top: Path, user: str) -> Path:
    home = top / f"home-{user}"
    if not home.exists():
        home.mkdir()
        shutil.chown(home, user, GROUP)
    return home


def as_user(
    python: list[str], top: Path, user: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run elinkctl as ``user`` with its own HOME and git config, umask 022."""
    home = home_of(top, user)
    site = sysconfig.get_paths()["purelib"]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PYTHONPATH": f"{SRC}:{site}",
        "ELINKCTL_NOW": NOW,
        "ELINKCTL_LOCK_TIMEOUT": "10",
    }
    argv = ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items())]
    done = subprocess.run(
        [*argv, "sh", "-c", 'umask 022; exec "$@"', "sh", *python, *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


MAIL = (
    "From: 王喆 <wangzhe@fin.example.cn>\nTo: servicedesk@example.cn\n"
    "Subject: 打印机卡纸\nMessage-ID: <p1@fin.example.cn>\n"
    "Content-Type: text/plain; charset=utf-8\n\n三楼打印机卡纸。\n"
).encode()


@pytest.mark.parametrize("how", ["recipe", "init --shared"])
def test_a_group_shared_store_works_for_two_users(
    users: list[str], shared_dir: Path, how: str
) -> None:
    python, (mail, cron) = users, USERS
    store = shared_dir / "desk"
    store.mkdir()
    shutil.chown(store, cron, GROUP)
    if how == "init --shared":
        ok(
            as_user(
                python,
                shared_dir,
                cron,
                "init",
                str(store),
                "--as",
                "admin",
                "--shared",
                "--group",
                GROUP,
            )
        )
    else:
        ok(as_user(python, shared_dir, cron, "init", str(store), "--as", "admin"))
        # The admin's recipe (docs/administration.md, Shared stores).
        git = ["git", "-c", "safe.directory=*", "-C", str(store)]
        subprocess.run([*git, "config", "core.sharedRepository", "group"], check=True)
        subprocess.run(["chgrp", "-R", GROUP, str(store)], check=True)
        subprocess.run(["chmod", "-R", "g+rwX", str(store)], check=True)
        for folder in [store, *(p for p in store.rglob("*") if p.is_dir())]:
            folder.chmod(folder.stat().st_mode | stat.S_ISGID)
    for user in (mail, cron):
        home = home_of(shared_dir, user)
        (home / ".gitconfig").write_text(f"[safe]\n\tdirectory = {store}\n")

    # cron's user registers and checks; the mail user's intake then uses the
    # lock, index, journal and ticket folders it created, and the other way round.
    first = ok(
        as_user(
            python,
            shared_dir,
            cron,
            "--store",
            str(store),
            "--as",
            "小王",
            "new",
            "--title",
            "财务系统无法登录",
            "--type",
            "failure",
            "--reporter",
            "张三",
        )
    ).strip()
    ok(as_user(python, shared_dir, cron, "--store", str(store), "check"))
    second = ok(
        as_user(
            python,
            shared_dir,
            mail,
            "--store",
            str(store),
            "--as",
            "mail-intake",
            "ingest",
            "email",
            stdin=MAIL,
        )
    ).strip()
    ok(as_user(python, shared_dir, mail, "--store", str(store), "--as", "小王", "accept", first))
    ok(
        as_user(
            python,
            shared_dir,
            cron,
            "--store",
            str(store),
            "--as",
            "小王",
            "comment",
            second,
            "-m",
            "已通知行政",
        )
    )
    ok(as_user(python, shared_dir, cron, "--store", str(store), "check"))
    listing = ok(as_user(python, shared_dir, mail, "--store", str(store), "list"))
    assert first in listing and second in listing
    assert second in ok(as_user(python, shared_dir, mail, "--store", str(store), "log", second))
    ok(as_user(python, shared_dir, mail, "--store", str(store), "fsck"))

    state = store / ".git" / "elinkctl"
    for path in [state / "lock", *state.rglob("*")]:
        if path.is_file():
            assert path.stat().st_mode & 0o060 == 0o060, f"{path} is not group-writable"


def test_an_unshared_store_fails_with_one_line_naming_path_and_fix(
    users: list[str], shared_dir: Path
) -> None:
    python, (mail, cron) = users, USERS
    store = shared_dir / "desk"
    store.mkdir()
    shutil.chown(store, cron, GROUP)
    ok(as_user(python, shared_dir, cron, "init", str(store), "--as", "admin"))
    ok(
        as_user(
            python,
            shared_dir,
            cron,
            "--store",
            str(store),
            "--as",
            "小王",
            "new",
            "--title",
            "打印机卡纸",
            "--type",
            "failure",
            "--reporter",
            "张三",
        )
    )

    # git's own guard first: one line with the safe.directory command.
    listed = as_user(python, shared_dir, mail, "--store", str(store), "log", "INC")
    assert listed.returncode == 1
    assert "Traceback" not in listed.stderr
    assert listed.stderr.count("\n") == 1, listed.stderr

    # Trusted, but not group-writable: the path and the chmod/chgrp fix, exit 75 for Postfix.
    home = home_of(shared_dir, mail)
    (home / ".gitconfig").write_text(f"[safe]\n\tdirectory = {store}\n")
    done = as_user(
        python,
        shared_dir,
        mail,
        "--store",
        str(store),
        "--as",
        "mail-intake",
        "ingest",
        "email",
        stdin=MAIL,
    )
    assert done.returncode == 75, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "permission denied" in line and str(store) in line
    assert "core.sharedRepository group" in line and "chmod -R g+rwX" in line
    comment = as_user(
        python, shared_dir, mail, "--store", str(store), "--as", "小王", "comment", "INC", "-m", "x"
    )
    assert comment.returncode == 1 and "Traceback" not in comment.stderr
