"""The store's history of ticket files, read in bulk: one `git log` pass for
every commit that changed a ticket, one `git cat-file --batch` for the file
versions wanted.

`audit` reads the whole history; one git call per ticket would cost minutes
at 100,000 tickets, so the log is read once (``--raw -z``: each commit's
author, date and the blobs it changed) and the blobs are streamed through a
single process, in the order asked. Merge commits are left out (``sync``'s
merges are made by the merge driver; the commits they join are read on
their own), and ``--full-history`` keeps git from pruning side branches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from elinkctl.domain.recorded import Commit
from elinkctl.errors import StoreError

_NULL = "0" * 40


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One ticket file changed by one commit (``commit`` indexes the commit list)."""

    commit: int
    path: str
    old: str | None  # blob before (None: the commit added the file)
    new: str | None  # blob after (None: the commit deleted it)


def ticket_changes(root: Path) -> tuple[list[Commit], list[FileChange]]:
    """Every non-merge commit that changed a ticket file, oldest first, and
    what it changed."""
    proc = subprocess.run(
        [
            "git", "-c", "core.quotePath=false", "log", "--no-merges", "--full-history",
            "--reverse", "--raw", "-z", "--no-renames", "--no-abbrev", "--date=iso-strict",
            "--format=%x02%H %ad %aN", "--", "tickets/",
        ],
        cwd=root,
        capture_output=True,
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip()
        if "does not have any commits" in detail:
            return [], []
        raise StoreError(f"git log failed: {detail.replace(chr(10), ' ')}")
    commits: list[Commit] = []
    changes: list[FileChange] = []
    for chunk in proc.stdout.split(b"\x02")[1:]:
        header, _, rest = chunk.partition(b"\0")
        sha, date, author = header.decode("utf-8", "replace").split(" ", 2)
        index = len(commits)
        commits.append(Commit(sha, dt.datetime.fromisoformat(date), author.strip()))
        parts = rest.lstrip(b"\n").split(b"\0")
        for meta, raw_path in zip(parts[::2], parts[1::2], strict=False):
            fields = meta.decode("ascii", "replace").split()
            path = raw_path.decode("utf-8", "replace")
            if len(fields) < 5 or not path.endswith(".yaml"):
                continue
            old, new = fields[2], fields[3]
            changes.append(
                FileChange(
                    index, path, None if old == _NULL else old, None if new == _NULL else new
                )
            )
    return commits, changes


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
