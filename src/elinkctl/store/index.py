"""A disposable SQLite index of the tickets, so reads do not parse 100,000 files.

Why it can be trusted: it is never believed, only checked. Every use starts
from what git and the file system say now:

- ``git diff-files`` lstat()s every tracked ticket (racy-git safe) and names
  those modified or deleted in the work tree: the one per-file cost, about
  a tenth of a second at 100,000 files;
- ``git ls-files -s`` gives the blob ID of every tracked ticket; it is
  skipped while git's index file is the very file whose listing was
  recorded (`elinkctl.store.early.record`: git only ever replaces that file);
- untracked ticket files come from the month directories' stat data: a
  directory whose mtime/ctime/inode are unchanged holds the same names as
  when it was last listed (git's untracked cache works the same way).

Both git calls are started as the process starts (`elinkctl.store.early`),
so they run while Python imports. A row is reused only when its key still
matches: the blob ID for a clean file, or (mtime, size, inode) for a dirty
or untracked one. Everything else is re-read from the work tree, which is
what commands without an index read too. So a pull, a checkout, a merge or
a hand edit is picked up by the next command, and the answer is always the
one a full scan would give.

Finding what changed costs what changed, not what exists: git's listing is
cut per month directory (`split_listing`), and each month's chunk is kept
(table ``listing``) with its digest, its directory signature and its
untracked files. An unchanged month costs a digest; a changed one is diffed
line by line against the kept chunk. A pull that changed 100 tickets reads
100 files.

The database lives in ``.git/elinkctl/index.sqlite``: machine-local, never
committed. It is derived data: a missing, old-schema or corrupt file is
deleted and rebuilt without a word (with a progress bar on a terminal when
the rebuild is big). Big rebuilds parse in parallel.

Other features cache what they compute per ticket with `Index.facts`,
keyed by the ticket's content key and a version string that the caller
makes from its code version and a hash of the rules (sla.yaml …).

Folds of many tickets can be cached per month directory ("shard",
``tickets/YYYY/MM``) with `Index.partials` / `Index.put_partials`. Each
shard has a generation (``shards.gen``, a random token) that is renewed in
the same transaction as any of its settled (not open) tickets' rows is
written or deleted, or a ticket becomes or stops being open; a cached fold
of the shard's settled tickets (`settled_facts`) is used only under the
generation it was made from. Open tickets (`open_facts`) are always read
afresh. So a warm run reads no shard's rows, an open ticket commented on
upstream renews nothing, and anything else that touched a shard (a pull
resolving tickets, a hand edit, a rebuild) makes its folds unreachable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.errors import StoreError, TicketError
from elinkctl.progress import Progress
from elinkctl.store import early

SCHEMA_VERSION = "5"
_OPEN = frozenset(str(s) for s in OPEN_STATUSES)
_OPEN_SQL = ",".join(f"'{s}'" for s in sorted(_OPEN))  # fixed enum values, no user input
TICKETS_PREFIX = "tickets/"
PARALLEL_MIN = 3000
"""Re-reads at or above this many files are parsed by a process pool."""
PARTIAL_QUERIES = 16
"""Folds of this many distinct queries (per name) are kept; the least recently
used beyond that are dropped, so odd --since/--until do not pile up."""
RACY_NS = early.RACY_NS
"""A dirty file modified this recently may change again within the same
mtime tick; its row is stored with an empty key so it is re-read next time."""
PARSE_CHUNK_ABOVE = 64
"""More changed paths than this in one month: parse its listing chunk once
rather than search it for each path."""
RACY_DIR_NS = RACY_NS
"""The same for a month directory's stat signature: one changed this recently
is listed again next time (`Index._dir_sigs`)."""

COLUMNS = (
    "path",
    "id",
    "key",
    "error",
    "status",
    "priority",
    "type",
    "tier",
    "assignee",
    "system",
    "module",
    "source",
    "key_user",
    "security",
    "opened_at",
    "responded_at",
    "resolved_at",
    "closed_at",
    "title",
    "aliases",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    path TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    error TEXT,
    status TEXT, priority TEXT, type TEXT, tier TEXT, assignee TEXT,
    system TEXT, module TEXT, source TEXT, key_user INTEGER, security INTEGER,
    opened_at TEXT, responded_at TEXT, resolved_at TEXT, closed_at TEXT,
    title TEXT, aliases TEXT
);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets(status);
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


# --- what a row says about a ticket -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SummaryState:
    """The part of `model.State` that lists and filters read."""

    status: Status
    tier: str
    assignee: str | None
    opened_at: dt.datetime
    responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Summary:
    """One ticket as the index knows it, shaped like a `Ticket` for read-only
    callers: ``id``, ``title``, ``type``, ``priority``, ``fields`` (the indexed
    descriptive fields), ``state`` (a `SummaryState`), ``opened_at``, ``is_open``.

    So `TicketFilter.matches`, `terminal.attention_key` and `terminal.list_json`
    give the same answers for a summary as for the parsed ticket.
    """

    id: str
    path: str
    title: str
    type: str
    priority: str
    fields: Mapping[str, Any]
    state: SummaryState
    aliases: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        return self.state.status

    @property
    def opened_at(self) -> dt.datetime:
        return self.state.opened_at

    @property
    def is_open(self) -> bool:
        return self.state.status in OPEN_STATUSES

    @classmethod
    def from_ticket(cls, ticket: Ticket, path: str) -> Summary:
        s = ticket.state
        f = ticket.fields
        return cls(
            id=ticket.id,
            path=path,
            title=ticket.title,
            type=ticket.type,
            priority=ticket.priority,
            fields={k: f.get(k) for k in _SUMMARY_FIELDS},
            state=SummaryState(
                s.status,
                s.tier,
                s.assignee,
                s.opened_at,
                s.responded_at,
                s.resolved_at,
                s.closed_at,
            ),
            aliases=ticket.aliases,
        )


_SUMMARY_FIELDS = (
    "title",
    "type",
    "priority",
    "system",
    "module",
    "source",
    "key_user",
    "security",
)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _row_of(path: str, key: str, ticket: Ticket | None, error: str | None) -> tuple[Any, ...]:
    stem = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    if ticket is None:
        return (path, stem, key, error or "unreadable") + (None,) * (len(COLUMNS) - 4)
    s = ticket.state
    f = ticket.fields
    return (
        path,
        stem,
        key,
        None,
        str(s.status),
        ticket.priority,
        ticket.type,
        s.tier,
        s.assignee,
        _str_or_none(f.get("system")),
        _str_or_none(f.get("module")),
        _str_or_none(f.get("source")),
        _flag(f.get("key_user")),
        _flag(f.get("security")),
        _iso(s.opened_at),
        _iso(s.responded_at),
        _iso(s.resolved_at),
        _iso(s.closed_at),
        ticket.title,
        json.dumps(list(ticket.aliases), ensure_ascii=False),
    )


def _str_or_none(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float) else str(value)


def _flag(value: Any) -> int | None:
    """Keep true/false/absent apart so `fields` reads back as written."""
    if value is None:
        return None
    return 1 if value else 0


def _summary_of(row: sqlite3.Row | tuple[Any, ...]) -> Summary:
    (
        path,
        tid,
        _key,
        _err,
        status,
        priority,
        type_,
        tier,
        assignee,
        system,
        module,
        source,
        key_user,
        security,
        opened,
        responded,
        resolved,
        closed,
        title,
        aliases,
    ) = tuple(row)
    fields = {
        "title": title,
        "type": type_,
        "priority": priority,
        "system": system,
        "module": module,
        "source": source,
        "key_user": None if key_user is None else bool(key_user),
        "security": None if security is None else bool(security),
    }
    opened_at = _time(opened)
    assert opened_at is not None
    state = SummaryState(
        Status(status), tier, assignee, opened_at, _time(responded), _time(resolved), _time(closed)
    )
    return Summary(
        tid, path, title, type_, priority, fields, state, tuple(json.loads(aliases or "[]"))
    )


# --- reading files (also in worker processes) ----------------------------------------

Loader = Callable[[Path], Ticket]
"""Parses one ticket file, raising `TicketError` with the message users see."""

Compute = tuple[str, str, Callable[[Ticket], dict[str, Any]]]
"""(name, version, function) of per-ticket facts computed while a file is parsed anyway."""
Result = tuple[tuple[Any, ...], list[tuple[str, str, str]]]
"""An index row and the (name, version, JSON) facts computed from the same parse."""

_WORKER: dict[str, Any] = {}


def _read_one(root: Path, load: Loader, path: str, key: str, computes: Sequence[Compute]) -> Result:
    try:
        ticket = load(root / path)
    except TicketError as exc:
        return _row_of(path, key, None, str(exc)), []
    facts = [
        (name, version, json.dumps(fn(ticket), ensure_ascii=False, default=str))
        for name, version, fn in computes
    ]
    return _row_of(path, key, ticket, None), facts


def _read_chunk(items: list[tuple[str, str]]) -> list[Result]:
    root, load, computes = _WORKER["root"], _WORKER["load"], _WORKER["computes"]
    return [_read_one(root, load, path, key, computes) for path, key in items]


# --- the index ------------------------------------------------------------------------


_TRACKED_RE = re.compile(r"[0-7]{6} ([0-9a-f]{40,64}) ([0-3])\t([^\0]*)\0")


@dataclasses.dataclass
class Snapshot:
    """What git and the file system say right now.

    ``tracked`` is the raw ``git ls-files -s -z`` output; while its digest
    and the dirty set are what the index last saw, nothing changed and no
    per-file work is needed (the warm path at 100,000 tickets). When git's
    index file is the one whose listing was recorded (`early.record`) the
    listing is not even produced: ``known_digest`` stands for it.
    ``untracked`` is filled in by the index from directory stat data
    (`Index._dir_sigs`), or by a full directory scan when first needed.
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
            self.known_digest = _sha1(self.tracked)
        return self.known_digest

    @property
    def keys(self) -> dict[str, str]:
        """path -> content key of every ticket file: ``b:<blob>`` for clean
        files, stat data for dirty ones (a full parse of git's listing)."""
        if self._keys is None:
            keys, unmerged = _listing_keys(self.tracked)
            if self.untracked is None:
                self.untracked = _scan_untracked(self.root, set(keys))
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


def _sha1(data: bytes) -> str:
    """Hex SHA-1 of git's listing or a part of it (hashlib is imported only
    when a listing is actually read: a warm read skips it)."""
    import hashlib

    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def stat_key(root: Path, path: str, now_ns: int) -> str | None:
    """The content key of a dirty or untracked file from its stat data
    (``r:`` when modified so recently that a same-size rewrite could keep it)."""
    try:
        st = os.stat(root / path)
    except OSError:
        return None
    racy = now_ns - st.st_mtime_ns < RACY_NS
    return ("r:" if racy else "s:") + f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def _listing_keys(listing: bytes) -> tuple[dict[str, str], set[str]]:
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


def _untracked_in(root: Path, shard: str, chunk: bytes) -> set[str]:
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


def _line_of(chunk: bytes, path: str) -> tuple[str | None, int]:
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


def _ticket_names(folder: str) -> list[str]:
    """Names `Store.ticket_paths` would yield in one month directory."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [n for n in names if n.endswith(".yaml") and not n.startswith(".")]


def _month_dirs(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
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


def _scan_untracked(root: Path, tracked: set[str]) -> set[str]:
    """Every ticket file on disk that git does not track (a full directory scan)."""
    found: set[str] = set()
    for shard, entry in _month_dirs(root):
        found.update(f"{shard}/{name}" for name in _ticket_names(entry.path))
    return found - tracked


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


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def path_order(path: str) -> tuple[str, ...]:
    """The order `Store.ticket_paths` yields files in: year, month, name."""
    return tuple(path.split("/"))


class Index:
    """The ticket index of one store. Create with `open_index`; call `refresh`
    (done once automatically on first use) to validate against git."""

    def __init__(
        self,
        root: Path,
        db_path: Path,
        load: Loader,
        git: Callable[..., list[bytes]],
        progress: bool | None = None,
    ) -> None:
        self.root = root
        self.db_path = db_path
        self.load = load
        self.git = git
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._db: sqlite3.Connection | None = None
        self._fresh = False
        self._snapshot: Snapshot | None = None
        self._snap: dict[str, str] | None = None
        self._current: dict[str, str] = {}
        """path -> key of the files the last refresh compared (the rest are unchanged)."""
        self._digests: dict[str, str] = {}
        self._new_chunks: dict[str, bytes] = {}
        self._pending: tuple[threading.Thread, list[Snapshot | BaseException]] | None = None
        self.reread = 0
        """How many files the last refresh parsed (for tests and the benchmark)."""

    # --- the database ------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._connect()
        return self._db

    def _connect(self) -> sqlite3.Connection:
        """Open, or silently recreate when missing, corrupt or of another schema."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(2):
            try:
                db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=NORMAL")
                    db.executescript(_SCHEMA)
                    row = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
                    if row is None or row[0] != SCHEMA_VERSION:
                        if row is not None:
                            raise sqlite3.DatabaseError("old schema")
                        db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                    return db
                except sqlite3.Error:
                    db.close()
                    raise
            except sqlite3.Error:
                if attempt:
                    raise
                self.discard()
        raise AssertionError("unreachable")  # pragma: no cover

    def discard(self) -> None:
        """Delete the database files; the next use rebuilds them."""
        if self._db is not None:
            self._db.close()
            self._db = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        self._fresh = False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def invalidate(self) -> None:
        """Forget that the index was checked: the next query checks again
        (after this process wrote tickets)."""
        self._fresh = False
        self._snap = None
        early.forget()
        if self._pending is not None:
            self._pending[0].join()
            self._pending = None  # it may predate the writes

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

    def _take_snapshot(self) -> Snapshot:
        """The prefetched snapshot if one is under way, else a new one."""
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

    def snapshot(self) -> Snapshot:
        """Blob IDs of tracked tickets (``ls-files -s``) and the tracked files
        changed or deleted in the work tree (``diff-files``, which lstat()s
        every file, racy-git safe): two concurrent git calls, or the ones
        `elinkctl.store.early` started when the process began."""
        root = str(self.root)
        raw = early.take(root)
        if raw is None:
            raw = early.run_snapshot(root, self.git)
        modified: set[str] = set()
        deleted: set[str] = set()
        fields = raw.changes.split(b"\0")
        for status, name in zip(fields[0::2], fields[1::2], strict=False):
            path = name.decode("utf-8", "surrogateescape")
            if is_ticket_path(path):
                (deleted if status == b"D" else modified).add(path)

        def fetch_listing() -> tuple[str | None, bytes]:
            sig = early.index_sig(root)
            return sig, self.git(early.LISTING)[0]

        return Snapshot(
            self.root,
            raw.listing,
            modified,
            deleted,
            fetch_listing=fetch_listing,
            known_digest=raw.digest,
            sig=raw.sig,
        )

    def _dir_sigs(self) -> dict[str, tuple[str, int]]:
        """shard -> (stat signature, newest of mtime and ctime in ns) of every
        month directory on disk.

        Creating, deleting or renaming a file changes its directory's mtime,
        so a directory whose signature is unchanged holds the same names as
        when it was last listed: untracked files are found without the
        directory walk of ``git ls-files -o`` (git's untracked cache works
        the same way). A signature too close to "now" is not trusted later
        (`RACY_DIR_NS`), as two changes within one timestamp tick look alike.
        """
        sigs: dict[str, tuple[str, int]] = {}
        for shard, entry in _month_dirs(self.root):
            try:
                st = entry.stat()
            except OSError:
                continue
            sigs[shard] = (
                f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}",
                max(st.st_mtime_ns, st.st_ctime_ns),
            )
        return sigs

    def refresh(self, computes: Sequence[Compute] = ()) -> None:
        """Make the rows match the work tree: drop vanished files, re-read changed ones.

        ``computes`` are evaluated on every ticket parsed here and cached, so a
        cold `facts` parses each file once.

        Which files to look at: git's listing is cut per month directory and
        each chunk's digest, with the directory's stat signature and the
        untracked files found in it, is kept in the ``listing`` table. Only
        directories whose chunk or signature changed, the files ``diff-files``
        names, and rows last made from stat data are compared file by file,
        so a pull that changed 100 tickets does not parse 100,000 lines.
        Without a usable ``listing`` table (a new index, an odd listing) every
        file is compared.
        """
        snap = self._take_snapshot()
        db = self.db
        self.reread = 0
        self._snap = None
        self._current = {}
        self._digests = {}
        now_ns = time.time_ns()
        sigs = self._dir_sigs()
        meta, state = self._read_state()
        if self._unchanged(snap, sigs, meta, state):
            snap.untracked = set()  # nothing changed since the rows were written
            self._record_listing(snap)
            self._snapshot = snap
            self._fresh = True
            return
        chunks = split_listing(snap.tracked)
        db.execute("BEGIN IMMEDIATE")
        try:
            # Compare with the rows as they are inside the writing transaction:
            # another process may have refreshed since the state was read, and
            # every month's rows must stay in step with its stored chunk.
            meta, state = self._read_state()
            if chunks is None or not state:
                keys = snap.keys  # every file: a new index, or a listing we cannot cut
                stored = dict(db.execute("SELECT path, key FROM tickets"))  # type: ignore[arg-type]
                examine: set[str] = set(keys) | set(stored)
                redo = set(chunks or ()) | set(sigs) | set(state)
                self._current = keys
            else:
                keys, stored, examine, redo = self._changed_files(snap, chunks, sigs, state, now_ns)
            gone = sorted(p for p in examine if p in stored and p not in keys)
            changed = [
                (p, keys[p]) for p in sorted(examine) if p in keys and stored.get(p) != keys[p]
            ]
            self.reread = len(changed)
            untracked = snap.untracked or set()
            # The statuses the rows have right now, to tell which changes touch
            # settled tickets.
            before = self._column_of([p for p, _ in changed])
            if gone:
                db.executemany("DELETE FROM tickets WHERE path=?", [(p,) for p in gone])
                db.executemany("DELETE FROM aliases WHERE path=?", [(p,) for p in gone])
                db.executemany("DELETE FROM facts WHERE path=?", [(p,) for p in gone])
            now_open: set[str] = set()
            for batch in self._read(changed, computes):
                now_open.update(self._store(batch))
            if gone or changed:
                touched = {shard_of(p) for p in gone} | {shard_of(p) for p, _ in changed}
                # Only settled tickets are folded into cached folds; an open
                # ticket that stays open (a comment, a pull of one) renews nothing.
                renew = {shard_of(p) for p in gone} | {
                    shard_of(p)
                    for p, _ in changed
                    if p not in now_open or (p in before and before[p] not in _OPEN)
                }
                self._renew_shards(touched, renew)
                # Rows changed: facts are known to be complete only where this
                # refresh computed them for every row it wrote.
                db.execute("DELETE FROM meta WHERE name LIKE 'facts:%'")
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        (f"facts:{name}", version)
                        for name, version, _ in computes
                        if meta.get(f"facts:{name}") == version
                    ],
                )
            self._save_listing(chunks, sigs, untracked, redo, now_ns)
            clean = (
                not snap.modified
                and not snap.deleted
                and not untracked
                and not any(keys[p].startswith("r:") for p in examine if p in keys)
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("tracked", snap.digest), ("clean", "1" if clean else "0")],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._record_listing(snap)
        self._snapshot = snap
        self._fresh = True

    def _read_state(self) -> tuple[dict[str, str], dict[str, tuple[str, str, str]]]:
        """The ``meta`` table, and per month: (chunk digest, directory signature,
        untracked names as JSON) from the ``listing`` table."""
        db = self.db
        meta = dict(db.execute("SELECT name, value FROM meta"))  # type: ignore[arg-type]
        state = {
            str(shard): (str(digest), str(dirsig), str(untracked))
            for shard, digest, dirsig, untracked in db.execute(
                "SELECT shard, digest, dirsig, untracked FROM listing"
            )
        }
        return meta, state

    @staticmethod
    def _unchanged(
        snap: Snapshot,
        sigs: dict[str, tuple[str, int]],
        meta: dict[str, str],
        state: dict[str, tuple[str, str, str]],
    ) -> bool:
        """The warm path: git's listing, the work tree and every month
        directory are as the rows were written, with nothing dirty then or now."""
        return (
            not snap.modified
            and not snap.deleted
            and meta.get("clean") == "1"
            and meta.get("tracked") == snap.digest
            and {s: sig for s, (sig, _) in sigs.items()}
            == {s: sig for s, (_, sig, _) in state.items() if sig}
        )

    def _record_listing(self, snap: Snapshot) -> None:
        """Let the next check skip ``ls-files`` while git's index file stays the same."""
        if snap.raw_listing is not None and snap.sig is not None:
            early.record(str(self.root), snap.sig, snap.digest)

    def _changed_files(
        self,
        snap: Snapshot,
        chunks: dict[str, bytes],
        sigs: dict[str, tuple[str, int]],
        state: dict[str, tuple[str, str, str]],
        now_ns: int,
    ) -> tuple[dict[str, str], dict[str, str], set[str], set[str]]:
        """The files that may differ from their rows, with their current and
        stored keys, and the month directories whose ``listing`` entry is redone.

        Per month directory: a changed chunk of git's listing is compared line
        by line with the chunk stored last time (a pull that changed 100
        tickets names 100 paths, whatever the size of their months); a changed
        directory signature only means listing its untracked files again.

        Returns (current keys, stored keys, paths to compare, shards to redo).
        """
        db = self.db
        redo: set[str] = set()
        new_chunks: dict[str, bytes] = {}
        examine: set[str] = set(snap.modified) | set(snap.deleted)
        untracked: set[str] = set()
        for shard in set(chunks) | set(sigs) | set(state):
            chunk = chunks.get(shard, b"")
            digest = _sha1(chunk)
            old = state.get(shard)
            sig = sigs[shard][0] if shard in sigs else ""
            old_untracked = {f"{shard}/{n}" for n in json.loads(old[2] or "[]")} if old else set()
            if old is not None and old[0] == digest and old[1] == sig:
                untracked |= old_untracked
                continue
            redo.add(shard)
            self._digests[shard] = digest
            if old is None or old[0] != digest:
                new_chunks[shard] = chunk
                examine |= self._chunk_changes(shard, chunk, old is not None)
            found = _untracked_in(self.root, shard, chunk) if shard in sigs else set()
            examine |= found | old_untracked
            untracked |= found
        snap.untracked = untracked
        examine |= untracked
        # Rows made from stat data (dirty, untracked or racy files) are compared
        # again even when git's listing says nothing: an edit may have been undone.
        stored: dict[str, str] = dict(
            db.execute("SELECT path, key FROM tickets WHERE key NOT LIKE 'b:%'")  # type: ignore[arg-type]
        )
        examine.update(stored)
        rest = [p for p in examine if p not in stored]
        stored.update((p, k) for p, k in self._column_of(rest, "key").items() if k is not None)
        keys: dict[str, str] = {}
        per_shard: dict[str, int] = {}
        for path in examine:
            per_shard[shard_of(path)] = per_shard.get(shard_of(path), 0) + 1
        parsed = {  # many paths of one month: parse its chunk once instead of searching
            shard: _listing_keys(chunks.get(shard, b""))
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
                blob, stages = _line_of(chunks.get(shard, b""), path)
            if path in snap.modified or path in untracked or stages > 1 or blob is None:
                key = stat_key(self.root, path, now_ns) if blob or path in untracked else None
                if key is not None:
                    keys[path] = key
            else:
                keys[path] = "b:" + blob
        self._new_chunks = new_chunks
        self._current = keys
        return keys, stored, examine, redo

    def _chunk_changes(self, shard: str, chunk: bytes, known: bool) -> set[str]:
        """Paths whose line in a month's listing chunk differs from the stored
        chunk; every path of the month (listed or with a row) without one."""
        old = None
        if known:
            row = self.db.execute("SELECT chunk FROM listing WHERE shard=?", (shard,)).fetchone()
            old = row[0] if row is not None else None
        if old is None:
            rows = self.db.execute(
                "SELECT path FROM tickets WHERE path >= ? AND path < ?",
                (shard + "/", shard + "0"),  # every path in it starts "<shard>/"
            )
            paths = {str(p) for (p,) in rows}
            return paths | set(_listing_keys(chunk)[0])
        lines = set(chunk.split(b"\0")) ^ set(bytes(old).split(b"\0"))
        changed = set()
        for line in lines:
            _, tab, path = line.partition(b"\t")
            if tab:
                text = path.decode("utf-8", "surrogateescape")
                if is_ticket_path(text):
                    changed.add(text)
        return changed

    def _save_listing(
        self,
        chunks: dict[str, bytes] | None,
        sigs: dict[str, tuple[str, int]],
        untracked: set[str],
        redo: set[str],
        now_ns: int,
    ) -> None:
        """Record, per redone month directory, its listing chunk and digest, its
        directory signature (``racy`` when too recent to trust) and its
        untracked files. (Call inside the writing transaction.)"""
        db = self.db
        if chunks is None:
            db.execute("DELETE FROM listing")  # compare every file next time too
            return
        new_chunks = self._new_chunks
        by_shard: dict[str, list[str]] = {}
        for path in untracked:
            folder, _, name = path.rpartition("/")
            by_shard.setdefault(folder, []).append(name)
        for shard in sorted(redo):
            if shard not in chunks and shard not in sigs:
                db.execute("DELETE FROM listing WHERE shard=?", (shard,))
                continue
            sig, newest = sigs.get(shard, ("", 0))
            if sig and now_ns - newest < RACY_DIR_NS:
                sig = "racy"
            names = json.dumps(sorted(by_shard.get(shard, ())), ensure_ascii=False)
            if shard in new_chunks or self._digests.get(shard) is None:
                chunk = chunks.get(shard, b"")
                digest = self._digests.get(shard) or _sha1(chunk)
                db.execute(
                    "INSERT OR REPLACE INTO listing VALUES (?, ?, ?, ?, ?)",
                    (shard, digest, sig, names, chunk),
                )
            else:  # same chunk: only the directory changed
                db.execute(
                    "UPDATE listing SET dirsig=?, untracked=? WHERE shard=?", (sig, names, shard)
                )
        self._digests = {}
        self._new_chunks = {}

    def _column_of(self, paths: list[str], column: str = "status") -> dict[str, str | None]:
        """path -> ``status`` (or ``key``) of those of ``paths`` that have a row:
        statuses before rows are rewritten tell which changes touch settled
        tickets; keys are what `keys_of` and a refresh compare."""
        assert column in ("status", "key")
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (path TEXT PRIMARY KEY)")
        db.execute("DELETE FROM wanted")
        db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(p,) for p in paths])
        # CROSS JOIN keeps SQLite's loop order: the few wanted paths, each
        # looked up by primary key (a plain JOIN may scan all 100,000 rows).
        rows = db.execute(
            f"SELECT t.path, t.{column} FROM wanted w CROSS JOIN tickets t ON t.path=w.path"
        )
        return {str(path): status for path, status in rows}

    def _renew_shards(self, touched: Iterable[str], renew: Iterable[str] | None = None) -> None:
        """Recount the rows of ``touched`` shards; new generations for those in
        ``renew`` (default: all), so folds cached under the old ones are never
        used again. (Call inside the writing transaction.)

        A generation covers the shard's settled (not open) tickets: folds cache
        only those (`settled_facts`); open ones are always read afresh
        (`open_facts`). The row count lets `shard_gens` tell that the table
        covers every row without reading them."""
        db = self.db
        renewing = set(touched if renew is None else renew)
        for shard in sorted(touched):
            (rows,) = db.execute(
                "SELECT count(*) FROM tickets WHERE path >= ? AND path < ?",
                (shard + "/", shard + "0"),  # every path of the shard starts with "<shard>/"
            ).fetchone()
            if not rows:
                db.execute("DELETE FROM shards WHERE shard=?", (shard,))
            elif shard in renewing:
                db.execute(
                    "INSERT OR REPLACE INTO shards VALUES (?, ?, ?)",
                    (shard, uuid.uuid4().hex, rows),
                )
            else:
                db.execute(
                    "INSERT INTO shards VALUES (?, ?, ?) ON CONFLICT(shard) DO UPDATE SET rows=?",
                    (shard, uuid.uuid4().hex, rows, rows),
                )

    def _store(self, batch: list[Result]) -> set[str]:
        """Write rows (racy keys stored empty: read again next time) and their
        facts; return the paths of the open tickets among them."""
        db = self.db
        rows = [(r[0], r[1], "" if str(r[2]).startswith("r:") else r[2], *r[3:]) for r, _ in batch]
        db.executemany(
            f"INSERT OR REPLACE INTO tickets VALUES ({','.join('?' * len(COLUMNS))})", rows
        )
        db.executemany("DELETE FROM aliases WHERE path=?", [(r[0],) for r in rows])
        db.executemany(
            "INSERT INTO aliases VALUES (?, ?, ?)",
            [(a, r[1], r[0]) for r in rows if r[19] for a in json.loads(r[19])],
        )
        db.executemany(
            "INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?)",
            [
                (name, version, row[0], row[2], data)
                for (_, facts), row in zip(batch, rows, strict=True)
                for name, version, data in facts
            ],
        )
        return {str(r[0]) for r in rows if r[4] in _OPEN}

    def _read(
        self, items: list[tuple[str, str]], computes: Sequence[Compute]
    ) -> Iterator[list[Result]]:
        """Parse files in path order, in batches; a process pool for big re-reads."""
        items = sorted(items, key=lambda it: path_order(it[0]))
        bar = Progress(len(items), "indexing tickets", self.progress and len(items) >= 2000)
        chunks = [items[i : i + 500] for i in range(0, len(items), 500)]
        try:
            procs = os.cpu_count() or 1
            if len(items) >= PARALLEL_MIN and procs > 1 and sys.platform != "win32":
                import multiprocessing

                _WORKER.update(root=self.root, load=self.load, computes=list(computes))
                ctx = multiprocessing.get_context("fork")
                with ctx.Pool(min(procs, 8)) as pool:
                    for part in pool.imap(_read_chunk, chunks):
                        bar.step(len(part))
                        yield part
                return
            for chunk in chunks:
                part = [_read_one(self.root, self.load, p, k, computes) for p, k in chunk]
                bar.step(len(part))
                yield part
        finally:
            _WORKER.clear()
            bar.finish()

    def ensure_fresh(self) -> None:
        if not self._fresh:
            self.refresh()

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
        # SQLite's binary order of these ASCII paths is `path_order` (see iter_facts).
        rows = self.db.execute(sql + " ORDER BY path", args).fetchall()
        return [_summary_of(r) for r in rows]

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
        if self._snap is None:
            self._snap = self.snapshot().keys
        return list(self._snap)

    def ids(self) -> list[str]:
        """Every ticket file's ID (its name), parseable or not, in path order."""
        return [_stem(p) for p in sorted(self._paths(), key=path_order)]

    def match_ids(self, fragment: str) -> list[str]:
        """IDs (file names) starting or ending with ``fragment``, in path order."""
        return [stem for stem in self.ids() if stem.startswith(fragment) or stem.endswith(fragment)]

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
        found: dict[str, str | None] = {p: self._current[p] for p in wanted if p in self._current}
        rest = [p for p in wanted if p not in found]
        if rest:
            rows = self._column_of(rest, "key")
            found.update((p, rows.get(p) or None) for p in rest)
        return found

    # --- cached per-ticket facts ------------------------------------------------------

    _FACTS_QUERY = (
        "SELECT t.path, t.id, t.key, f.data FROM tickets t LEFT JOIN facts f "
        "ON f.name=? AND f.path=t.path AND f.key=t.key AND f.version=? "
        "WHERE t.error IS NULL"
    )

    def iter_facts(
        self, name: str, version: str, compute: Callable[[Ticket], dict[str, Any]]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(ID, ``compute(ticket)``) for every parseable ticket in path order, cached.

        A cached value is reused only while the ticket file's content key and
        ``version`` are unchanged; make ``version`` from your code version and
        everything else the value depends on (e.g. `rules_digest`). Only
        new or changed tickets are parsed (once, together with the index
        refresh); ``compute`` must return JSON-able data and must not depend
        on "now". Unparseable tickets are absent (see `errors`).
        """
        computed = self.ensure_facts(name, version, compute)
        # Streamed in path order (SQLite's binary order of these ASCII paths),
        # so memory does not grow with the store.
        rows = self.db.execute(self._FACTS_QUERY + " ORDER BY t.path", (name, version))
        loads = json.loads
        for path, tid, _key, data in rows:
            text = data if data is not None else computed.get(path)
            if text is not None:
                yield tid, loads(text)

    def ensure_facts(
        self, name: str, version: str, compute: Callable[[Ticket], dict[str, Any]]
    ) -> dict[str, str]:
        """Refresh, then compute and store the facts every parseable ticket lacks.

        Returns the JSON of facts that could not be stored under the row's key
        (by path); `iter_facts` and `shard_facts` fall back to it.

        Looking for missing facts is a join over every row (a fifth of a
        second at 100,000 tickets), so completeness is remembered in ``meta``
        (``facts:<name>`` = version) until `refresh` writes any row.
        """
        if not self._fresh:
            self.refresh([(name, version, compute)])
        db = self.db
        marker = f"facts:{name}"
        row = db.execute("SELECT value FROM meta WHERE name=?", (marker,)).fetchone()
        if row is not None and row[0] == version:
            return {}
        computed: dict[str, str] = {}
        db.execute("BEGIN IMMEDIATE")  # no refresh elsewhere until the marker is set
        try:
            expected = {
                str(path): str(key)
                for path, _, key, _ in db.execute(
                    self._FACTS_QUERY + " AND f.data IS NULL", (name, version)
                )
            }
            if expected:
                db.execute("DELETE FROM facts WHERE name=? AND version<>?", (name, version))
            stored: dict[str, str] = {}
            missing = [(path, self._current.get(path, key)) for path, key in expected.items()]
            for batch in self._read(missing, [(name, version, compute)]):
                rows = [
                    (name, version, row[0], "" if str(row[2]).startswith("r:") else row[2], f[0][2])
                    for row, f in batch
                    if row[3] is None and f
                ]
                computed.update((r[2], r[4]) for r in rows)
                stored.update((r[2], r[3]) for r in rows)
                db.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?)", rows)
            if stored == expected:  # every parseable row now has facts under its key
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (marker, version))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return computed

    # --- cached folds per month directory ---------------------------------------------

    def shard_gens(self) -> dict[str, str]:
        """shard -> its current generation, for every month directory that holds
        a ticket row (a fold cached under another generation is stale)."""
        self.ensure_fresh()
        gens = self._read_shards()
        (total,) = self.db.execute("SELECT count(*) FROM tickets").fetchone()
        if sum(rows for _, rows in gens.values()) != total:
            self._repair_shards()  # never expected; cheap to check, so checked
            gens = self._read_shards()
        return {shard: gen for shard, (gen, _) in gens.items()}

    def _read_shards(self) -> dict[str, tuple[str, int]]:
        rows = self.db.execute("SELECT shard, gen, rows FROM shards")
        return {str(shard): (str(gen), int(n)) for shard, gen, n in rows}

    def _repair_shards(self) -> None:
        """Start every shard afresh from the rows (new generations for all)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM shards")
            self._renew_shards(
                {shard_of(str(p)) for (p,) in db.execute("SELECT path FROM tickets")}
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def settled_facts(
        self, name: str, version: str, shard: str, computed: Mapping[str, str]
    ) -> Iterator[str]:
        """The facts (JSON text) of one shard's parseable tickets that are not
        open: what a shard's generation covers (see `_renew_shards`)."""
        return self._facts_where(
            name,
            version,
            computed,
            f" AND t.path >= ? AND t.path < ? AND t.status NOT IN ({_OPEN_SQL})",
            # Every path of the shard starts with "<shard>/"; "0" follows "/".
            (shard + "/", shard + "0"),
        )

    def open_facts(self, name: str, version: str, computed: Mapping[str, str]) -> Iterator[str]:
        """The facts (JSON text) of every open ticket: never covered by a shard's
        generation, so folded afresh by callers each time."""
        return self._facts_where(name, version, computed, f" AND t.status IN ({_OPEN_SQL})", ())

    def _facts_where(
        self,
        name: str,
        version: str,
        computed: Mapping[str, str],
        where: str,
        args: tuple[str, ...],
    ) -> Iterator[str]:
        """Facts as stored by `ensure_facts` (``computed`` is what it returned).

        Raises `StoreError` (callers fall back to parsing) if a ticket has none,
        after forgetting that the facts were complete, so the next use repairs it.
        """
        rows = self.db.execute(
            self._FACTS_QUERY + where + " ORDER BY t.path", (name, version, *args)
        ).fetchall()
        for path, _tid, _key, data in rows:
            text = data if data is not None else computed.get(path)
            if text is None:
                self.db.execute("DELETE FROM meta WHERE name=?", (f"facts:{name}",))
                raise StoreError(f"index: no {name} facts for {path}")
            yield text

    def partials(self, name: str, query: str) -> dict[str, tuple[str, bytes]]:
        """shard -> (generation, data) of the folds cached for ``query``."""
        rows = self.db.execute(
            "SELECT shard, gen, data FROM partials WHERE name=? AND query=?", (name, query)
        )
        return {str(shard): (str(gen), bytes(data)) for shard, gen, data in rows}

    def put_partials(self, name: str, query: str, folds: Sequence[tuple[str, str, bytes]]) -> None:
        """Cache (shard, generation, data) folds of ``query``; mark the query as
        used and drop the least recently used queries beyond `PARTIAL_QUERIES`.

        A cache write that fails (a locked or read-only database) is skipped:
        the answer was computed anyway.
        """
        db = self.db
        now = time.time()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO partials VALUES (?, ?, ?, ?, ?, ?)",
                    [(name, query, shard, gen, data, now) for shard, gen, data in folds],
                )
                db.execute(
                    "UPDATE partials SET used=? WHERE name=? AND query=?", (now, name, query)
                )
                db.execute(
                    "DELETE FROM partials WHERE name=? AND query NOT IN (SELECT query FROM "
                    "partials WHERE name=? GROUP BY query ORDER BY max(used) DESC LIMIT ?)",
                    (name, name, PARTIAL_QUERIES),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError:
            pass

    def facts(
        self, name: str, version: str, compute: Callable[[Ticket], dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """`iter_facts` as a dict by ID (path order)."""
        return dict(self.iter_facts(name, version, compute))


def rules_digest(root: Path, names: Sequence[str] = ("sla.yaml", "escalation.yaml")) -> str:
    """A short hash of the rule files, for `Index.facts` versions that depend on them."""
    import hashlib

    h = hashlib.sha1(usedforsecurity=False)
    for name in names:
        try:
            h.update((root / name).read_bytes())
        except OSError:
            h.update(b"\0missing")
        h.update(b"\0")
    return h.hexdigest()[:16]


def code_digest(*modules: Any) -> str:
    """A short hash of modules' source files (and their imports' versions are the
    caller's business): cached facts are recomputed when the code computing them
    changes, even without a version bump."""
    import hashlib

    from elinkctl import __version__

    h = hashlib.sha1(__version__.encode(), usedforsecurity=False)
    for module in modules:
        try:
            h.update(Path(module.__file__).read_bytes())
        except (OSError, TypeError, AttributeError):
            h.update(repr(module).encode())
    return h.hexdigest()[:16]
