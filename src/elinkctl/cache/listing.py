"""What git and the file system say about the ticket files right now.

A `Snapshot` holds git's answers for one index check (`take`): the blob ID
of every tracked ticket (``git ls-files -s``, cut per month directory by
`split_listing`) and the tracked files changed or deleted in the work tree
(``git diff-files``, which lstat()s every file, racy-git safe). Untracked
ticket files come from the month directories themselves (`dir_sigs`,
`untracked_in`, `scan_untracked`).

From these a ticket file's content key is made: ``b:<blob>`` for a clean
file, its stat data for a dirty or untracked one (`stat_key`). A cached
value is trusted only under the key it was made from.

Paths here are POSIX paths relative to the store root; `is_ticket_path` is
exactly the set of files `Store.ticket_paths` yields.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from elinkctl.cache import prefetch
from elinkctl.domain.layout import TICKETS

TICKETS_PREFIX = f"{TICKETS}/"
RACY_NS = prefetch.RACY_NS
"""A dirty file modified this recently may change again within the same
mtime tick; its key is marked racy (``r:``) so it is read again next time."""

Git = Callable[..., list[bytes]]
"""Runs several git commands (argument tuples) concurrently; their outputs."""


def listing_digest(data: bytes) -> str:
    """The 40-character digest of git's listing or of one month's chunk of it."""
    from elinkctl.fsio import digest

    return digest(data, size=40)


@dataclasses.dataclass
class Snapshot:
    """What git and the file system say right now.

    ``tracked`` is the raw ``git ls-files -s -z`` output; while its digest
    and the dirty set are what the index last saw, nothing changed and no
    per-file work is needed (the warm path at 100,000 tickets). When git's
    index file is the one whose listing was recorded (`prefetch.record`) the
    listing is not even produced: ``known_digest`` stands for it.
    ``untracked`` is filled in by the index from directory stat data
    (`dir_sigs`), or by a full directory scan when first needed.
    """

    root: Path
    raw_listing: bytes | None
    modified: set[str]
    deleted: set[str]
    untracked: set[str] | None = None
    fetch_listing: Callable[[], tuple[str | None, bytes]] | None = None
    """Runs ``ls-files`` when the listing was skipped (git's index file had
    not changed) but is needed after all; returns (index signature, listing)."""
    known_digest: str | None = None
    sig: str | None = None
    """git's index file signature taken before the listing was made."""
    _keys: dict[str, str] | None = None

    @property
    def tracked(self) -> bytes:
        """The raw listing (fetched now if it was skipped)."""
        if self.raw_listing is None:
            assert self.fetch_listing is not None
            self.sig, self.raw_listing = self.fetch_listing()
            self.known_digest = None
        return self.raw_listing

    @property
    def digest(self) -> str:
        if self.raw_listing is None and self.known_digest is not None:
            return self.known_digest
        if self.known_digest is None:
            self.known_digest = listing_digest(self.tracked)
        return self.known_digest

    @property
    def keys(self) -> dict[str, str]:
        """path -> content key of every ticket file: ``b:<blob>`` for clean
        files, stat data for dirty ones (a full parse of git's listing)."""
        if self._keys is None:
            keys, unmerged = listing_keys(self.tracked)
            if self.untracked is None:
                self.untracked = scan_untracked(self.root, set(keys))
            dirty = self.modified | self.untracked | unmerged
            for path in self.deleted:
                keys.pop(path, None)
                dirty.discard(path)
            now_ns = time.time_ns()
            for path in sorted(dirty):
                key = stat_key(self.root, path, now_ns)
                if key is None:
                    keys.pop(path, None)
                else:
                    keys[path] = key
            self._keys = keys
        return self._keys


def take(root: Path, git: Git) -> Snapshot:
    """A snapshot of the store at ``root``: the git calls `prefetch` started
    when the process began if there are any, else two concurrent ones now."""
    where = str(root)
    raw = prefetch.take(where)
    if raw is None:
        raw = prefetch.run_snapshot(where, git)
    modified: set[str] = set()
    deleted: set[str] = set()
    fields = raw.changes.split(b"\0")
    for status, name in zip(fields[0::2], fields[1::2], strict=False):
        path = name.decode("utf-8", "surrogateescape")
        if is_ticket_path(path):
            (deleted if status == b"D" else modified).add(path)

    def fetch_listing() -> tuple[str | None, bytes]:
        sig = prefetch.index_sig(where)
        return sig, git(prefetch.LISTING)[0]

    return Snapshot(
        root,
        raw.listing,
        modified,
        deleted,
        fetch_listing=fetch_listing,
        known_digest=raw.digest,
        sig=raw.sig,
    )


def record(snap: Snapshot) -> None:
    """Let the next check skip ``ls-files`` while git's index file stays the same."""
    if snap.raw_listing is not None and snap.sig is not None:
        prefetch.record(str(snap.root), snap.sig, snap.digest)


# --- content keys ------------------------------------------------------------------------


def stat_key(root: Path, path: str, now_ns: int) -> str | None:
    """The content key of a dirty or untracked file from its stat data
    (``r:`` when modified so recently that a same-size rewrite could keep it)."""
    try:
        st = os.stat(root / path)
    except OSError:
        return None
    racy = now_ns - st.st_mtime_ns < RACY_NS
    return ("r:" if racy else "s:") + f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


_TRACKED_RE = re.compile(r"[0-7]{6} ([0-9a-f]{40,64}) ([0-3])\t([^\0]*)\0")


def listing_keys(listing: bytes) -> tuple[dict[str, str], set[str]]:
    """path -> ``b:<blob>`` of the ticket files in (part of) git's listing, and
    the paths with unmerged entries (the work tree holds the conflict)."""
    keys: dict[str, str] = {}
    unmerged: set[str] = set()
    # 100,000 lines after a full rebuild: decode once, check each directory once.
    text = listing.decode("utf-8", "surrogateescape")
    ticket_dirs: dict[str, bool] = {}
    for blob, stage, path in _TRACKED_RE.findall(text):
        folder, _, name = path.rpartition("/")
        ok = ticket_dirs.get(folder)
        if ok is None:
            ok = ticket_dirs[folder] = is_ticket_path(f"{folder}/x.yaml")
        if not ok or not name.endswith(".yaml") or name.startswith("."):
            continue
        if stage != "0":
            unmerged.add(path)
        keys[path] = "b:" + blob
    return keys, unmerged


# --- git's listing per month directory -----------------------------------------------------

_SHARD_LINE = re.compile(rb"\t(tickets/[^/\0]*/[^/\0]*/)")


def split_listing(listing: bytes) -> dict[str, bytes] | None:
    """Git's listing cut into one chunk per month directory (``tickets/YYYY/MM``).

    The listing is sorted by path, so a directory's lines are contiguous and
    finding the chunks takes a few searches, not a parse of 100,000 lines.
    Lines of other paths (``tickets/README``) belong to no chunk. None if the
    listing is not shaped as expected (the caller then parses all of it).
    """
    chunks: dict[str, bytes] = {}
    pos, size = 0, len(listing)
    while pos < size:
        match = _SHARD_LINE.search(listing, pos)
        if match is None:
            break
        needle = b"\t" + match.group(1)
        start = listing.rfind(b"\0", 0, match.start()) + 1
        end = listing.find(b"\0", match.end()) + 1
        step = 4096
        while 0 < end < size:
            # Gallop over the directory's lines: the last one inside a
            # growing window, until a window holds none.
            last = listing.rfind(needle, end, min(size, end + step))
            if last < 0:
                break
            end = listing.find(b"\0", last) + 1
            step *= 2
        if end <= 0:
            return None
        chunk = listing[start:end]
        shard = match.group(1)[:-1].decode("utf-8", "surrogateescape")
        if shard in chunks or chunk.count(b"\0") != chunk.count(needle):
            return None  # unsorted, or a path with a tab in it
        chunks[shard] = chunk
        pos = end
    return chunks


def line_of(chunk: bytes, path: str) -> tuple[str | None, int]:
    """(blob ID, number of index entries) of one path in a listing chunk: one
    entry when merged, up to three stages when unmerged, none if untracked."""
    needle = b"\t" + path.encode("utf-8", "surrogateescape") + b"\0"
    blob: str | None = None
    count = 0
    at = chunk.find(needle)
    while at >= 0:
        start = chunk.rfind(b"\0", 0, at) + 1
        fields = chunk[start:at].split(b" ")
        if len(fields) == 3:
            count += 1
            blob = fields[1].decode("ascii", "replace")
            if fields[2] != b"0":
                count = max(count, 2)  # a conflict stage: the work tree decides
        at = chunk.find(needle, at + len(needle))
    return blob, count


def chunk_paths(chunk: bytes) -> set[str]:
    """The ticket paths named by the lines of (a part of) a listing chunk."""
    paths = set()
    for line in chunk.split(b"\0"):
        _, tab, path = line.partition(b"\t")
        if tab:
            text = path.decode("utf-8", "surrogateescape")
            if is_ticket_path(text):
                paths.add(text)
    return paths


# --- month directories and untracked files --------------------------------------------------


def dir_sigs(root: Path) -> dict[str, tuple[str, int]]:
    """shard -> (stat signature, newest of mtime and ctime in ns) of every
    month directory on disk.

    Creating, deleting or renaming a file changes its directory's mtime,
    so a directory whose signature is unchanged holds the same names as
    when it was last listed: untracked files are found without the
    directory walk of ``git ls-files -o`` (git's untracked cache works
    the same way). A signature too close to "now" is not trusted later
    (`elinkctl.cache.changes.RACY_DIR_NS`), as two changes within one
    timestamp tick look alike.
    """
    sigs: dict[str, tuple[str, int]] = {}
    for shard, entry in month_dirs(root):
        try:
            st = entry.stat()
        except OSError:
            continue
        sigs[shard] = (
            f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}",
            max(st.st_mtime_ns, st.st_ctime_ns),
        )
    return sigs


def month_dirs(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(shard, entry) of every month directory, as `Store.ticket_paths` walks them."""
    try:
        years = [e for e in os.scandir(root / TICKETS_PREFIX) if e.is_dir() and e.name.isdigit()]
    except OSError:
        return
    for year in years:
        try:
            months = list(os.scandir(year.path))
        except OSError:
            continue
        for month in months:
            if month.is_dir() and month.name.isdigit():
                yield f"tickets/{year.name}/{month.name}", month


def untracked_in(root: Path, shard: str, chunk: bytes) -> set[str]:
    """Ticket files on disk in one month directory that git does not track
    (names compared as bytes: a month holds thousands)."""
    prefix = shard.encode("utf-8", "surrogateescape") + b"/"
    tracked = set(re.findall(b"\t" + re.escape(prefix) + b"([^/\0]*)\0", chunk))
    try:
        names = os.listdir(os.fsencode(root / shard))
    except OSError:
        return set()
    extra = {n for n in names if n.endswith(b".yaml") and not n.startswith(b".")} - tracked
    return {f"{shard}/{os.fsdecode(n)}" for n in extra}


def scan_untracked(root: Path, tracked: set[str]) -> set[str]:
    """Every ticket file on disk that git does not track (a full directory scan)."""
    found: set[str] = set()
    for shard, entry in month_dirs(root):
        try:
            names = os.listdir(entry.path)
        except OSError:
            continue
        found.update(f"{shard}/{n}" for n in names if n.endswith(".yaml") and not n.startswith("."))
    return found - tracked


# --- ticket paths ----------------------------------------------------------------------------


def is_ticket_path(path: str) -> bool:
    """Exactly the files `Store.ticket_paths` yields: tickets/<digits>/<digits>/<name>.yaml."""
    parts = path.split("/")
    return (
        len(parts) == 4
        and parts[0] == "tickets"
        and parts[1].isdigit()
        and parts[2].isdigit()
        and parts[3].endswith(".yaml")
        and not parts[3].startswith(".")
    )


def shard_of(path: str) -> str:
    """The month directory of a ticket path: ``tickets/2026/11``."""
    return path.rsplit("/", 1)[0]


def shard_range(shard: str) -> tuple[str, str]:
    """SQL bounds (``path >= lo AND path < hi``) of the paths in a month
    directory: every one starts with ``<shard>/``, and "0" follows "/"."""
    return shard + "/", shard + "0"


def stem(path: str) -> str:
    """A ticket file's ID: its name without ``.yaml``."""
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def path_order(path: str) -> tuple[str, ...]:
    """The order `Store.ticket_paths` yields files in: year, month, name."""
    return tuple(path.split("/"))
