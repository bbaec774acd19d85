"""Folds of many tickets' facts, cached per month directory and query.

A feature that folds every ticket's facts (`stats`) can keep one fold per
month directory ("shard") of its settled (not open) tickets: those change
only when a ticket of the month is written, deleted or settled, and each
such change renews the month's generation in the index
(`Index.renew_shards`). A cached fold is used only under the generation it
was made from, so a warm run folds nothing but the open tickets, and a pull
refolds only the months whose settled tickets changed.

A `FoldCache` stores what the caller folds (any picklable object of one
class) in the index's ``partials`` table, by (name, query, shard). The
query is the caller's text for everything a fold depends on besides the
month's tickets (facts version, filters, code). Only the `PARTIAL_QUERIES`
most recently used queries per name are kept.

Pickle is safe here: the data is written by this program into the
repository's own ``.git`` directory, where anyone able to write can already
run code through hooks. A fold that does not unpickle to the expected class
is refolded.
"""

from __future__ import annotations

import pickle
import sqlite3
import time
from typing import Generic, TypeVar

from elinkctl.cache.index import Index
from elinkctl.cache.listing import shard_of

T = TypeVar("T")

PARTIAL_QUERIES = 16
"""Folds of this many distinct queries (per name) are kept; the least recently
used beyond that are dropped, so odd --since/--until do not pile up."""


def shard_gens(index: Index) -> dict[str, str]:
    """shard -> its current generation, for every month directory that holds
    a ticket row (a fold cached under another generation is stale)."""
    index.ensure_fresh()
    gens = _read_shards(index)
    (total,) = index.db.execute("SELECT count(*) FROM tickets").fetchone()
    if sum(rows for _, rows in gens.values()) != total:
        _repair_shards(index)  # never expected; cheap to check, so checked
        gens = _read_shards(index)
    return {shard: gen for shard, (gen, _) in gens.items()}


def _read_shards(index: Index) -> dict[str, tuple[str, int]]:
    rows = index.db.execute("SELECT shard, gen, rows FROM shards")
    return {str(shard): (str(gen), int(n)) for shard, gen, n in rows}


def _repair_shards(index: Index) -> None:
    """Start every shard afresh from the rows (new generations for all)."""
    db = index.db
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM shards")
        index.renew_shards({shard_of(str(p)) for (p,) in db.execute("SELECT path FROM tickets")})
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class FoldCache(Generic[T]):
    """The cached folds (objects of class ``kind``) of one query, per month.

    Use: for each (shard, generation) of `shard_gens`, `get` the fold or make
    it and `put` it; then `save` once.
    """

    def __init__(self, index: Index, name: str, query: str, kind: type[T]) -> None:
        self.index = index
        self.name = name
        self.query = query
        self.kind = kind
        rows = index.db.execute(
            "SELECT shard, gen, data FROM partials WHERE name=? AND query=?", (name, query)
        )
        self._cached = {str(shard): (str(gen), bytes(data)) for shard, gen, data in rows}
        self._made: list[tuple[str, str, bytes]] = []

    def get(self, shard: str, gen: str) -> T | None:
        """The fold of ``shard`` cached under generation ``gen``, else None."""
        hit = self._cached.get(shard)
        if hit is None or hit[0] != gen:
            return None
        try:
            fold = pickle.loads(hit[1])
        except Exception:  # noqa: BLE001 - unreadable: the cache is disposable
            return None
        return fold if isinstance(fold, self.kind) else None

    def put(self, shard: str, gen: str, fold: T) -> None:
        """Keep a fold made under generation ``gen`` (written by `save`)."""
        self._made.append((shard, gen, pickle.dumps(fold, pickle.HIGHEST_PROTOCOL)))

    def save(self) -> None:
        """Write the folds `put` since the last save; mark the query as used and
        drop the least recently used queries beyond `PARTIAL_QUERIES`.

        A cache write that fails (a locked or read-only database) is skipped:
        the answer was computed anyway.
        """
        made, self._made = self._made, []
        db = self.index.db
        now = time.time()
        name, query = self.name, self.query
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO partials VALUES (?, ?, ?, ?, ?, ?)",
                    [(name, query, shard, gen, data, now) for shard, gen, data in made],
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
