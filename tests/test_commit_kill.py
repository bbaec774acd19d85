"""A writer SIGKILLed at each step of the plumbing commit (`Git.commit_paths`):
the next command finishes the interrupted one, nothing is lost or doubled.

The kill is real: the writer runs as its own process whose
`gitrepo.STEP_HOOK` kills it right after the named step completes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gitfixtures import KILL_AFTER, env_for, fsck_clean, git, run, tickets

NOW = "2026-11-23T12:00:00+08:00"


STEPS = [
    # (the step the writer dies right after, whether HEAD had moved by then)
    ("hash_files", False),  # blobs written
    ("write_trees", False),  # trees written
    ("commit_tree", False),  # commit object written, HEAD not moved
    ("move_head", True),  # HEAD moved, git's index not updated
    ("update_index", True),  # index updated, journal still there
]


def _killed(store: Path, step: str, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER, step, *args],
        env=env_for(store, "eng", NOW),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _store(tmp_path: Path) -> tuple[Path, str]:
    store = tmp_path / "desk"
    run(tmp_path, "init", str(store))
    ticket_id = run(
        store, "new", "--title", "现场", "--type", "failure", "--reporter", "张三", now=NOW
    ).stdout.strip()
    return store, ticket_id


@pytest.mark.parametrize(("step", "moved"), STEPS)
def test_killed_comment_is_finished_by_the_next_command(
    tmp_path: Path, step: str, moved: bool
) -> None:
    store, ticket_id = _store(tmp_path)
    before = len(git(store, "log", "--format=%s").splitlines())
    _killed(store, step, "comment", ticket_id, "-m", "killed")
    assert (store / ".git" / "elinkctl" / "journal.json").exists()
    log = git(store, "log", "--format=%s").splitlines()
    assert len(log) == before + (1 if moved else 0)
    if step == "move_head":
        # The point between update-ref and the index update: HEAD has the
        # comment, git's index still the old ticket (it looks staged-reverted).
        assert git(store, "diff", "--cached", "--name-only") != ""
        assert git(store, "diff", "HEAD", "--name-only") == ""

    run(store, "comment", ticket_id, "-m", "next", now=NOW)

    found = Counter(
        str(e.get("text")) for e in tickets(store)[ticket_id].events if e.type == "commented"
    )
    assert found == Counter(["killed", "next"])
    subjects = git(store, "log", "--format=%s").splitlines()
    recovered = [s for s in subjects if s.endswith("(recovered after interruption)")]
    assert len(recovered) == (0 if moved else 1)
    assert len(subjects) == before + 2
    _clean(store)


@pytest.mark.parametrize(("step", "moved"), STEPS)
def test_killed_registration_is_finished_by_the_next_command(
    tmp_path: Path, step: str, moved: bool
) -> None:
    store, first = _store(tmp_path)
    before = len(git(store, "log", "--format=%s").splitlines())
    _killed(store, step, "new", "--title", "被杀", "--type", "failure", "--reporter", "李四")
    (new_id,) = set(tickets(store)) - {first}
    if step == "move_head":
        # HEAD has the new ticket, git's index does not: it looks staged-deleted.
        assert git(store, "status", "--porcelain").splitlines() == [
            f"D  tickets/2026/11/{new_id}.yaml",
            f"?? tickets/2026/11/{new_id}.yaml",
        ]

    run(store, "comment", first, "-m", "next", now=NOW)

    assert set(tickets(store)) == {first, new_id}
    assert tickets(store)[new_id].title == "被杀"
    subjects = git(store, "log", "--format=%s").splitlines()
    assert len(subjects) == before + 2
    assert sum(s.endswith("(recovered after interruption)") for s in subjects) == (
        0 if moved else 1
    )
    assert git(store, "ls-files", "--", f"tickets/2026/11/{new_id}.yaml") != ""
    _clean(store)


def _clean(store: Path) -> None:
    fsck_clean(store)
    assert git(store, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(store, "diff", "HEAD", "--stat") == ""
    assert not (store / ".git" / "elinkctl" / "journal.json").exists()
    assert not (store / ".git" / "index.lock").exists()
    assert not list((store / ".git" / "elinkctl").glob(".*.tmp"))
    git(store, "fsck", "--no-progress")


def test_a_stop_after_update_ref_is_repaired_by_a_command_on_another_ticket(
    tmp_path: Path,
) -> None:
    """The next command repairs git's index whatever ticket it writes."""
    store, first = _store(tmp_path)
    second = run(
        store, "new", "--title", "另一个", "--type", "failure", "--reporter", "王五", now=NOW
    ).stdout.strip()
    _killed(store, "move_head", "comment", first, "-m", "killed")
    run(store, "comment", second, "-m", "other ticket", now=NOW)
    assert git(store, "status", "--porcelain") == ""
    assert [e.get("text") for e in tickets(store)[first].events if e.type == "commented"] == [
        "killed"
    ]
    _clean(store)
