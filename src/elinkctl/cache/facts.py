"""Per-ticket facts cached by content: compute once per version of a file.

A feature that needs something of every ticket (the KPI facts of `stats`,
the matching keys of `ingest`) names it, gives a version and a function of
the ticket, and reads the results through `Facts`. A cached value is reused
only while the ticket file's content key (`elinkctl.cache.listing`) and the
version are unchanged; make the version from everything else the value
depends on (`elinkctl.cache.versions`). Only new or changed tickets are
parsed, once, together with the index refresh; the function must return
JSON-able data and must not depend on "now".

Facts live in the index's ``facts`` table; whether every row has them is
remembered in ``meta`` (``facts:<name>`` = version) until a refresh writes
a row, since looking for missing ones is a join over every row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from elinkctl.cache.index import Index
from elinkctl.cache.listing import shard_range
from elinkctl.cache.rows import OPEN_SQL
from elinkctl.domain.model import Ticket
from elinkctl.errors import StoreError

_QUERY = (
    "SELECT t.path, t.id, t.key, f.data FROM tickets t LEFT JOIN facts f "
    "ON f.name=? AND f.path=t.path AND f.key=t.key AND f.version=? "
    "WHERE t.error IS NULL"
)


class Facts:
    """``compute(ticket)`` of every parseable ticket, cached in ``index`` under
    ``name`` by the ticket file's content key and ``version``."""

    def __init__(
        self,
        index: Index,
        name: str,
        version: str,
        compute: Callable[[Ticket], dict[str, Any]],
    ) -> None:
        self.index = index
        self.name = name
        self.version = version
        self.compute = compute
        self._computed: dict[str, str] | None = None

    def ensure(self) -> None:
        """Refresh the index, then compute and store the facts every parseable
        ticket lacks (once per instance).

        Facts that could not be stored under their row's key (a racily new
        file) are kept in memory for this instance's reads.
        """
        if self._computed is not None:
            return
        idx, name, version = self.index, self.name, self.version
        computes = [(name, version, self.compute)]
        if not idx.fresh:
            idx.refresh(computes)
        db = idx.db
        marker = f"facts:{name}"
        row = db.execute("SELECT value FROM meta WHERE name=?", (marker,)).fetchone()
        if row is not None and row[0] == version:
            self._computed = {}
            return
        computed: dict[str, str] = {}
        db.execute("BEGIN IMMEDIATE")  # no refresh elsewhere until the marker is set
        try:
            expected = {
                str(path): str(key)
                for path, _, key, _ in db.execute(_QUERY + " AND f.data IS NULL", (name, version))
            }
            if expected:
                db.execute("DELETE FROM facts WHERE name=? AND version<>?", (name, version))
            stored: dict[str, str] = {}
            missing = [(path, idx.current.get(path, key)) for path, key in expected.items()]
            for batch in idx.read(missing, computes):
                rows = [
                    (name, version, row[0], "" if str(row[2]).startswith("r:") else row[2], f[0][2])
                    for row, f in batch
                    if row[3] is None and f
                ]
                # Only facts stored under no key (a racily new file) are read
                # back from memory: keeping every ticket's would hold the whole
                # store's facts at once (a 300,000-ticket rebuild peaked at 1 GB).
                computed.update((r[2], r[4]) for r in rows if not r[3])
                stored.update((r[2], r[3]) for r in rows)
                db.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?, ?)", rows)
            if stored == expected:  # every parseable row now has facts under its key
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (marker, version))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._computed = computed

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(ID, facts) of every parseable ticket, in path order, streamed
        (memory does not grow with the store). Unparseable tickets are absent
        (see `Index.errors`)."""
        self.ensure()
        computed = self._computed or {}
        # SQLite's binary order of these ASCII paths is path order.
        rows = self.index.db.execute(_QUERY + " ORDER BY t.path", (self.name, self.version))
        loads = json.loads
        for path, tid, _key, data in rows:
            text = data if data is not None else computed.get(path)
            if text is not None:
                yield tid, loads(text)

    def by_id(self) -> dict[str, dict[str, Any]]:
        """`items` as a dict by ID (path order)."""
        return dict(self.items())

    def settled(self, shard: str) -> Iterator[str]:
        """The facts (JSON text) of one month directory's parseable tickets
        that are not open: what the month's generation covers
        (`Index.renew_shards`)."""
        lo, hi = shard_range(shard)
        where = f" AND t.path >= ? AND t.path < ? AND t.status NOT IN ({OPEN_SQL})"
        return self._where(where, (lo, hi))

    def open(self) -> Iterator[str]:
        """The facts (JSON text) of every open ticket: never covered by a
        generation, so folded afresh by callers each time."""
        return self._where(f" AND t.status IN ({OPEN_SQL})", ())

    def _where(self, where: str, args: tuple[str, ...]) -> Iterator[str]:
        """Facts of the rows matching ``where``, as stored by `ensure`.

        Raises `StoreError` (callers fall back to parsing) if a ticket has none,
        after forgetting that the facts were complete, so the next use repairs it.
        """
        self.ensure()
        computed = self._computed or {}
        db = self.index.db
        rows = db.execute(
            _QUERY + where + " ORDER BY t.path", (self.name, self.version, *args)
        ).fetchall()
        for path, _tid, _key, data in rows:
            text = data if data is not None else computed.get(path)
            if text is None:
                db.execute("DELETE FROM meta WHERE name=?", (f"facts:{self.name}",))
                raise StoreError(f"index: no {self.name} facts for {path}")
            yield text
