"""The store's history of ticket files, read in bulk: one `git log` pass for
every commit that changed a ticket, one `git cat-file --batch` for the file
versions wanted.

`audit` reads the whole history; one git call per ticket would cost minutes
at 100,000 tickets, so the log is read once (``--raw -z``: each commit's
author, date and the blobs it changed) and the blobs are streamed through a
single process, in the order asked. Merge commits are left out (``sync``'s
merges are made by the merge driver; the commits they join are read on
their own). The log is not limited to ``tickets/``: a path limit would make
git simplify history (pruning side branches) and costs twice the time,
while nearly every commit of a store touches a ticket anyway.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from elinkctl.domain.recorded import Commit
from elinkctl.errors import StoreError

_NULL = "0" * 40


@dataclasses.dataclass(frozen=True, slots=True)
class FileChange:
    """One ticket file changed by one commit (``commit`` indexes the commit list)."""

    commit: int
    path: str
    old: str | None  # blob before (None: the commit added the file)
    new: str | None  # blob after (None: the commit deleted it)


def head_commit(root: Path) -> str | None:
    """The commit HEAD names (None: no commit yet)."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=root, capture_output=True, text=True
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    """Whether ``older`` is in ``newer``'s history (False when it is unknown)."""
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", older, newer], cwd=root, capture_output=True
    )
    return proc.returncode == 0


def ticket_changes(
    root: Path, head: str = "HEAD", since: str | None = None
) -> tuple[list[Commit], list[FileChange]]:
    """Every non-merge commit up to ``head`` (after ``since``) that changed a
    ticket file, oldest first, and what it changed."""
    revisions = f"{since}..{head}" if since else head
    with tempfile.TemporaryFile() as errors:  # a file: git never waits on a full pipe
        return _log(root, revisions, errors)


def _log(root: Path, revisions: str, errors: IO[bytes]) -> tuple[list[Commit], list[FileChange]]:
    commits: list[Commit] = []
    changes: list[FileChange] = []
    with subprocess.Popen(
        [
            "git", "-c", "core.quotePath=false", "log", "--no-merges", "--reverse", "--raw",
            "-z", "--no-renames", "--no-abbrev", "--date=iso-strict", "--format=%x02%H %ad %aN",
            revisions, "--",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=errors,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        pending = b""
        while True:  # streamed: the log of a long history is never held whole
            block = proc.stdout.read(1 << 20)
            pending += block
            chunks = pending.split(b"\x02")
            pending = chunks.pop() if block else b""
            for chunk in chunks:
                if chunk:
                    _parse(chunk, commits, changes)
            if not block:
                break
    if proc.returncode != 0:
        errors.seek(0)
        detail = errors.read().decode("utf-8", "replace").strip()
        if "does not have any commits" in detail:
            return [], []
        raise StoreError(f"git log failed: {detail.replace(chr(10), ' ')}")
    return commits, changes


def _parse(chunk: bytes, commits: list[Commit], changes: list[FileChange]) -> None:
    """One commit of the log: kept only when it changed a ticket file. Names
    are interned: each blob name appears twice (after one commit, before the
    next) and each path once per version."""
    header, _, rest = chunk.partition(b"\0")
    parts = rest.lstrip(b"\n").split(b"\0")
    index = len(commits)
    for meta, raw_path in zip(parts[::2], parts[1::2], strict=False):
        if not raw_path.startswith(b"tickets/") or not raw_path.endswith(b".yaml"):
            continue
        fields = meta.decode("ascii", "replace").split()
        if len(fields) < 5:
            continue
        if index == len(commits):
            sha, date, author = header.decode("utf-8", "replace").split(" ", 2)
            commits.append(Commit(sha, dt.datetime.fromisoformat(date), author.strip()))
        old, new = fields[2], fields[3]
        changes.append(
            FileChange(
                index,
                sys.intern(raw_path.decode("utf-8", "replace")),
                None if old == _NULL else sys.intern(old),
                None if new == _NULL else sys.intern(new),
            )
        )


def read_blobs(root: Path, shas: Sequence[str]) -> Iterator[bytes | None]:
    """The content of each blob, in order (None: missing), through one
    ``git cat-file --batch``; a thread feeds the names so neither pipe fills."""
    if not shas:
        return
    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def feed() -> None:
        try:
            for start in range(0, len(shas), 512):
                stdin.write("".join(f"{s}\n" for s in shas[start : start + 512]).encode())
            stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for _ in shas:
            header = stdout.readline()
            if not header:
                raise StoreError("git cat-file ended early")
            fields = header.split()
            if len(fields) != 3:  # "<sha> missing"
                yield None
                continue
            size = int(fields[2])
            data = stdout.read(size)
            stdout.read(1)  # the newline after the content
            yield data
    finally:
        writer.join(timeout=5)
        stdout.close()
        proc.kill()
        proc.wait()
