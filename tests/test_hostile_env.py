"""Arguments and environments (issue 18 item 7): bytes that are not UTF-8 in
an argument, `init` in an impossible place, a store without read or write
permission. One line on stderr, no traceback; a healthy store stays
writable. Real subprocesses of the console script (the argument check is in
`elinkctl.entry`), and, when the tests run as root, the permission cases
under ``setpriv`` with the capabilities that let root ignore file modes
dropped."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Desk

NOW = "2026-11-23T10:00:00+08:00"


def run(
    binary: str, env: dict[str, str], *args: str | bytes, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[bytes]:
    argv: list[str | bytes] = [*prefix, binary, *args]
    return subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)


def one_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in proc.stderr, err
    lines = [ln for ln in err.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        (b"new", b"--title", b"\xff\xfe", b"--type", b"failure", b"--reporter", b"r"),
        (b"new", b"--title", b"ok", b"--type", b"failure", b"--reporter", b"\xe4\xb8"),
        (b"show", b"\xff"),
        (b"--as", b"\xc3", b"comment", b"X", b"-m", b"y"),
        (b"list", b"--system", b"\x80"),
        (b"ingest", b"email", b"/tmp/\xff.eml"),
    ],
)
def test_an_argument_that_is_not_utf8(
    desk: Desk, elinkctl_bin: str, subprocess_env: dict[str, str], args: tuple[bytes, ...]
) -> None:
    commits = desk.commit_count()
    proc = run(elinkctl_bin, subprocess_env, *args)
    assert proc.returncode == 2
    assert "not valid UTF-8" in one_line(proc)
    assert desk.commit_count() == commits
    assert desk.git("status", "--porcelain") == ""
    desk.new(now=NOW)


def test_an_environment_that_is_not_utf8(
    desk: Desk, elinkctl_bin: str, subprocess_env: dict[str, str]
) -> None:
    env = {k: v for k, v in subprocess_env.items() if k != "ELINKCTL_USER"}
    env_b: dict[bytes, bytes] = {k.encode(): v.encode() for k, v in env.items()}
    env_b[b"ELINKCTL_USER"] = b"\xff"
    proc = subprocess.run(
        [elinkctl_bin, "new", "--title", "t", "--type", "failure", "--reporter", "r"],
        env=env_b,  # type: ignore[arg-type]
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "ELINKCTL_USER is not valid UTF-8" in one_line(proc)


@pytest.mark.parametrize(
    "place",
    ["/proc/elinkctl-store", "/dev/null/store", "{file}/store", "{file}"],
)
def test_init_in_an_impossible_place(
    tmp_path: Path, elinkctl_bin: str, subprocess_env: dict[str, str], place: str
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x", encoding="utf-8")
    target = place.format(file=afile)
    proc = run(elinkctl_bin, subprocess_env, "init", target)
    assert proc.returncode in (1, 2)
    one_line(proc)
    assert afile.read_text(encoding="utf-8") == "x"


def _unprivileged() -> tuple[str, ...]:
    """A prefix that runs a command as root without the right to ignore file
    modes, or () when that is not possible here."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return ()
    caps = "-dac_override,-dac_read_search,-fowner"
    prefix = (setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}")
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return prefix if probe.returncode == 0 else ()


@pytest.mark.parametrize("where", ["store", "tickets", "month", "ticket", "state", "readonly"])
def test_a_store_without_permission(
    desk: Desk, elinkctl_bin: str, subprocess_env: dict[str, str], where: str
) -> None:
    prefix = _unprivileged()
    if not prefix:
        pytest.skip("needs root and setpriv to take file-mode privileges away")
    tid = desk.new(now=NOW)
    path = desk.ticket_path(tid)
    target, mode = {
        "store": (desk.root, 0o700),
        "tickets": (desk.root / "tickets", 0o700),
        "month": (path.parent, 0o700),
        "ticket": (path, 0o000),
        "state": (desk.root / ".git" / "elinkctl", 0o500),
        "readonly": (desk.root, 0o555),
    }[where]
    before = target.stat().st_mode
    commits = desk.commit_count()
    # Owned by someone else, so the mode applies to the unprivileged root.
    os.chown(target, 4321, 4321)
    target.chmod(mode)
    if where == "readonly":
        for sub in (desk.root / "tickets", path.parent.parent, path.parent):
            os.chown(sub, 4321, 4321)
            sub.chmod(0o555)
    try:
        for args in (("list",), ("show", tid), ("comment", tid, "-m", "x"), ("check",), ("fsck",)):
            proc = run(elinkctl_bin, subprocess_env, *args, prefix=prefix)
            assert b"Traceback" not in proc.stderr, (args, proc.stderr.decode())
            if proc.returncode != 0:
                one_line(proc) if args[0] != "fsck" else None
        fsck = run(elinkctl_bin, subprocess_env, "fsck", prefix=prefix)
        if where in ("tickets", "month", "ticket"):
            assert fsck.returncode == 1  # fsck never passes a store commands cannot read
            assert b"cannot read" in fsck.stdout + fsck.stderr
    finally:
        target.chmod(before & 0o7777)
        os.chown(target, os.getuid(), os.getgid())
        if where == "readonly":
            for sub in (desk.root / "tickets", path.parent.parent, path.parent):
                sub.chmod(0o755)
                os.chown(sub, os.getuid(), os.getgid())
    assert desk.git("status", "--porcelain") == ""
    assert desk.commit_count() == commits  # nothing was half-written meanwhile
    desk.ok("comment", tid, "-m", "writable again", now=NOW)


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00-12:00", "9999-12-31T23:59:59+14:00"])
def test_elinkctl_now_at_the_ends_of_time(desk: Desk, now: str) -> None:
    tid = desk.new(now=NOW)
    for args in (("check",), ("list",), ("comment", tid, "-m", "x")):
        result = desk.run(*args, now=now)
        assert result.exit_code == 2 and "outside the years" in result.stderr
    desk.ok("check", now=NOW)


@pytest.mark.parametrize("at", ["1999-05-01T10:00:00+08:00", "2100-01-01T10:00:00+08:00"])
def test_an_opening_time_no_id_can_name_is_refused(desk: Desk, at: str) -> None:
    """INC-990501-… read back as 2099 and was filed under tickets/2099/."""
    commits = desk.commit_count()
    for option in ("--at", "--opened-at"):
        args = ("new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "张三")
        result = desk.run(*args, "--priority", "P1", option, at, now=NOW)
        assert result.exit_code == 2, result.output
        assert "an incident ID names a year within 2000–2099" in result.stderr
    assert desk.commit_count() == commits
    assert not list((desk.root / "tickets").glob("*/*/*.yaml"))
