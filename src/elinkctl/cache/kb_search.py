"""The database `kb search` reads: ``kb-search.sqlite``, kept current by the ticket index.

Loading the whole search index (`elinkctl.cache.kb`) costs, at 100,000
incidents, a stat() of every file to know it is current (0.4 s) and a
40 MB image read into memory (190 MB peak). This database holds the same
index as `elinkctl.kb.suggestdb` stores it, but with *every* document: a
query reads its own terms' postings and the few documents it returns.

Whether it is current is not found by walking the files: the ticket index
(`elinkctl.cache.index`, what `list` reads) is validated against git and
the work tree anyway, and renews a month directory's generation whenever a
settled (resolved, closed, …) ticket in it is written, removed, or becomes
or stops being open, which covers every change of a searchable incident.
This database records the generations and each incident's content key it
was made from; a search compares the generations (a few hundred rows),
compares keys only in the months whose generation changed, reads just the
changed files and applies them (`SuggestIndex.apply`). Articles are few:
their stat data is compared directly.

A cache like the others: missing, damaged, of another version or too far
behind (`REBUILD_ABOVE` changed files), it is built again from the full
index, and any failure of the ticket index falls back to that index.
"""

from __future__ import annotations

import os
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING

from elinkctl.cache import shipped_kb
from elinkctl.cache.db import connect, discard
from elinkctl.cache.kb import DOCS_FILE, load_index, load_postings, stream_docs_cache
from elinkctl.cache.kb_files import KbSource, Warn, ignore, read_doc
from elinkctl.cache.kb_suggest import open_suggestions
from elinkctl.cache.listing import shard_range
from elinkctl.domain.layout import KNOWLEDGE
from elinkctl.kb.docs import SEARCHABLE_STATUSES, Doc
from elinkctl.kb.search import IndexFormatError, SearchIndex
from elinkctl.kb.suggestdb import SuggestIndex, build_search_index

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from elinkctl.cache.index import Index

SEARCH_FILE = shipped_kb.SEARCH

REBUILD_ABOVE = 5000
"""Changed files beyond which the database is built again rather than brought up to date."""

ADDED_REBUILD = 0.2
"""Rebuild once documents added since the build exceed this share of the store:
their weights use the build's average lengths, and dead rows take room."""

_FRESHNESS = """
CREATE TABLE kbgens(shard TEXT PRIMARY KEY, gen TEXT NOT NULL);
CREATE TABLE kbkeys(path TEXT PRIMARY KEY, key TEXT NOT NULL);
CREATE TABLE kbarticles(path TEXT PRIMARY KEY, mtime INTEGER NOT NULL, size INTEGER NOT NULL);
"""
# kbgens: the ticket index's generation of each month directory when last compared;
# kbkeys: the content key of each searchable incident's file the database holds;
# kbarticles: stat data of each article file it holds.

_STATUSES = ",".join(f"'{s}'" for s in SEARCHABLE_STATUSES)


def _articles(source: KbSource) -> dict[str, tuple[int, int]]:
    """rel path → (mtime_ns, size) of every article file."""
    out: dict[str, tuple[int, int]] = {}
    with suppress(OSError):
        for e in os.scandir(source.root / KNOWLEDGE):
            if e.name.startswith("KB-") and e.name.endswith(".md"):
                st = e.stat()
                out[f"{KNOWLEDGE}/{e.name}"] = (st.st_mtime_ns, st.st_size)
    return out


def open_search(source: KbSource) -> SuggestIndex | None:
    """The search database, or None when missing or unusable (the caller closes ``.conn``)."""
    import sqlite3

    path = source.state / SEARCH_FILE
    if not path.is_file():
        return None
    try:
        conn = connect(path, create=False, timeout=2.0, journal=None, synchronous="OFF")
    except sqlite3.Error:
        return None
    try:
        index = SuggestIndex(conn)
        for table in ("kbgens", "kbkeys", "kbarticles"):  # derived by this module, not another
            conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()
        return index
    except (sqlite3.Error, IndexFormatError, KeyError, TypeError):
        conn.close()
        return None


def bring_up_to_date(
    source: KbSource, tickets: Index, index: SuggestIndex, on_error: Warn = ignore
) -> bool:
    """Apply every change since the database was last compared; False when it
    should be built again instead (too many changes, too many added documents)."""
    conn = index.conn
    tickets.ensure_fresh()  # first: with no index yet, this is what fetches a published one
    db = tickets.db
    gens_now = {str(s): str(g) for s, g in db.execute("SELECT shard, gen FROM shards")}
    gens_then = dict(conn.execute("SELECT shard, gen FROM kbgens"))
    months = sorted(
        s for s in gens_now.keys() | gens_then.keys() if gens_now.get(s) != gens_then.get(s)
    )
    arts_now = _articles(source)
    arts_then = {p: (m, z) for p, m, z in conn.execute("SELECT path, mtime, size FROM kbarticles")}
    changed_arts = sorted(
        p for p in arts_now.keys() | arts_then.keys() if arts_now.get(p) != arts_then.get(p)
    )
    if not months and not changed_arts:
        return True
    keys_now: dict[str, str] = {}
    changed: list[str] = []
    for shard in months:
        lo, hi = shard_range(shard)
        now = {
            str(p): str(k)
            for p, k in db.execute(
                f"SELECT path, key FROM tickets WHERE path >= ? AND path < ?"
                f" AND status IN ({_STATUSES}) AND error IS NULL",
                (lo, hi),
            )
        }
        then = dict(
            conn.execute("SELECT path, key FROM kbkeys WHERE path >= ? AND path < ?", (lo, hi))
        )
        keys_now.update(now)
        changed.extend(
            p
            for p in sorted(now.keys() | then.keys())
            if now.get(p) != then.get(p) or not now.get(p)
        )
        if len(changed) > REBUILD_ABOVE:
            return False
    # A ticket outside a sparse checkout is read from the blob its key names.
    docs: list[tuple[str, Doc | None]] = [
        (p, read_doc(source.root, p, on_error, _blob_of(keys_now.get(p)))) for p in changed
    ]
    docs += [
        (p, read_doc(source.root, p, on_error) if p in arts_now else None) for p in changed_arts
    ]
    meta = index.stats()
    if meta[1] - meta[2] + len(docs) > max(1000, ADDED_REBUILD * meta[0]):
        return False
    head = "g:" + uuid.uuid4().hex
    if not index.apply(docs, since=index.head, head=head):
        return True  # another process brought it forward meanwhile
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO kbgens VALUES (?, ?)",
            [(s, gens_now[s]) for s in months if s in gens_now],
        )
        conn.executemany(
            "DELETE FROM kbgens WHERE shard = ?", [(s,) for s in months if s not in gens_now]
        )
        conn.executemany(
            "DELETE FROM kbkeys WHERE path = ?", [(p,) for p in changed if p not in keys_now]
        )
        conn.executemany(
            "INSERT OR REPLACE INTO kbkeys VALUES (?, ?)",
            [(p, keys_now[p]) for p in changed if p in keys_now],
        )
        conn.executemany(
            "DELETE FROM kbarticles WHERE path = ?",
            [(p,) for p in changed_arts if p not in arts_now],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO kbarticles VALUES (?, ?, ?)",
            [(p, *arts_now[p]) for p in changed_arts if p in arts_now],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


def _blob_of(key: str | None) -> str | None:
    """The blob of a ticket index key (``b:<blob>``: a clean tracked file)."""
    return key[2:] if key is not None and key.startswith("b:") else None


def build_search(
    source: KbSource, tickets: Index, on_error: Warn = ignore
) -> SuggestIndex | SearchIndex:
    """The search database built again from the full index (`load_index`), and
    opened; the full index itself when the database cannot be written.

    The ticket index's generations and keys are taken *before* the files are
    read: a file changed in between has a newer key than the one recorded,
    so the next search reads it again.

    Built in a file next to the database and renamed over it when complete,
    from the full index's postings alone and the documents streamed from
    ``kb-docs.json`` one at a time (`stream_docs_cache`,
    `build_search_index`): built in memory and serialised, with the whole
    index and every document decoded at once, a cold build at 100,000
    incidents peaked at 540 MB.
    """
    import sqlite3

    target = source.state / SEARCH_FILE
    tmp = source.state / f".{SEARCH_FILE}.{uuid.uuid4().hex}.tmp"
    conn = None
    try:
        conn = connect(tmp, journal="OFF", synchronous="OFF")
        conn.execute("PRAGMA page_size = 16384")  # as the schema wants, before any table
        conn.execute("PRAGMA cache_size = -8192")  # 8 MB: the file is written in order
        conn.executescript(_FRESHNESS)
        _record_ticket_state(conn, tickets)
    except (OSError, sqlite3.Error):
        if conn is not None:
            conn.close()
        _remove(tmp)
        return load_index(source, on_error)
    arts = _articles(source)
    try:
        stamp, postings = load_postings(source, on_error)
    except BaseException:
        conn.close()
        _remove(tmp)
        raise
    try:
        try:
            fingerprint, found = stream_docs_cache(source.state / DOCS_FILE)
        except (OSError, ValueError, IndexError, AttributeError, TypeError):
            fingerprint, found = "", iter(())
        if fingerprint != stamp:
            raise ValueError("kb-docs.json does not hold the index's documents")
        build_search_index(conn, postings, found, head="g:" + uuid.uuid4().hex, fingerprint=stamp)
        del postings, found
        conn.execute("BEGIN")
        conn.execute("DELETE FROM kbkeys WHERE path NOT IN (SELECT path FROM docs)")
        conn.executemany(
            "INSERT INTO kbarticles VALUES (?, ?, ?)", [(p, m, z) for p, (m, z) in arts.items()]
        )
        conn.execute("DELETE FROM kbarticles WHERE path NOT IN (SELECT path FROM docs)")
        conn.execute("COMMIT")
        conn.close()
        conn = None
        os.replace(tmp, target)
    except (OSError, sqlite3.Error, ValueError, KeyError, TypeError):
        # e.g. a read-only clone, or a per-file cache that was not written:
        # search the full index as it is.
        if conn is not None:
            conn.close()
        _remove(tmp)
        with suppress(OSError):
            discard(target)
        return load_index(source, on_error)
    found_db = open_search(source)
    return found_db if found_db is not None else load_index(source, on_error)


def _record_ticket_state(conn: sqlite3.Connection, tickets: Index) -> None:
    """Copy the ticket index's generations and searchable incidents' keys, as they are now."""
    tickets.ensure_fresh()
    db = tickets.db
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO kbgens VALUES (?, ?)", db.execute("SELECT shard, gen FROM shards")
    )
    conn.executemany(
        "INSERT INTO kbkeys VALUES (?, ?)",
        db.execute(
            f"SELECT path, key FROM tickets WHERE status IN ({_STATUSES}) AND error IS NULL"
        ),
    )
    conn.execute("COMMIT")


def _remove(path: Path) -> None:
    with suppress(OSError):
        path.unlink()


def _suggestions_usable(source: KbSource) -> bool:
    found = open_suggestions(source.state)
    if found is None:
        return False
    found.conn.close()
    return True


def search_database(
    source: KbSource, tickets: Index, on_error: Warn = ignore
) -> SuggestIndex | SearchIndex:
    """What `kb search` searches: the database brought up to date, else the
    full index (building the database from it). A `SuggestIndex`'s connection
    is the caller's to close."""
    import sqlite3

    index = open_search(source)
    if index is None and shipped_kb.place(source.root, source.state):
        index = open_search(source)  # a fresh clone: the published one
    if index is not None:
        try:
            if bring_up_to_date(source, tickets, index, on_error):
                if not _suggestions_usable(source):
                    # `new` reads a database derived from the full index: derive it
                    # (once; e.g. after a format change) rather than let `new` load
                    # the whole index every time.
                    load_index(source, on_error)
                return index
        except sqlite3.OperationalError:
            return index  # busy (another search applying changes): search it as it is
        except (sqlite3.Error, IndexFormatError, KeyError, TypeError, ValueError):
            pass
        index.conn.close()
    return build_search(source, tickets, on_error)
