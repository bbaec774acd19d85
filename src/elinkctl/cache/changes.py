"""Which ticket files may differ from their index rows: the ``listing`` table.

Finding what changed costs what changed, not what exists. Git's listing is
cut per month directory (`elinkctl.cache.listing.split_listing`), and each
month's chunk is kept in the ``listing`` table with its digest, its
directory's stat signature and the untracked files found in it. An
unchanged month costs a digest; a changed one is diffed line by line
against the kept chunk. A pull that changed 100 tickets names 100 paths.

The functions here take the index's connection and run inside its
refresh (`elinkctl.cache.index.Index.refresh`), which compares and writes
in one transaction so rows and kept chunks always describe the same state.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from elinkctl.cache.listing import (
    RACY_NS,
    Snapshot,
    chunk_paths,
    line_of,
    listing_digest,
    listing_keys,
    shard_of,
    shard_range,
    stat_key,
    untracked_in,
)
from elinkctl.cache.rows import column_of

if TYPE_CHECKING:
    import sqlite3

PARSE_CHUNK_ABOVE = 64
"""More changed paths than this in one month: parse its listing chunk once
rather than search it for each path."""
RACY_DIR_NS = RACY_NS
"""A month directory whose stat signature is this recent is listed again
next time (`elinkctl.cache.listing.dir_sigs`)."""

Sigs = dict[str, tuple[str, int]]
"""shard -> (directory stat signature, newest of its mtime and ctime in ns)."""
Kept = dict[str, tuple[str, str, str]]
"""shard -> (chunk digest, directory signature, untracked names as JSON) as kept."""


@dataclasses.dataclass
class Changes:
    """What `changed_files` found: the paths to compare, with their current
    keys (``keys``: only those still on disk) and the keys their rows have
    (``stored``), and per month directory what `save_listing` rewrites."""

    keys: dict[str, str] = dataclasses.field(default_factory=dict)
    stored: dict[str, str] = dataclasses.field(default_factory=dict)
    examine: set[str] = dataclasses.field(default_factory=set)
    redo: set[str] = dataclasses.field(default_factory=set)
    """Month directories whose ``listing`` entry is rewritten."""
    digests: dict[str, str] = dataclasses.field(default_factory=dict)
    """Digests of the chunks computed while comparing (not computed twice)."""
    new_chunks: dict[str, bytes] = dataclasses.field(default_factory=dict)
    """Chunks that differ from the kept ones."""


def read_state(db: sqlite3.Connection) -> tuple[dict[str, str], Kept]:
    """The ``meta`` table, and per month what the ``listing`` table keeps."""
    meta = dict(db.execute("SELECT name, value FROM meta"))  # type: ignore[arg-type]
    kept = {
        str(shard): (str(digest), str(dirsig), str(untracked))
        for shard, digest, dirsig, untracked in db.execute(
            "SELECT shard, digest, dirsig, untracked FROM listing"
        )
    }
    return meta, kept


def unchanged(snap: Snapshot, sigs: Sigs, meta: dict[str, str], kept: Kept) -> bool:
    """The warm path: git's listing, the work tree and every month
    directory are as the rows were written, with nothing dirty then or now."""
    return (
        not snap.modified
        and not snap.deleted
        and meta.get("clean") == "1"
        and meta.get("tracked") == snap.digest
        and {s: sig for s, (sig, _) in sigs.items()}
        == {s: sig for s, (_, sig, _) in kept.items() if sig}
    )


def changed_files(
    db: sqlite3.Connection,
    root: Path,
    snap: Snapshot,
    chunks: dict[str, bytes],
    sigs: Sigs,
    kept: Kept,
    now_ns: int,
) -> Changes:
    """The files that may differ from their rows, and the month directories
    whose ``listing`` entry is redone; sets ``snap.untracked``.

    Per month directory: a changed chunk of git's listing is compared line
    by line with the chunk kept last time (a pull that changed 100 tickets
    names 100 paths, whatever the size of their months); a changed
    directory signature only means listing its untracked files again.
    """
    found = Changes(examine=set(snap.modified) | set(snap.deleted))
    examine = found.examine
    untracked: set[str] = set()
    for shard in set(chunks) | set(sigs) | set(kept):
        chunk = chunks.get(shard, b"")
        digest = listing_digest(chunk)
        old = kept.get(shard)
        sig = sigs[shard][0] if shard in sigs else ""
        old_untracked = {f"{shard}/{n}" for n in json.loads(old[2] or "[]")} if old else set()
        if old is not None and old[0] == digest and old[1] == sig:
            untracked |= old_untracked
            continue
        found.redo.add(shard)
        found.digests[shard] = digest
        if old is None or old[0] != digest:
            found.new_chunks[shard] = chunk
            examine |= chunk_changes(db, shard, chunk, old is not None)
        extra = untracked_in(root, shard, chunk) if shard in sigs else set()
        examine |= extra | old_untracked
        untracked |= extra
    snap.untracked = untracked
    examine |= untracked
    # Rows made from stat data (dirty, untracked or racy files) are compared
    # again even when git's listing says nothing: an edit may have been undone.
    stored: dict[str, str] = dict(
        db.execute("SELECT path, key FROM tickets WHERE key NOT LIKE 'b:%'")  # type: ignore[arg-type]
    )
    examine.update(stored)
    rest = [p for p in examine if p not in stored]
    stored.update((p, k) for p, k in column_of(db, rest, "key").items() if k is not None)
    found.stored = stored
    per_shard: dict[str, int] = {}
    for path in examine:
        per_shard[shard_of(path)] = per_shard.get(shard_of(path), 0) + 1
    parsed = {  # many paths of one month: parse its chunk once instead of searching
        shard: listing_keys(chunks.get(shard, b""))
        for shard, count in per_shard.items()
        if count > PARSE_CHUNK_ABOVE
    }
    for path in examine:
        if path in snap.deleted:
            continue
        shard = shard_of(path)
        if shard in parsed:
            listed, unmerged = parsed[shard]
            blob = listed.get(path, "")[2:] or None
            stages = 2 if path in unmerged else int(blob is not None)
        else:
            blob, stages = line_of(chunks.get(shard, b""), path)
        if path in snap.modified or path in untracked or stages > 1 or blob is None:
            key = stat_key(root, path, now_ns) if blob or path in untracked else None
            if key is not None:
                found.keys[path] = key
        else:
            found.keys[path] = "b:" + blob
    return found


def chunk_changes(db: sqlite3.Connection, shard: str, chunk: bytes, known: bool) -> set[str]:
    """Paths whose line in a month's listing chunk differs from the kept
    chunk; every path of the month (listed or with a row) without one."""
    old = None
    if known:
        row = db.execute("SELECT chunk FROM listing WHERE shard=?", (shard,)).fetchone()
        old = row[0] if row is not None else None
    if old is None:
        rows = db.execute(
            "SELECT path FROM tickets WHERE path >= ? AND path < ?", shard_range(shard)
        )
        return {str(p) for (p,) in rows} | set(listing_keys(chunk)[0])
    return chunk_paths(b"\0".join(set(chunk.split(b"\0")) ^ set(bytes(old).split(b"\0"))))


def save_listing(
    db: sqlite3.Connection,
    chunks: dict[str, bytes] | None,
    sigs: Sigs,
    untracked: set[str],
    changes: Changes,
    now_ns: int,
) -> None:
    """Keep, per redone month directory, its listing chunk and digest, its
    directory signature (``racy`` when too recent to trust) and its
    untracked files. (Call inside the writing transaction.)"""
    if chunks is None:
        db.execute("DELETE FROM listing")  # compare every file next time too
        return
    by_shard: dict[str, list[str]] = {}
    for path in untracked:
        folder, _, name = path.rpartition("/")
        by_shard.setdefault(folder, []).append(name)
    for shard in sorted(changes.redo):
        if shard not in chunks and shard not in sigs:
            db.execute("DELETE FROM listing WHERE shard=?", (shard,))
            continue
        sig, newest = sigs.get(shard, ("", 0))
        if sig and now_ns - newest < RACY_DIR_NS:
            sig = "racy"
        names = json.dumps(sorted(by_shard.get(shard, ())), ensure_ascii=False)
        digest = changes.digests.get(shard)
        if shard in changes.new_chunks or digest is None:
            chunk = chunks.get(shard, b"")
            db.execute(
                "INSERT OR REPLACE INTO listing VALUES (?, ?, ?, ?, ?)",
                (shard, digest or listing_digest(chunk), sig, names, chunk),
            )
        else:  # same chunk: only the directory changed
            db.execute(
                "UPDATE listing SET dirsig=?, untracked=? WHERE shard=?", (sig, names, shard)
            )
