"""One ticket file as a row of the index, and back as a `Summary`.

A row holds what `list` shows and filters on (status, priority, times,
descriptive fields), the file's content key and, for a file that does not
parse, the error users see instead. `read_files` parses the files whose
rows are missing or stale, in a process pool for big rebuilds, computing
per-ticket facts (`elinkctl.cache.facts`) from the same parse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl.cache.blobs import FETCH_ABOVE, fetch_missing
from elinkctl.cache.listing import path_order
from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.errors import TicketError
from elinkctl.progress import Progress

if TYPE_CHECKING:
    import sqlite3

OPEN = frozenset(str(s) for s in OPEN_STATUSES)
OPEN_SQL = ",".join(f"'{s}'" for s in sorted(OPEN))  # fixed enum values, no user input
PARALLEL_MIN = 3000
"""Re-reads at or above this many files are parsed by a process pool."""

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
    "promise_at",
)
"""The columns of the ``tickets`` table, in order (`elinkctl.cache.index`)."""


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
    promise_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class Summary:
    """One ticket as the index knows it, shaped like a `Ticket` for read-only
    callers: ``id``, ``title``, ``type``, ``priority``, ``fields`` (the indexed
    descriptive fields), ``state`` (a `SummaryState`), ``opened_at``, ``is_open``.

    So `TicketFilter.matches`, `views.attention_key` and `views.list_json`
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
                s.promise_at,
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


def row_of(path: str, key: str, ticket: Ticket | None, error: str | None) -> tuple[Any, ...]:
    """The ``tickets`` row of a file: its ticket, or (``ticket`` None) its error."""
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
        _iso(s.promise_at),
    )


def _str_or_none(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float) else str(value)


def _flag(value: Any) -> int | None:
    """Keep true/false/absent apart so `fields` reads back as written."""
    if value is None:
        return None
    return 1 if value else 0


def summary_of(row: sqlite3.Row | tuple[Any, ...]) -> Summary:
    """The `Summary` of a ``tickets`` row of a parseable file (`COLUMNS` order)."""
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
        promise,
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
        Status(status),
        tier,
        assignee,
        opened_at,
        _time(responded),
        _time(resolved),
        _time(closed),
        _time(promise),
    )
    return Summary(
        tid, path, title, type_, priority, fields, state, tuple(json.loads(aliases or "[]"))
    )


def column_of(
    db: sqlite3.Connection, paths: Iterable[str], column: str = "status"
) -> dict[str, str | None]:
    """path -> ``status`` (or ``key``) of those of ``paths`` that have a row:
    statuses before rows are rewritten tell which changes touch settled
    tickets; keys are what `Index.keys_of` and a refresh compare."""
    assert column in ("status", "key")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (path TEXT PRIMARY KEY)")
    db.execute("DELETE FROM wanted")
    db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(p,) for p in paths])
    # CROSS JOIN keeps SQLite's loop order: the few wanted paths, each
    # looked up by primary key (a plain JOIN may scan all 100,000 rows).
    rows = db.execute(
        f"SELECT t.path, t.{column} FROM wanted w CROSS JOIN tickets t ON t.path=w.path"
    )
    return {str(path): status for path, status in rows}


# --- reading files (also in worker processes) ----------------------------------------

Loader = Callable[[Path], Ticket]
"""Parses one ticket file, raising `TicketError` with the message users see."""
BlobLoader = Callable[[Path, str], Ticket]
"""Parses the blob (ID) git's index names for a ticket file the work tree
does not hold (a sparse checkout: `elinkctl.cache.blobs`), as `Loader` does
the file; raises `NotFound` where the store is not sparse."""

Compute = tuple[str, str, Callable[[Ticket], dict[str, Any]]]
"""(name, version, function) of per-ticket facts computed while a file is parsed anyway."""
Result = tuple[tuple[Any, ...], list[tuple[str, str, str]]]
"""A ``tickets`` row and the (name, version, JSON) facts computed from the same parse."""

_WORKER: dict[str, Any] = {}


def read_one(
    root: Path,
    load: Loader,
    path: str,
    key: str,
    computes: Sequence[Compute],
    load_blob: BlobLoader | None = None,
) -> Result:
    """Parse one file into its row and facts (an unparseable file: a row with its error).

    A clean tracked file (key ``b:<blob>``) that is not in the work tree,
    though ``git diff-files`` did not call it deleted, is a skip-worktree
    entry of a sparse checkout: read from that blob through ``load_blob``."""
    try:
        if load_blob is not None and key.startswith("b:") and not os.path.lexists(root / path):
            ticket = load_blob(root / path, key[2:])
        else:
            ticket = load(root / path)
    except TicketError as exc:
        return row_of(path, key, None, str(exc)), []
    facts = [
        (name, version, json.dumps(fn(ticket), ensure_ascii=False, default=str))
        for name, version, fn in computes
    ]
    return row_of(path, key, ticket, None), facts


def _read_chunk(items: list[tuple[str, str]]) -> list[Result]:
    root, load, computes = _WORKER["root"], _WORKER["load"], _WORKER["computes"]
    blob = _WORKER["load_blob"]
    return [read_one(root, load, path, key, computes, blob) for path, key in items]


def read_files(
    root: Path,
    load: Loader,
    items: Iterable[tuple[str, str]],
    computes: Sequence[Compute],
    progress: bool,
    load_blob: BlobLoader | None = None,
) -> Iterator[list[Result]]:
    """Parse (path, key) files in path order, in batches; a process pool for
    big re-reads (a progress bar for big ones when ``progress``)."""
    ordered = sorted(items, key=lambda it: path_order(it[0]))
    if load_blob is not None and len(ordered) > FETCH_ABOVE:
        # A partial clone fetches the blobs it is about to read in one request.
        absent = [
            key[2:]
            for path, key in ordered
            if key.startswith("b:") and not os.path.lexists(root / path)
        ]
        fetch_missing(root, absent)
    bar = Progress(len(ordered), "indexing tickets", progress and len(ordered) >= 2000)
    chunks = [ordered[i : i + 500] for i in range(0, len(ordered), 500)]
    try:
        procs = os.cpu_count() or 1
        if len(ordered) >= PARALLEL_MIN and procs > 1 and sys.platform != "win32":
            import multiprocessing

            _WORKER.update(root=root, load=load, computes=list(computes), load_blob=load_blob)
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(procs, 8)) as pool:
                for part in pool.imap(_read_chunk, chunks):
                    bar.step(len(part))
                    yield part
            return
        for chunk in chunks:
            part = [read_one(root, load, p, k, computes, load_blob) for p, k in chunk]
            bar.step(len(part))
            yield part
    finally:
        _WORKER.clear()
        bar.finish()
