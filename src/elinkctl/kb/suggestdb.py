"""The suggestion index: what `new` searches, read a few rows at a time.

`SearchIndex` is loaded whole. At 100,000 resolved incidents that is half a
second of JSON and arrays before the first posting is read, for the three
suggestion lines `new` prints. `SuggestIndex` keeps a part of it in SQLite
instead, one row per term holding that term's postings, so a query reads
the rows of its own terms and the few documents it returns.

Which part: every article, and the `recent` newest resolved incidents (by
the order of the full index: ticket files by path, i.e. by the month and
day they were opened). Its size, and so the cost of a query, does not grow
with the store. It keeps the full index's corpus statistics (number of
documents, each term's document frequency, the average field lengths) and
its very weights, so a document here scores exactly what it scores in the
full index: the suggestions are the full index's top hits among these
documents.

Between rebuilds it follows the store: `apply` takes the files changed
since the commit it reflects, marks old versions dead, weighs the new
documents against the stored averages (`doc_weights`, the arithmetic of a
build), adds them, and updates the statistics. Rebuilding the full index
(`kb search`) rebuilds this one exactly.

The connection is the caller's (an SQLite file in the machine-local state
directory): this module does no file or git I/O, and imports no sqlite3.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .analysis import DEFAULT_ANALYZER, Analyzer, normalize
from .docs import Doc, check_kind
from .ranking import rank_distinct, rank_grouped, systems_named_in
from .relevance import RERANK_DEPTH, Explanation, coverage, rerank, verdict
from .search import (
    Hit,
    IndexFormatError,
    IndexPostings,
    SearchIndex,
    accumulate,
    doc_fields,
    doc_weights,
    explain_doc,
)
from .suggestrows import (
    _SQL_VARS,
    _chunks,
    _doc_from_key,
    _doc_key,
    _dump,
    _from_le,
    _group,
    _le,
    _look_alike_key,
    _terms,
)

if TYPE_CHECKING:
    import sqlite3

__all__ = ["FORMAT", "SuggestIndex", "build_search_index", "build_suggest_index"]

FORMAT = "kb-suggest-3"
"""Stored in the index; bump when the schema or the meaning of a field changes."""

_SCHEMA = """
PRAGMA page_size = 16384;
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs(name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE terms(term TEXT PRIMARY KEY, df INTEGER NOT NULL,
                   docs BLOB NOT NULL, sats BLOB NOT NULL);
CREATE TABLE added(term TEXT NOT NULL, doc INTEGER NOT NULL, sat REAL NOT NULL);
CREATE INDEX added_term ON added(term);
CREATE TABLE docs(num INTEGER PRIMARY KEY, path TEXT NOT NULL, id TEXT NOT NULL,
                  title TEXT NOT NULL, grp INTEGER NOT NULL, alive INTEGER NOT NULL,
                  doc TEXT NOT NULL, tg INTEGER NOT NULL);
CREATE TABLE tkeys(key TEXT PRIMARY KEY, tg INTEGER NOT NULL);
"""
_INDEXES = """
CREATE INDEX docs_path ON docs(path) WHERE alive = 1;
CREATE INDEX docs_dead ON docs(num) WHERE alive = 0;
"""
# (A rowid table: rows with blobs of postings insert ten times faster than
# WITHOUT ROWID, where a big row splits the primary-key B-tree's pages.)
# terms: every term of the whole corpus with its document frequency there,
#   and its postings among the documents kept here (u32 numbers, f32 weights);
# added: postings of documents added since the build, one row each;
# docs: every document kept or added, with the JSON it was made from (to
#   take it out of the statistics exactly when its file changes) and its
#   group: (kind, systems, modules), listed once in meta "groups";
# blobs "groups": the group of each document of the build, as u32s.


def build_suggest_index(
    conn: sqlite3.Connection,
    index: SearchIndex,
    paths: Sequence[str],
    docs: Sequence[Doc],
    *,
    recent: int,
    head: str,
    fingerprint: str,
) -> int:
    """Write into the empty database `conn` the suggestion index derived from `index`.

    `docs` are the documents `index` was built from, in its order, and
    `paths` their files; `head` is the commit the caller will later
    `apply` changes since. Returns the number of documents kept.
    """
    ids, kinds = index._ids, index._kinds
    if len(paths) != len(ids) or len(docs) != len(ids):
        raise ValueError("paths and documents must match the index")
    for d, doc in enumerate(docs):
        if doc.id != ids[d]:
            raise ValueError(f"document {d} is {doc.id}, the index says {ids[d]}")
    tickets = [d for d, k in enumerate(kinds) if k != "kb"]
    cut = set(tickets[: max(0, len(tickets) - recent)])
    kept = [d for d in range(len(ids)) if d not in cut]
    found = ((paths[d], docs[d]) for d in kept)
    return _write(
        conn,
        index.postings(),
        kept,
        found,
        head=head,
        fingerprint=fingerprint,
        names=index._system_names(),  # of every document, kept or not
    )


def build_search_index(
    conn: sqlite3.Connection,
    postings: IndexPostings,
    found: Iterable[tuple[str, Doc]],
    *,
    head: str,
    fingerprint: str,
) -> int:
    """`build_suggest_index` keeping every document (the database `kb search` reads).

    `postings` are the index's (`SearchIndex.postings`); `found` yields
    (file, document) of every document the index was built from, in its
    order (the caller knows it by the documents' fingerprint), and is
    consumed one at a time, written as it comes: at 100,000 incidents
    holding the index's documents and every text at once cost hundreds of
    megabytes. `ValueError` (nothing committed) when `found` has another
    number of documents.
    """
    return _write(conn, postings, range(postings.n), found, head=head, fingerprint=fingerprint)


def _write(
    conn: sqlite3.Connection,
    index: IndexPostings,
    kept: Sequence[int],
    found: Iterable[tuple[str, Doc]],
    *,
    head: str,
    fingerprint: str,
    names: Iterable[str] = (),
) -> int:
    """Write the documents numbered `kept` of an index (`found`: their files and
    documents, in that order) into the empty database `conn`."""
    # Runs of consecutive kept numbers: (first, end, shift to the new numbering).
    # The store's order (articles, then incidents by path) gives two.
    runs: list[tuple[int, int, int]] = []
    for new, d in enumerate(kept):
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0], d + 1, runs[-1][2])
        else:
            runs.append((d, d + 1, d - new))

    offsets, pdocs, psat = index.offsets, index.docs, index.sats

    def term_rows() -> Iterator[tuple[str, int, bytes, bytes]]:
        for term, tid in index.terms.items():
            lo, hi = offsets[tid], offsets[tid + 1]
            out_docs, out_sats = array("I"), array("f")
            for first, end, shift in runs:
                a = bisect_left(pdocs, first, lo, hi)
                b = bisect_left(pdocs, end, a, hi)
                if a == b:
                    continue
                out_docs.extend(
                    pdocs[a:b] if not shift else array("I", [x - shift for x in pdocs[a:b]])
                )
                out_sats.extend(psat[a:b])
            yield term, hi - lo, _le(out_docs), _le(out_sats)

    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], int] = {}
    grp = array("I")
    tkeys: dict[str, int] = {}
    tgs = array("I")
    # The index's system names (`SearchIndex._system_names`): given, or of every document.
    all_names = set(names)

    def doc_rows() -> Iterator[tuple[int, str, str, str, int, str, int]]:
        # zip(strict=True): a `found` longer or shorter than `kept` is a ValueError.
        for new, (path, doc) in zip(range(len(kept)), found, strict=True):
            check_kind(doc)
            systems = tuple(normalize(s) for s in doc.systems)  # as the index keeps them
            modules = tuple(normalize(m) for m in doc.modules)
            all_names.update(systems)
            g = groups.setdefault((doc.kind, systems, modules), len(groups))
            grp.append(g)
            tg = tkeys.setdefault(_look_alike_key(doc.kind, doc.title, path), len(tkeys))
            tgs.append(tg)
            yield (new, path, doc.id, doc.title, g, _doc_key(doc), tg)

    conn.executescript(_SCHEMA)
    conn.execute("BEGIN")
    try:
        conn.executemany("INSERT INTO terms VALUES (?, ?, ?, ?)", term_rows())
        conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, 1, ?, ?)", doc_rows())
        meta = {
            "format": FORMAT,
            "analyzer": index.analyzer,
            "fingerprint": fingerprint,
            "head": head,
            "n": index.n,
            "size": len(kept),
            "base": len(kept),
            "avg": list(index.avg),
            "groups": [[k, list(sy), list(mo)] for k, sy, mo in groups],
            "names": sorted(all_names),
            "tgn": len(tkeys),
        }
        conn.execute("INSERT INTO blobs VALUES ('groups', ?)", (_le(grp),))
        conn.execute("INSERT INTO blobs VALUES ('tgroups', ?)", (_le(tgs),))
        conn.executemany("INSERT INTO tkeys VALUES (?, ?)", tkeys.items())
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, _dump(v)) for k, v in meta.items()])
        for statement in _INDEXES.strip().split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(kept)


class SuggestIndex:
    """Search the suggestion index in `conn`; `IndexFormatError` if it is not one.

    `conn` must be in autocommit mode (`isolation_level=None`): every method
    runs its own transaction, so a search never sees half of an `apply`.
    """

    def __init__(self, conn: sqlite3.Connection, *, analyzer: Analyzer = DEFAULT_ANALYZER) -> None:
        self.conn = conn
        self.analyzer = analyzer
        meta = self._meta()
        if meta.get("format") != FORMAT:
            raise IndexFormatError(f"suggestion index format {meta.get('format')!r}")
        if meta.get("analyzer") != analyzer.name:
            raise IndexFormatError(f"suggestion index built by analyzer {meta.get('analyzer')!r}")
        self.head = str(meta["head"])
        self.fingerprint = str(meta["fingerprint"])
        # The statistics of the last query scored (for `explain`).
        self._n = 0
        self._df_of: Callable[[str], int] = lambda term: 0
        self._sat_of: Callable[[str, int], float] = lambda term, d: 0.0

    def _meta(self) -> dict[str, Any]:
        try:
            return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        except ValueError as exc:
            raise IndexFormatError(f"bad suggestion index: {exc}") from None

    def stats(self) -> tuple[int, int, int]:
        """(documents in the corpus statistics, documents stored, of which from the build)."""
        meta = self._meta()
        return int(meta["n"]), int(meta["size"]), int(meta["base"])

    def ids(self) -> list[str]:
        """IDs of the documents searched (alive), in index order."""
        rows = self.conn.execute("SELECT id FROM docs WHERE alive = 1 ORDER BY num")
        return [r[0] for r in rows]

    def search(
        self,
        query: str,
        limit: int = 10,
        system: str | None = None,
        module: str | None = None,
        *,
        kind: str | None = None,
        synonyms: bool = True,
        collapse: bool = False,
    ) -> list[Hit]:
        """As `SearchIndex.search`, over the documents kept here."""
        if limit <= 0:
            return []
        found = self._score(query, system, module, kind=kind, synonyms=synonyms, titles=collapse)
        if found is None:
            return []
        rank_at, kinds, grp, cover, lacks = found
        ranked4 = rank_at(max(limit, RERANK_DEPTH))
        if not ranked4:
            return []
        ranked = [(score, d) for score, d, _, _ in ranked4]
        counts = {d: (c, latest) for _, d, c, latest in ranked4}
        best = rerank(ranked[: max(limit, RERANK_DEPTH)], cover, limit)
        shown = {d: counts[d] for _, d, _ in best}
        rows = self._rows([s for _, s in shown.values()])
        return [
            Hit(
                *rows[shown[d][1]],
                round(score, 4),
                kinds[grp[d]],
                round(c, 4),
                shown[d][0],
                *lacks(d, rows[shown[d][1]][1]),
            )
            for score, d, c in best
        ]

    def _rows(self, nums: Sequence[int]) -> dict[int, tuple[str, str]]:
        """number → (id, title) of these documents."""
        out: dict[int, tuple[str, str]] = {}
        for i in range(0, len(nums), _SQL_VARS):
            chunk = nums[i : i + _SQL_VARS]
            marks = ",".join("?" * len(chunk))
            for num, doc_id, title in self.conn.execute(
                f"SELECT num, id, title FROM docs WHERE num IN ({marks})", chunk
            ):
                out[num] = (doc_id, title)
        return out

    def explain(self, query: str, doc_id: str, score: float) -> Explanation | None:
        """Why `doc_id` scores `score` for `query` (None: not here)."""
        row = self.conn.execute(
            "SELECT num, doc FROM docs WHERE id = ? AND alive = 1 ORDER BY num DESC", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        found = self._score(query, None, None, kind=None, synonyms=True)
        if found is None:
            return None
        num, key = row
        return explain_doc(
            self.analyzer,
            query,
            self._n,
            self._df_of,
            lambda t: self._sat_of(t, num),
            score,
            _doc_from_key(key),
        )

    def _score(
        self,
        query: str,
        system: str | None,
        module: str | None,
        *,
        kind: str | None,
        synonyms: bool,
        titles: bool = False,
    ) -> (
        tuple[
            Callable[[int], list[tuple[float, int, int, int]]],
            list[str],
            array[Any],
            Callable[[int], float],
            Callable[[int, str], tuple[bool, float | None]],
        ]
        | None
    ):
        """(the best (score, number, look-alikes, latest look-alike) up to a number of
        them, kinds of groups, group of each number, coverage of a number, whether a
        number lacks the query's last word). With
        `titles`, look-alike incidents are one (`ranking.rank_distinct`)."""
        plan = self.analyzer.plan(query, synonyms=synonyms)
        weights = plan.weights
        if not weights:
            return None
        conn = self.conn
        conn.execute("BEGIN")
        try:
            meta = self._meta()
            size, base, n = int(meta["size"]), int(meta["base"]), int(meta["n"])
            if size == 0:
                return None
            terms = list(weights)
            stored: dict[str, tuple[int, bytes, bytes]] = {}
            added: dict[str, tuple[list[int], list[float]]] = {}
            for chunk in _chunks(terms):
                marks = ",".join("?" * len(chunk))
                for term, df, docs, sats in conn.execute(
                    f"SELECT term, df, docs, sats FROM terms WHERE term IN ({marks})", chunk
                ):
                    stored[term] = (df, docs, sats)
                for term, doc, sat in conn.execute(
                    f"SELECT term, doc, sat FROM added WHERE term IN ({marks}) ORDER BY doc", chunk
                ):
                    ds, ss = added.setdefault(term, ([], []))
                    ds.append(doc)
                    ss.append(sat)
            (blob,) = conn.execute("SELECT data FROM blobs WHERE name = 'groups'").fetchone()
            grp = _from_le("I", blob)
            grp.extend(
                g
                for (g,) in conn.execute(
                    "SELECT grp FROM docs WHERE num >= ? ORDER BY num", (base,)
                )
            )
            dead = [num for (num,) in conn.execute("SELECT num FROM docs WHERE alive = 0")]
            tgs = None
            if titles:
                (blob,) = conn.execute("SELECT data FROM blobs WHERE name = 'tgroups'").fetchone()
                tgs = _from_le("I", blob)
                tgs.extend(
                    t
                    for (t,) in conn.execute(
                        "SELECT tg FROM docs WHERE num >= ? ORDER BY num", (base,)
                    )
                )
        finally:
            conn.execute("COMMIT")
        if len(grp) != size:
            raise IndexFormatError("suggestion index documents inconsistent")

        def postings(term: str) -> tuple[int, list[tuple[Sequence[int], Sequence[float]]]]:
            row = stored.get(term)
            if row is None:
                return 0, []
            df, docs, sats = row
            parts: list[tuple[Sequence[int], Sequence[float]]] = []
            if docs:
                parts.append((_from_le("I", docs), _from_le("f", sats)))
            more = added.get(term)
            if more:
                parts.append(more)
            return df, parts

        decoded: dict[str, list[tuple[Sequence[int], Sequence[float]]]] = {}

        def cached(term: str) -> tuple[int, list[tuple[Sequence[int], Sequence[float]]]]:
            df, parts = postings(term)
            decoded[term] = parts
            return df, parts

        scores = accumulate(weights, n, size, cached)
        for d in dead:
            scores[d] = 0.0

        def df_of(term: str) -> int:
            row = stored.get(term)
            return 0 if row is None else row[0]

        def sat_of(term: str, d: int) -> float:
            for docs, sats in decoded.get(term, ()):
                i = bisect_left(docs, d)
                if i < len(docs) and docs[i] == d:
                    return float(sats[i])
            return 0.0

        self._n, self._df_of, self._sat_of = n, df_of, sat_of

        def cover(d: int) -> float:
            return coverage(plan, n, df_of, lambda t: sat_of(t, d) > 0.0)

        def lacks(d: int, title: str) -> tuple[bool, float | None]:
            return verdict(plan, n, df_of, lambda t: sat_of(t, d) > 0.0, title, named)

        groups = meta["groups"]
        kinds = [g[0] for g in groups]
        group_systems = [tuple(g[1]) for g in groups]
        group_modules = [tuple(g[2]) for g in groups]
        named = systems_named_in(query, meta["names"])

        def rank_at(window: int) -> list[tuple[float, int, int, int]]:
            if tgs is not None:
                return rank_distinct(
                    scores,
                    window,
                    tgs,
                    grp,
                    kinds,
                    group_systems,
                    group_modules,
                    named,
                    system=system,
                    module=module,
                    kind=kind,
                )
            found = rank_grouped(
                scores,
                window,
                grp,
                kinds,
                group_systems,
                group_modules,
                named,
                system=system,
                module=module,
                kind=kind,
            )
            return [(score, d, 1, d) for score, d in found]

        return rank_at, kinds, grp, cover, lacks

    def apply(self, changes: Iterable[tuple[str, Doc | None]], *, since: str, head: str) -> bool:
        """Bring the index from commit `since` to `head`: `changes` are (path, its document
        now, or None) for every file changed in between. One write transaction;
        False (nothing written) when the index no longer reflects `since` (another
        process brought it forward first).

        A file whose document is unchanged (a comment on a resolved incident)
        costs one lookup. A changed one takes its old document out of the
        statistics and adds the new one, weighed against the build's averages.
        A file not in the index is taken to have had no document (a new or
        newly resolved incident); on a store bigger than the index it may have
        had one, which then counts twice in the statistics until the next
        rebuild, one document in tens of thousands.
        """
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        done = False
        try:
            meta = self._meta()
            if meta["head"] != since:
                return False
            avg = [float(x) for x in meta["avg"]]
            n, size = int(meta["n"]), int(meta["size"])
            groups: list[Any] = meta["groups"]
            keys = {_dump(g): i for i, g in enumerate(groups)}
            names = set(meta["names"])
            tgn = int(meta["tgn"])
            for path, doc in changes:
                key = _doc_key(doc) if doc is not None else None
                row = conn.execute(
                    "SELECT num, doc FROM docs WHERE path = ? AND alive = 1", (path,)
                ).fetchone()
                if row is not None and row[1] == key:
                    continue
                if row is not None:
                    old = _doc_from_key(row[1])
                    conn.executemany(
                        "UPDATE terms SET df = df - 1 WHERE term = ?",
                        [(t,) for t in _terms(old, self.analyzer)],
                    )
                    conn.execute("UPDATE docs SET alive = 0 WHERE num = ?", (row[0],))
                    n -= 1
                if doc is None:
                    continue
                check_kind(doc)
                weights = doc_weights(doc_fields(doc, self.analyzer), avg)
                sats = array("f", weights.values()).tolist()  # stored as the build stores them
                group = _group(doc)
                g = keys.setdefault(_dump(group), len(groups))
                if g == len(groups):
                    groups.append(group)
                names.update(group[1])
                look = _look_alike_key(doc.kind, doc.title, path)
                found = conn.execute("SELECT tg FROM tkeys WHERE key = ?", (look,)).fetchone()
                if found is None:
                    found = (tgn,)
                    conn.execute("INSERT INTO tkeys VALUES (?, ?)", (look, tgn))
                    tgn += 1
                conn.execute(
                    "INSERT INTO docs VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                    (size, path, doc.id, doc.title, g, key, found[0]),
                )
                conn.executemany(
                    "INSERT INTO added VALUES (?, ?, ?)",
                    [(t, size, s) for t, s in zip(weights, sats, strict=True)],
                )
                conn.executemany(
                    "INSERT INTO terms VALUES (?, 1, x'', x'') "
                    "ON CONFLICT(term) DO UPDATE SET df = df + 1",
                    [(t,) for t in weights],
                )
                n += 1
                size += 1
            update = {
                "head": head,
                "n": n,
                "size": size,
                "groups": groups,
                "names": sorted(names),
                "tgn": tgn,
            }
            conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(_dump(v), k) for k, v in update.items()],
            )
            conn.execute("COMMIT")
            done = True
            self.head = head
            return True
        finally:
            if not done:
                conn.execute("ROLLBACK")
