"""Helpers for tests that run the real CLI in subprocesses against real git
repositories: a bare "shared remote", clones of it, and parallel writers.

The autouse fixture in conftest.py has already pointed HOME and git's
global config at a temporary directory; subprocesses inherit that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from elinkctl.domain import ticketfile
from elinkctl.domain.model import Ticket

ELINKCTL = [sys.executable, "-m", "elinkctl"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def env_for(store: Path, user: str, now: str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ELINKCTL_STORE=str(store), ELINKCTL_USER=user, ELINKCTL_LOCK_TIMEOUT="60")
    if now:
        env["ELINKCTL_NOW"] = now
    env.update(extra)
    return env


def run(
    store: Path, *args: str, user: str = "desk-wang", now: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """One elinkctl command as its own process."""
    proc = subprocess.run(
        [*ELINKCTL, *args], env=env_for(store, user, now), capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"elinkctl {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    return proc


def spawn(
    store: Path, *args: str, user: str = "desk-wang", now: str | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ELINKCTL, *args],
        env=env_for(store, user, now),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Shared:
    """A bare remote and the clones of it."""

    remote: Path
    clones: list[Path]


def shared_desk(tmp: Path, clones: int) -> Shared:
    """`elinkctl init`, push to a bare remote, then plain `git clone`s of it."""
    origin = tmp / "seed"
    init = [*ELINKCTL, "init", str(origin), "--as", "setup"]
    subprocess.run(init, check=True, capture_output=True)
    remote = tmp / "remote.git"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(origin, "remote", "add", "origin", str(remote))
    git(origin, "push", "--quiet", "-u", "origin", "main")
    paths = [origin]
    for i in range(1, clones):
        path = tmp / f"clone{i}"
        git(tmp, "clone", "--quiet", str(remote), str(path))
        paths.append(path)
    return Shared(remote, paths)


def tickets(store: Path) -> dict[str, Ticket]:
    out = {}
    for path in sorted((store / "tickets").rglob("INC-*.yaml")):
        out[path.stem] = ticketfile.loads(path.read_text(encoding="utf-8"))
    return out


def fsck_clean(store: Path) -> None:
    proc = run(store, "fsck", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = git(store, "status", "--porcelain", "--untracked-files=no")
    assert status == "", f"index or worktree not clean: {status}"
    for path in (store / "tickets").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "<<<<<<<" not in text and ">>>>>>>" not in text, path


# `python -c KILL_AFTER STEP ARGS…` runs `elinkctl ARGS…` and SIGKILLs itself right
# after the commit step STEP completes (`gitrepo.STEP_HOOK`, the test seam).
KILL_AFTER = """
import os, signal, sys
from elinkctl.store import gitrepo

step = sys.argv[1]

def die_after(done):
    if done == step:
        os.kill(os.getpid(), signal.SIGKILL)

gitrepo.STEP_HOOK = die_after
from elinkctl.entry import main

sys.argv = ["elinkctl", *sys.argv[2:]]
main()
"""
