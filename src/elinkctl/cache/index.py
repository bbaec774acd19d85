"""A disposable SQLite index of the tickets, so reads do not parse 100,000 files.

Why it can be trusted: it is never believed, only checked. Every use starts
from what git and the file system say now (`elinkctl.cache.listing`):

- ``git diff-files`` lstat()s every tracked ticket (racy-git safe) and names
  those modified or deleted in the work tree: the one per-file cost, about
  a tenth of a second at 100,000 files;
- ``git ls-files -s`` gives the blob ID of every tracked ticket; it is
  skipped while git's index file is the very file whose listing was
  recorded (`elinkctl.cache.prefetch.record`: git only ever replaces that file);
- untracked ticket files come from the month directories' stat data: a
  directory whose mtime/ctime/inode are unchanged holds the same names as
  when it was last listed (git's untracked cache works the same way).

Both git calls are started as the process starts (`elinkctl.cache.prefetch`),
so they run while Python imports. A row is reused only when its key still
matches: the blob ID for a clean file, or (mtime, size, inode) for a dirty
or untracked one. Everything else is re-read from the work tree, which is
what commands without an index read too. So a pull, a checkout, a merge or
a hand edit is picked up by the next command, and the answer is always the
one a full scan would give. Which files to compare is decided per month
directory (`elinkctl.cache.changes`); rows are made by `elinkctl.cache.rows`.

The database lives in ``.git/elinkctl/index.sqlite`` (opened by
`elinkctl.cache.db.connect`): a missing, old-version or corrupt file is
deleted and rebuilt without a word (with a progress bar on a terminal when
the rebuild is big). Big rebuilds parse in parallel.

The same database caches what other features compute per ticket
(`elinkctl.cache.facts`) and their folds per month directory
(`elinkctl.cache.folds`). Each month directory ("shard", ``tickets/YYYY/MM``)
has a generation (``shards.gen``, a random token) renewed here, in the same
transaction as any of its settled (not open) tickets' rows is written or
deleted, or a ticket becomes or stops being open; a fold of the shard's
settled tickets is used only under the generation it was made from.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from elinkctl.cache import changes, db, listing, prefetch
from elinkctl.cache.listing import Git, Snapshot, path_order, shard_of, shard_range, stem
from elinkctl.cache.rows import (
    COLUMNS,
    OPEN,
    BlobLoader,
    Compute,
    Loader,
    Result,
    Summary,
    column_of,
    read_files,
    summary_of,
)
from elinkctl.domain.model import OPEN_STATUSES

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator

SCHEMA_VERSION = "7"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    path TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    error TEXT,
    status TEXT, priority TEXT, type TEXT, tier TEXT, assignee TEXT,
    system TEXT, module TEXT, source TEXT, key_user INTEGER, security INTEGER,
    opened_at TEXT, responded_at TEXT, resolved_at TEXT, closed_at TEXT,
    title TEXT, aliases TEXT, promise_at TEXT
);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status);
CREATE INDEX IF NOT EXISTS tickets_closed ON tickets(closed_at) WHERE status = 'closed';
CREATE INDEX IF NOT EXISTS tickets_id ON tickets(id);
CREATE INDEX IF NOT EXISTS tickets_error ON tickets(error) WHERE error IS NOT NULL;
CREATE TABLE IF NOT EXISTS aliases (alias TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_alias ON aliases(alias);
CREATE TABLE IF NOT EXISTS facts (
    name TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (name, path)
);
CREATE TABLE IF NOT EXISTS shards (
    shard TEXT PRIMARY KEY, gen TEXT NOT NULL, rows INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS listing (
    shard TEXT PRIMARY KEY, digest TEXT NOT NULL, dirsig TEXT NOT NULL, untracked TEXT NOT NULL,
    chunk BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS partials (
    name TEXT NOT NULL, query TEXT NOT NULL, shard TEXT NOT NULL, gen TEXT NOT NULL,
    data BLOB NOT NULL, used REAL NOT NULL,
    PRIMARY KEY (name, query, shard)
);
"""
"""The whole database: rows (``tickets``, ``aliases``), change detection
(``listing``, ``meta``), facts (``facts``) and folds (``shards``, ``partials``)."""


class Index:
    """The ticket index of one store; call `refresh` (done once automatically
    on first use) to validate it against git.

    ``git`` runs git commands concurrently (`listing.Git`); ``load`` parses
    one ticket file the way the store does; ``load_blob`` one the work tree
    lacks (a sparse checkout) from its blob (`rows.read_one`).
    """

    def __init__(
        self,
        root: Path,
        db_path: Path,
        load: Loader,
        git: Git,
        progress: bool | None = None,
        load_blob: BlobLoader | None = None,
    ) -> None:
        self.root = root
        self.db_path = db_path
        self.load = load
        self.load_blob = load_blob
        self.git = git
        self.progress = True if progress is None else progress  # drawn only where the CLI shows it
        self._db: sqlite3.Connection | None = None
        self._fresh = False
        self._paths_now: dict[str, str] | None = None
        self.current: dict[str, str] = {}
        """path -> key of the files the last refresh compared (the rest are unchanged)."""
        self._pending: tuple[threading.Thread, list[Snapshot | BaseException]] | None = None
        self.reread = 0
        """How many files the last refresh parsed (for tests and the benchmark)."""

    # --- the database ------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = db.connect(self.db_path, schema=SCHEMA, version=SCHEMA_VERSION)
        return self._db

    @property
    def fresh(self) -> bool:
        """Whether the rows were checked against git in this process since its last write."""
        return self._fresh

    def invalidate(self) -> None:
        """Forget that the index was checked: the next query checks again
        (after this process wrote tickets)."""
        self._fresh = False
        self._paths_now = None
        prefetch.forget()
        if self._pending is not None:
            self._pending[0].join()
            self._pending = None  # it may predate the writes

    # --- what git says now ----------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """What git and the file system say about the tickets now (`listing.take`)."""
        return listing.take(self.root, self.git)

    def prefetch(self) -> None:
        """Start the git calls of the next `refresh` in the background.

        They take a quarter of a second at 100,000 tickets (git lstat()s every
        file) while the process is busy importing and parsing options; read-only
        commands call this first so the two overlap. The snapshot is still
        taken during this command, before anything is read from the index.
        """
        if self._fresh or self._pending is not None:
            return
        box: list[Snapshot | BaseException] = []

        def run() -> None:
            try:
                box.append(self.snapshot())
            except BaseException as exc:  # re-raised by refresh, in the caller's thread
                box.append(exc)

        thread = threading.Thread(target=run, name="elinkctl-index-snapshot", daemon=True)
        thread.start()
        self._pending = (thread, box)

    def _prefetched_or_new(self) -> Snapshot:
        pending, self._pending = self._pending, None
        if pending is None:
            return self.snapshot()
        thread, box = pending
        thread.join()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result

    # --- validation ----------------------------------------------------------------

    def refresh(self, computes: Sequence[Compute] = (), snapshot: Snapshot | None = None) -> None:
        """Make the rows match the work tree: drop vanished files, re-read changed ones.

        ``computes`` are evaluated on every ticket parsed here and cached, so a
        cold `elinkctl.cache.facts.Facts` parses each file once. ``snapshot``
        is what git said (default: now, or what `prefetch` started); one
        taken earlier makes the rows describe that earlier state.

        Which files to look at: only month directories whose listing chunk
        or signature changed, the files ``diff-files`` names, and rows last
        made from stat data are compared file by file (`changes`). Without a
        usable ``listing`` table (a new index, an odd listing) every file is
        compared.
        """
        snap = snapshot if snapshot is not None else self._prefetched_or_new()
        if self._db is None and not self.db_path.exists():
            self._fetch_published(snap)
        conn = self.db
        self.reread = 0
        self._paths_now = None
        self.current = {}
        now_ns = time.time_ns()
        sigs = listing.dir_sigs(self.root)
        meta, kept = changes.read_state(conn)
        if changes.unchanged(snap, sigs, meta, kept):
            snap.untracked = set()  # nothing changed since the rows were written
            listing.record(snap)
            self._fresh = True
            return
        chunks = listing.split_listing(snap.tracked)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Compare with the rows as they are inside the writing transaction:
            # another process may have refreshed since the state was read, and
            # every month's rows must stay in step with its kept chunk.
            meta, kept = changes.read_state(conn)
            if chunks is None or not kept:
                keys = snap.keys  # every file: a new index, or a listing we cannot cut
                stored = dict(conn.execute("SELECT path, key FROM tickets"))  # type: ignore[arg-type]
                found = changes.Changes(
                    keys, stored, set(keys) | set(stored), set(chunks or ()) | set(sigs) | set(kept)
                )
            else:
                found = changes.changed_files(conn, self.root, snap, chunks, sigs, kept, now_ns)
            self.current = keys = found.keys
            stored, examine = found.stored, found.examine
            gone = sorted(p for p in examine if p in stored and p not in keys)
            changed = [
                (p, keys[p]) for p in sorted(examine) if p in keys and stored.get(p) != keys[p]
            ]
            self.reread = len(changed)
            untracked = snap.untracked or set()
            # The statuses the rows have right now, to tell which changes touch
            # settled tickets.
            before = column_of(conn, [p for p, _ in changed])
            if gone:
                conn.executemany("DELETE FROM tickets WHERE path=?", [(p,) for p in gone])
                conn.executemany("DELETE FROM aliases WHERE path=?", [(p,) for p in gone])
                conn.executemany("DELETE FROM facts WHERE path=?", [(p,) for p in gone])
            now_open: set[str] = set()
            for batch in self.read(changed, computes):
                now_open.update(self._write_rows(batch))
            if gone or changed:
                touched = {shard_of(p) for p in gone} | {shard_of(p) for p, _ in changed}
                # Only settled tickets are folded into cached folds; an open
                # ticket that stays open (a comment, a pull of one) renews nothing.
                renew = {shard_of(p) for p in gone} | {
                    shard_of(p)
                    for p, _ in changed
                    if p not in now_open or (p in before and before[p] not in OPEN)
                }
                self.renew_shards(touched, renew)
                # Rows changed: facts are known to be complete only where this
                # refresh computed them for every row it wrote.
                conn.execute("DELETE FROM meta WHERE name LIKE 'facts:%'")
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        (f"facts:{name}", version)
                        for name, version, _ in computes
                        if meta.get(f"facts:{name}") == version
                    ],
                )
            changes.save_listing(conn, chunks, sigs, untracked, found, now_ns)
            clean = (
                not snap.modified
                and not snap.deleted
                and not untracked
                and not any(keys[p].startswith("r:") for p in examine if p in keys)
            )
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("tracked", snap.digest), ("clean", "1" if clean else "0")],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        listing.record(snap)
        self._fresh = True

    def _fetch_published(self, snap: Snapshot) -> None:
        """No index yet (a fresh clone): start from a published one if the
        repository brings one that passes its checks (`elinkctl.cache.shipped`);
        the refresh that follows checks every row against git as usual."""
        from elinkctl.cache import index_failed, shipped

        try:
            shipped.fetch(
                self.root,
                self.db_path,
                lambda conn: db.check_version(conn, SCHEMA_VERSION),
                self.load,
                snap,
                self.progress,
                self.load_blob,
            )
        except Exception as exc:  # an optimisation only: build the index as before
            if not index_failed(exc):
                raise

    def ensure_fresh(self) -> None:
        if not self._fresh:
            self.refresh()

    def read(
        self, items: Iterable[tuple[str, str]], computes: Sequence[Compute]
    ) -> Iterator[list[Result]]:
        """Parse (path, key) files into rows and facts (`rows.read_files`)."""
        return read_files(self.root, self.load, items, computes, self.progress, self.load_blob)

    def _write_rows(self, batch: list[Result]) -> set[str]:
        """Write rows (racy keys stored empty: read again next time) and their
        facts; return the paths of the open tickets among them."""
        conn = self.db
        rows = [(r[0], r[1], "" if str(r[2]).startswith("r:") else r[2], *r[3:]) for r, _ in batch]
        conn.executemany(
            f"INSERT OR REPLACE INTO tickets VALUES ({','.join('?' * len(COLUMNS))})", rows
        )
        conn.executemany("DELETE FROM aliases WHERE path=?", [(r[0],) for r in rows])
        conn.executemany(
            "INSERT INTO aliases VALUES (?, ?, ?)",
            [(a, r[1], r[0]) for r in rows if r[19] for a in json.loads(r[19])],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?)",
            [
                (name, version, row[0], row[2], data)
                for (_, facts), row in zip(batch, rows, strict=True)
                for name, version, data in facts
            ],
        )
        return {str(r[0]) for r in rows if r[4] in OPEN}

    def renew_shards(self, touched: Iterable[str], renew: Iterable[str] | None = None) -> None:
        """Recount the rows of ``touched`` shards; new generations for those in
        ``renew`` (default: all), so folds cached under the old ones are never
        used again. (Call inside a writing transaction.)

        A generation covers the shard's settled (not open) tickets: folds cache
        only those; open ones are always read afresh. The row count lets
        `elinkctl.cache.folds.shard_gens` tell that the table covers every
        row without reading them."""
        conn = self.db
        renewing = set(touched if renew is None else renew)
        for shard in sorted(touched):
            (rows,) = conn.execute(
                "SELECT count(*) FROM tickets WHERE path >= ? AND path < ?", shard_range(shard)
            ).fetchone()
            if not rows:
                conn.execute("DELETE FROM shards WHERE shard=?", (shard,))
            elif shard in renewing:
                conn.execute(
                    "INSERT OR REPLACE INTO shards VALUES (?, ?, ?)",
                    (shard, uuid.uuid4().hex, rows),
                )
            else:
                conn.execute(
                    "INSERT INTO shards VALUES (?, ?, ?) ON CONFLICT(shard) DO UPDATE SET rows=?",
                    (shard, uuid.uuid4().hex, rows, rows),
                )

    # --- queries -------------------------------------------------------------------

    def summaries(self, statuses: Iterable[str] | None = None) -> list[Summary]:
        """Parsed tickets (optionally only these statuses), in `Store.ticket_paths` order."""
        self.ensure_fresh()
        sql = f"SELECT {','.join(COLUMNS)} FROM tickets WHERE error IS NULL"
        args: list[str] = []
        if statuses is not None:
            wanted = sorted(set(statuses))
            sql += f" AND status IN ({','.join('?' * len(wanted))})"
            args = wanted
        # SQLite's binary order of these ASCII paths is `path_order`.
        rows = self.db.execute(sql + " ORDER BY path", args).fetchall()
        return [summary_of(r) for r in rows]

    def closed_since(self, since: dt.datetime) -> list[str]:
        """Paths of closed tickets whose close is at or after ``since``, in path
        order (the text bound is a day wider, so other UTC offsets cannot slip
        out; the exact cut is made on the parsed times)."""
        self.ensure_fresh()
        bound = (since - dt.timedelta(days=1)).isoformat()
        # INDEXED BY: without statistics SQLite prefers the status index and
        # reads every closed ticket (51 ms at 300,000; the range is 5 ms).
        rows = self.db.execute(
            "SELECT path, closed_at FROM tickets INDEXED BY tickets_closed"
            " WHERE status = 'closed' AND closed_at >= ? AND error IS NULL ORDER BY path",
            (bound,),
        ).fetchall()
        return [str(path) for path, closed in rows if dt.datetime.fromisoformat(closed) >= since]

    def errors(self) -> list[tuple[str, str]]:
        """(path, message) of every ticket file that does not parse, in path order."""
        self.ensure_fresh()
        rows = self.db.execute("SELECT path, error FROM tickets WHERE error IS NOT NULL").fetchall()
        return sorted(((str(p), str(e)) for p, e in rows), key=lambda r: path_order(r[0]))

    def open_ids(self) -> list[str]:
        """IDs of unresolved tickets (new, pm_review, in_progress, pending), in path order."""
        return [s.id for s in self.summaries(sorted(str(s) for s in OPEN_STATUSES))]

    def _paths(self) -> list[str]:
        """Every ticket file's path, from the rows once they are checked, else
        from one git call (ID lookups need no parsing, so they never trigger a rebuild)."""
        if self._fresh:
            return [str(p) for (p,) in self.db.execute("SELECT path FROM tickets")]
        if self._paths_now is None:
            self._paths_now = self.snapshot().keys
        return list(self._paths_now)

    def ids(self) -> list[str]:
        """Every ticket file's ID (its name), parseable or not, in path order."""
        return [stem(p) for p in sorted(self._paths(), key=path_order)]

    def match_ids(self, fragment: str) -> list[str]:
        """IDs (file names) starting or ending with ``fragment``, in path order."""
        return [s for s in self.ids() if s.startswith(fragment) or s.endswith(fragment)]

    def alias_of(self, alias: str) -> str | None:
        """The current ID of a ticket that lists ``alias`` among its old IDs."""
        self.ensure_fresh()
        rows = self.db.execute("SELECT path, id FROM aliases WHERE alias=?", (alias,)).fetchall()
        rows.sort(key=lambda r: path_order(r[0]))
        return str(rows[0][1]) if rows else None

    def key_of(self, path: str) -> str | None:
        """The content key (``b:<blob>`` or stat data) of a ticket file as last validated."""
        return self.keys_of([path])[path]

    def keys_of(self, paths: Iterable[str]) -> dict[str, str | None]:
        """`key_of` for many paths in one query (`check` asks for every open ticket)."""
        self.ensure_fresh()
        wanted = list(paths)
        found: dict[str, str | None] = {p: self.current[p] for p in wanted if p in self.current}
        rest = [p for p in wanted if p not in found]
        if rest:
            rows = column_of(self.db, rest, "key")
            found.update((p, rows.get(p) or None) for p in rest)
        return found
