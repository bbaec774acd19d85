"""Ticket files that git tracks but the work tree does not hold: read from their blobs.

In a sparse checkout (`git sparse-checkout set tickets/2026`, cone mode)
git keeps an index entry for every ticket but writes only the months in
the cone; the others carry the skip-worktree bit. ``git diff-files``
ignores those entries, so such a file is *tracked, absent and not reported
deleted*: exactly the case where its content is the blob its index entry
names (`elinkctl.cache.listing` keys it ``b:<blob>``). Reading it from that
blob answers as a full checkout would.

A full checkout never reaches this module: the readers come here only
after opening the file failed with "no such file", so the warm path of a
full clone costs nothing more.

One ``git cat-file --batch`` process per reading process serves every blob
(a request and an answer each, so memory holds one ticket at a time); the
bounds are the files' (`fsio.MAX_TICKET_BYTES`, refused before it is kept).
"""

from __future__ import annotations

import os
import subprocess
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from elinkctl import fsio

_MISSING = b" missing"


class BlobError(OSError):
    """A blob that cannot be read as a ticket file (missing, not a blob)."""


class Blobs:
    """Reads blobs of one repository through one long-lived ``git cat-file --batch``.

    Safe to share with forked worker processes: a process that did not
    start the pipe starts its own (the pipe of a parent is never used by two
    processes). Thread-safe within a process.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.read_count = 0
        """How many blobs this process read (for tests and the benchmark)."""

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._pid != os.getpid():
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
            )
            self._pid = os.getpid()
            # Ended with this reader (or at exit): git sees its input close and stops.
            weakref.finalize(self, _end, self._proc, self._pid)
        return self._proc

    def read(self, blob: str, limit: int = fsio.MAX_TICKET_BYTES) -> bytes:
        """The content of ``blob`` of at most ``limit`` bytes: a hex object
        ID, or ``<commit>:<path>`` (a file as a commit holds it).

        Raises `fsio.TooLarge` as `fsio.read_limited` does for a big file
        (the content is skipped, never kept), `BlobError` for an object that
        is missing or not a blob."""
        name, colon, path = blob.partition(":")
        if (
            not name
            or any(c not in "0123456789abcdef" for c in name)
            or (colon and (not path or "\n" in path or path.startswith("/")))
        ):
            raise BlobError(f"not an object name: {blob!r}")
        with self._lock:
            proc = self._process()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(blob.encode("ascii") + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline()
            except OSError as exc:
                self._proc = None
                raise BlobError(f"git cat-file failed: {exc}") from None
            if not header:
                self._proc = None
                raise BlobError("git cat-file stopped")
            if header.rstrip(b"\n").endswith(_MISSING):
                raise BlobError(f"object {blob} is not in this clone")
            fields = header.split()
            if len(fields) != 3 or not fields[2].isdigit():
                self._proc = None
                raise BlobError(f"unexpected answer from git cat-file: {header[:80]!r}")
            size = int(fields[2])
            if size > limit:
                _skip(proc, size + 1)
                raise fsio.TooLarge(f"{size:,} bytes, more than the {limit:,} a reader opens")
            data = _exactly(proc, size + 1)[:-1]
            self.read_count += 1
            if fields[1] != b"blob":
                raise BlobError(f"object {blob} is a {fields[1].decode('ascii', 'replace')}")
            return data

    def close(self) -> None:
        """End the ``cat-file`` process this process started (if any)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc, self._pid)


def _end(proc: subprocess.Popen[bytes], pid: int) -> None:
    """Close ``cat-file``'s input and reap it (only in the process that started it)."""
    if pid != os.getpid() or proc.returncode is not None:
        return
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
    proc.wait()


def _exactly(proc: subprocess.Popen[bytes], size: int) -> bytes:
    assert proc.stdout is not None
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = proc.stdout.read(left)
        if not part:
            raise BlobError("git cat-file stopped")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _skip(proc: subprocess.Popen[bytes], size: int) -> None:
    assert proc.stdout is not None
    left = size
    while left > 0:
        part = proc.stdout.read(min(left, 1 << 16))
        if not part:
            raise BlobError("git cat-file stopped")
        left -= len(part)


def is_sparse(git_dir: Path) -> bool:
    """Whether this clone has a sparse checkout configured: its
    ``info/sparse-checkout`` file exists (git's own switch is
    ``core.sparseCheckout``; the file is what `sparse-checkout set` writes,
    and a stat answers without a git process)."""
    return (git_dir / "info" / "sparse-checkout").is_file()


_READERS: dict[str, Blobs] = {}


def reader(root: Path) -> Blobs:
    """The one `Blobs` of the repository at ``root`` in this process."""
    key = str(root)
    found = _READERS.get(key)
    if found is None:
        found = _READERS[key] = Blobs(root)
    return found


def skipped_files(git_dir: Path, run: Callable[..., bytes], *tops: str) -> dict[str, str]:
    """path -> blob of the files under the folders ``tops`` that a sparse
    checkout leaves out of the work tree (index entries with the
    skip-worktree bit, plain files, merged); nothing without a sparse
    checkout (no git process)."""
    if not is_sparse(git_dir):
        return {}
    found: dict[str, str] = {}
    listed = run("ls-files", "-v", "-s", "-z", "--", *(f"{top}/" for top in tops))
    for entry in listed.decode("utf-8", "surrogateescape").split("\0"):
        head, tab, path = entry.partition("\t")
        fields = head.split(" ")
        # "S 100644 <blob> 0": skip-worktree, a plain file, stage 0.
        if tab and len(fields) == 4 and fields[0] == "S" and fields[3] == "0":
            if fields[1] in ("100644", "100755"):
                found[path] = fields[2]
    return found


FETCH_ABOVE = 16
"""Blobs to read beyond which a partial clone fetches them in one request first."""


def fetch_missing(root: Path, blobs: list[str]) -> None:
    """In a partial clone (``git clone --filter=blob:none``), fetch ``blobs``
    from the promisor remote in one request before they are read: git would
    otherwise fetch each on first read, one request at a time (30 ms each
    over ``file://``: an hour for 200,000 tickets outside the cone). The
    request is the one git's own lazy fetch makes, batched. Anything that
    fails leaves git's lazy fetch to do it; nothing in a clone that is not
    partial, and nothing for a few blobs."""
    if len(blobs) <= FETCH_ABOVE:
        return
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        found = subprocess.run(
            ["git", "config", "--get-regexp", r"^remote\..*\.promisor$"],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
        )
        remotes = [
            name.removeprefix("remote.").removesuffix(".promisor")
            for name, _, value in (line.partition(" ") for line in found.stdout.splitlines())
            if value.strip().lower() == "true"
        ]
        if not remotes:
            return
        subprocess.run(
            ["git", "-c", "fetch.negotiationAlgorithm=noop", "fetch", remotes[0], "--no-tags"]
            + ["--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"],
            cwd=root,
            input="".join(f"{blob}\n" for blob in blobs),
            capture_output=True,
            text=True,
            env=env,
        )
    except OSError:
        return
