"""Ranked full-text search over knowledge-base articles and resolved incidents.

The desk's first step on every call is "search the knowledge base" (E-Link
procedure, initial support), so this must answer in a blink on a laptop for
a few thousand articles plus years of resolved tickets, with no server.

Ranking is BM25F (Robertson & Zaragoza): term frequencies of the title, the
meta field (keywords, systems, modules) and the body are weighted and
length-normalised separately, then saturated once. Everything except the
query-dependent IDF is computed at build time, so a posting is just
(document number, saturated weight) and a query is a few tight loops over
`array` slices. The same arrays are what `to_bytes` writes, so loading a
cached index costs one JSON header parse and three `frombytes` calls.

The caller's `system`/`module` are boosts, not filters: an article about
the same system should come first, but a generic one ("重置域账号密码") must
still be found when the ticket names a specific system.
"""

from __future__ import annotations

import bisect
import json
import math
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from elinkctl.fsio import digest

from .analysis import DEFAULT_ANALYZER, Analyzer, normalize, title_key
from .docs import Doc, check_kind
from .ranking import rank, rank_distinct, systems_named_in
from .relevance import RERANK_DEPTH, Explanation, coverage, explain, rerank, verdict

__all__ = ["Hit", "IndexFormatError", "SearchIndex", "docs_fingerprint"]

# BM25F parameters. Title matches count three times a body match: a title is
# what the author chose to describe the whole problem. Keywords/systems are
# curated too, but a long keyword list should not dominate.
K1 = 1.2
TITLE_WEIGHT, TITLE_B = 3.0, 0.5
META_WEIGHT, META_B = 2.0, 0.5
BODY_WEIGHT, BODY_B = 1.0, 0.75
_MAGIC = b"ELKBIDX1"
_FORMAT = 1


class IndexFormatError(ValueError):
    """Bytes given to `SearchIndex.from_bytes` are not a usable index.

    A cache problem, not the user's: the store should rebuild from the
    documents, which is why this is not an `ElinkError`.
    """


@dataclass(frozen=True)
class Hit:
    """A search result; `score` only orders hits of one query."""

    id: str
    title: str
    score: float
    kind: str
    coverage: float | None = None
    """How much of the query the hit has (`elinkctl.kb.relevance`), when computed."""
    similar_count: int = 1
    """Incidents with this title the hit stands for (searches with `collapse`)."""
    lacks_head: bool = False
    """The hit has nothing of the query's last word (`elinkctl.kb.relevance.lacks_head`):
    it does not answer the query, whatever its coverage."""
    title_coverage: float | None = None
    """How much of the query the hit's title alone has (`relevance.title_coverage`)."""


Fields = tuple[Counter[str], Counter[str], Counter[str]]
"""Term counts of a document's title, meta (keywords, systems, modules) and body."""

Postings = Callable[[str], tuple[int, list[tuple[Sequence[int], Sequence[float]]]]]
"""term → (document frequency in the corpus, [(document numbers, weights), …])."""


def doc_fields(doc: Doc, analyzer: Analyzer = DEFAULT_ANALYZER) -> Fields:
    """The term counts BM25F weighs separately: title, meta, body."""
    count = analyzer.count_terms
    meta = " ".join((*doc.keywords, *doc.systems, *doc.modules))
    return count(doc.title), count(meta), count(doc.text)


def field_averages(lengths: Sequence[tuple[int, int, int]]) -> tuple[float, float, float]:
    """Average title, meta and body lengths (at least 1) of a corpus."""
    n = len(lengths)
    t, m, b = (max(1.0, sum(ln[f] for ln in lengths) / n) if n else 1.0 for f in range(3))
    return t, m, b


def doc_weights(fields: Fields, avg: Sequence[float]) -> dict[str, float]:
    """term → saturated BM25F weight of one document: what `SearchIndex` stores per posting.

    The same arithmetic as `SearchIndex._invert`, in the same order, so a
    document weighed here against a corpus's `avg` gets the weights a
    rebuild with the same averages would give it.
    """
    ft, fm, fb = fields
    ct = TITLE_WEIGHT / (1 - TITLE_B + TITLE_B * ft.total() / avg[0])
    cm = META_WEIGHT / (1 - META_B + META_B * fm.total() / avg[1])
    cb = BODY_WEIGHT / (1 - BODY_B + BODY_B * fb.total() / avg[2])
    out = {t: c * cb / (K1 + c * cb) for t, c in fb.items()}
    for t in ft.keys() | fm.keys():
        x = fb[t] * cb + ft[t] * ct + fm[t] * cm
        out[t] = x / (K1 + x)
    return out


def accumulate(weights: Mapping[str, float], n: int, size: int, postings: Postings) -> list[float]:
    """BM25 scores of documents 0..size-1 for weighted query terms.

    `n` is the corpus size the IDF is computed over; it may exceed `size`
    when the postings cover only part of the corpus (the suggestion index),
    whose scores are then exactly those of the whole index.
    """
    scores = [0.0] * size
    for term, w in weights.items():
        df, parts = postings(term)
        if not parts:
            continue
        c = w * math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for docs, sats in parts:
            for d, s in zip(docs, sats, strict=True):
                scores[d] += c * s
    return scores


def _holds(sat_of: Callable[[str, int], float], d: int, term: str) -> bool:
    """Whether document `d` holds `term` (its saturated weight is positive)."""
    return sat_of(term, d) > 0.0


def explain_doc(
    analyzer: Analyzer,
    query: str,
    n: int,
    df_of: Callable[[str], int],
    sat_of: Callable[[str], float],
    score: float,
    doc: Doc | None,
    title: str | None = None,
    systems: Iterable[str] | None = None,
) -> Explanation:
    """`relevance.explain` of one document, with its fields counted when `doc` is
    given (and its title: `doc`'s, else `title`); `systems`: the store's systems
    the query names (None: those of `doc`)."""
    plan = analyzer.plan(query)
    counts = None
    if doc is not None:
        ft, fm, fb = doc_fields(doc, analyzer)

        def counts(term: str) -> tuple[int, int, int]:
            return ft[term], fm[term], fb[term]

    typed = analyzer.query_terms(query, synonyms=False)
    title = doc.title if doc is not None else title
    if systems is None:
        systems = systems_named_in(query, doc.systems) if doc is not None else ()
    return explain(plan, n, df_of, sat_of, score, counts, list(typed), title, systems)


class IndexPostings(NamedTuple):
    """An index's postings and corpus statistics without its documents: what a
    database of every document needs from it (`elinkctl.kb.suggestdb.build_search_index`)."""

    terms: Mapping[str, int]
    """term → number: its postings are ``docs[offsets[t]:offsets[t + 1]]``."""
    offsets: array[Any]
    docs: array[Any]
    sats: array[Any]
    avg: tuple[float, float, float]
    analyzer: str
    n: int


class SearchIndex:
    """An immutable inverted index. Build with `SearchIndex(docs)` or load `from_bytes`."""

    def __init__(self, docs: Iterable[Doc], *, analyzer: Analyzer = DEFAULT_ANALYZER) -> None:
        self.analyzer = analyzer
        self.stamp = ""
        self._ids: list[str] = []
        self._titles: list[str] = []
        self._kinds: list[str] = []
        self._systems: list[tuple[str, ...]] = []
        self._modules: list[tuple[str, ...]] = []
        # Counted in one pass, a document at a time: term → its documents and
        # their (body, title, meta) counts, as compact arrays. Keeping every
        # document's term counters and the postings as Python lists until the
        # end cost a gigabyte at 100,000 incidents.
        raw: dict[str, tuple[array[int], array[int], array[int], array[int]]] = {}
        lt_all, lm_all, lb_all = array("I"), array("I"), array("I")
        for i, doc in enumerate(docs):
            check_kind(doc)
            self._ids.append(doc.id)
            self._titles.append(doc.title)
            self._kinds.append(doc.kind)
            self._systems.append(tuple(normalize(s) for s in doc.systems))
            self._modules.append(tuple(normalize(m) for m in doc.modules))
            ft, fm, fb = doc_fields(doc, analyzer)
            lt_all.append(ft.total())
            lm_all.append(fm.total())
            lb_all.append(fb.total())
            # The order terms are first seen in, as the build always had it:
            # body terms, then the title's and meta's.
            for t in (*fb.keys(), *(ft.keys() | fm.keys())):
                entry = raw.get(t)
                if entry is None:
                    entry = raw[t] = (array("I"), array("I"), array("I"), array("I"))
                elif entry[0][-1] == i:
                    continue
                entry[0].append(i)
                entry[1].append(fb[t])
                entry[2].append(ft[t])
                entry[3].append(fm[t])
        n = len(self._ids)
        self._terms: dict[str, int] = {}
        self._offsets = array("I", [0])
        self._pdocs = array("I")
        self._psat = array("f")
        #: Average field lengths (title, meta, body) the weights are normalised by;
        #: a document added later to a derived index is weighted with the same.
        avg = (
            (max(1.0, sum(lt_all) / n), max(1.0, sum(lm_all) / n), max(1.0, sum(lb_all) / n))
            if n
            else (1.0, 1.0, 1.0)
        )
        self.avg: tuple[float, float, float] | None = avg
        # `doc_weights`' arithmetic, in the same order, per posting.
        cts = [TITLE_WEIGHT / (1 - TITLE_B + TITLE_B * lt / avg[0]) for lt in lt_all]
        cms = [META_WEIGHT / (1 - META_B + META_B * lm / avg[1]) for lm in lm_all]
        cbs = [BODY_WEIGHT / (1 - BODY_B + BODY_B * lb / avg[2]) for lb in lb_all]
        for term in list(raw):
            ds, bs, ts, ms = raw.pop(term)
            sats = array("f")
            for d, c, tc, mc in zip(ds, bs, ts, ms, strict=True):
                cb = cbs[d]
                if tc or mc:
                    x = c * cb + tc * cts[d] + mc * cms[d]
                    sats.append(x / (K1 + x))
                else:
                    sats.append(c * cb / (K1 + c * cb))
            self._terms[term] = len(self._terms)
            self._pdocs.extend(ds)
            self._psat.extend(sats)
            self._offsets.append(len(self._pdocs))

    def postings(self) -> IndexPostings:
        """The postings and statistics (`IndexPostings`); `ValueError` without averages."""
        if self.avg is None:
            raise ValueError("the index does not record its average field lengths")
        return IndexPostings(
            self._terms,
            self._offsets,
            self._pdocs,
            self._psat,
            self.avg,
            self.analyzer.name,
            len(self._ids),
        )

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> Sequence[str]:
        """IDs of the indexed documents, in build order."""
        return tuple(self._ids)

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
        """The `limit` best documents for `query`, best first; [] when nothing matches.

        `system`/`module` multiply the score of matching documents by
        `SYSTEM_BOOST`/`MODULE_BOOST`; `kind` ("kb" or "ticket") is a
        filter. Ties break on document order, so results are deterministic.
        The best are ordered again by coverage (`relevance.rerank`). With
        `collapse`, incidents with the same title are one hit (the latest,
        with `similar_count`: how many of them match), `ranking.rank_distinct`.
        """
        if limit <= 0 or not self._ids:
            return []
        plan = self.analyzer.plan(query, synonyms=synonyms)
        weights = plan.weights
        if not weights:
            return []
        offsets, pdocs, psat = self._offsets, self._pdocs, self._psat

        def postings(term: str) -> tuple[int, list[tuple[Sequence[int], Sequence[float]]]]:
            tid = self._terms.get(term)
            if tid is None:
                return 0, []
            lo, hi = offsets[tid], offsets[tid + 1]
            return hi - lo, [(pdocs[lo:hi], psat[lo:hi])]

        n = len(self._ids)
        scores = accumulate(weights, n, n, postings)
        named = systems_named_in(query, self._system_names())
        counts: dict[int, tuple[int, int]] = {}
        if collapse:
            found = rank_distinct(
                scores,
                max(limit, RERANK_DEPTH),
                self._title_groups(),
                range(n),
                self._kinds,
                self._systems,
                self._modules,
                named,
                system=system,
                module=module,
                kind=kind,
            )
            best = [(score, d) for score, d, _, _ in found]
            counts = {d: (c, latest) for _, d, c, latest in found}
        else:
            best = rank(
                scores,
                max(limit, RERANK_DEPTH),
                self._kinds,
                self._systems,
                self._modules,
                named,
                system=system,
                module=module,
                kind=kind,
            )
        df_of, sat_of = self._lookups()

        def cover(d: int) -> float:
            return coverage(plan, n, df_of, lambda t: sat_of(t, d) > 0.0)

        out = []
        for score, d, c in rerank(best[: max(limit, RERANK_DEPTH)], cover, limit):
            count, shown = counts.get(d, (1, d))
            lacks, title_cover = verdict(
                plan, n, df_of, partial(_holds, sat_of, d), self._titles[shown], named
            )
            out.append(
                Hit(
                    self._ids[shown],
                    self._titles[shown],
                    round(score, 4),
                    self._kinds[d],
                    round(c, 4),
                    count,
                    lacks,
                    title_cover,
                )
            )
        return out

    def _title_groups(self) -> list[int]:
        """Each document's look-alike group: one per incident title, one per article."""
        cached: list[int] | None = getattr(self, "_title_group_cache", None)
        if cached is None:
            numbers: dict[str, int] = {}
            cached = [
                numbers.setdefault(f"\x00{d}" if k == "kb" else title_key(t), len(numbers))
                for d, (k, t) in enumerate(zip(self._kinds, self._titles, strict=True))
            ]
            self._title_group_cache = cached
        return cached

    def _lookups(self) -> tuple[Callable[[str], int], Callable[[str, int], float]]:
        """(term → document frequency, (term, document) → its saturated weight or 0)."""
        offsets, pdocs, psat, terms = self._offsets, self._pdocs, self._psat, self._terms

        def df_of(term: str) -> int:
            tid = terms.get(term)
            return 0 if tid is None else offsets[tid + 1] - offsets[tid]

        def sat_of(term: str, d: int) -> float:
            tid = terms.get(term)
            if tid is None:
                return 0.0
            lo, hi = offsets[tid], offsets[tid + 1]
            i = bisect.bisect_left(pdocs, d, lo, hi)
            return float(psat[i]) if i < hi and pdocs[i] == d else 0.0

        return df_of, sat_of

    def explain(
        self, query: str, doc_id: str, score: float, doc: Doc | None = None
    ) -> Explanation | None:
        """Why `doc_id` scores `score` for `query` (None: not in the index)."""
        try:
            d = self._ids.index(doc_id)
        except ValueError:
            return None
        df_of, sat_of = self._lookups()
        return explain_doc(
            self.analyzer,
            query,
            len(self._ids),
            df_of,
            lambda t: sat_of(t, d),
            score,
            doc,
            self._titles[d],
            systems_named_in(query, self._system_names()),
        )

    def _system_names(self) -> frozenset[str]:
        cached: frozenset[str] | None = getattr(self, "_system_name_cache", None)
        if cached is None:
            cached = frozenset(s for systems in self._systems for s in systems)
            self._system_name_cache = cached
        return cached

    # -- serialisation -------------------------------------------------------

    def to_bytes(self, stamp: str = "") -> bytes:
        """A compact, pickle-free image of the index for a cache file.

        Layout: magic, little-endian u32 header length, UTF-8 JSON header
        (documents, terms, analyzer name, `stamp`, average field lengths), then the offsets
        (u32), posting documents (u32) and saturated weights (f32) arrays,
        little-endian. `stamp` is the caller's: e.g. the git tree the index
        was built from, to tell whether the cache is stale.
        """
        header = {
            "format": _FORMAT,
            "analyzer": self.analyzer.name,
            "stamp": stamp,
            "docs": [
                [i, k, t, list(s), list(m)]
                for i, k, t, s, m in zip(
                    self._ids, self._kinds, self._titles, self._systems, self._modules, strict=True
                )
            ],
            "terms": list(self._terms),
            "postings": len(self._pdocs),
            "avg": list(self.avg) if self.avg is not None else None,
        }
        head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        parts = [_MAGIC, struct.pack("<I", len(head)), head]
        for arr in (self._offsets, self._pdocs, self._psat):
            if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
                arr = array(arr.typecode, arr)
                arr.byteswap()
            parts.append(arr.tobytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, *, analyzer: Analyzer = DEFAULT_ANALYZER) -> SearchIndex:
        """Load what `to_bytes` wrote; `IndexFormatError` if it is not that."""
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
            raise IndexFormatError("not an elinkctl search index")
        pos = len(_MAGIC)
        (hlen,) = struct.unpack_from("<I", data, pos)
        pos += 4
        try:
            header: Mapping[str, Any] = json.loads(data[pos : pos + hlen].decode("utf-8"))
            if header["format"] != _FORMAT:
                raise IndexFormatError(f"index format {header['format']}, expected {_FORMAT}")
            if header["analyzer"] != analyzer.name:
                raise IndexFormatError(
                    f"index built by analyzer {header['analyzer']!r}, not {analyzer.name!r}"
                )
            docs = header["docs"]
            terms = header["terms"]
            npost = int(header["postings"])
            avg = header.get("avg")  # absent in indexes written before it was kept
            if avg is not None:
                avg = (float(avg[0]), float(avg[1]), float(avg[2]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            if isinstance(exc, IndexFormatError):
                raise
            raise IndexFormatError(f"bad index header: {exc}") from None
        pos += hlen
        arrays: list[array[Any]] = []
        view = memoryview(data)  # slices without copies: the arrays are tens of megabytes
        for code, count in (("I", len(terms) + 1), ("I", npost), ("f", npost)):
            arr = array(code)
            size = arr.itemsize * count
            chunk = view[pos : pos + size]
            if len(chunk) != size:
                raise IndexFormatError("index truncated")
            arr.frombytes(chunk)
            if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
                arr.byteswap()
            arrays.append(arr)
            pos += size
        if pos != len(data):
            raise IndexFormatError("trailing bytes after index")
        self = cls.__new__(cls)
        self.analyzer = analyzer
        self.stamp = str(header.get("stamp", ""))
        # Kinds, systems and modules are few values repeated 100,000 times: one
        # object each (tens of megabytes less for a store of that size).
        shared: dict[Any, Any] = {}
        self._ids = [d[0] for d in docs]
        self._kinds = [shared.setdefault(d[1], d[1]) for d in docs]
        self._titles = [d[2] for d in docs]
        self._systems = [shared.setdefault(t, t) for d in docs for t in (tuple(d[3]),)]
        self._modules = [shared.setdefault(t, t) for d in docs for t in (tuple(d[4]),)]
        del docs, header
        self._terms = dict(zip(terms, range(len(terms)), strict=True))
        self._offsets, self._pdocs = arrays[0], arrays[1]
        self._psat = arrays[2]
        self.avg = avg
        if self._offsets[-1] != npost or (npost and max(self._pdocs) >= len(self._ids)):
            raise IndexFormatError("index postings inconsistent")
        return self


def docs_fingerprint(docs: Iterable[Doc], analyzer: Analyzer = DEFAULT_ANALYZER) -> str:
    """A digest of exactly what an index is built from, to stamp a cached index.

    Better than a git tree hash as the cache key: closing, calling back or
    commenting on a resolved ticket changes its file but not its searchable
    text, so the (seconds-long, for 10,000 tickets) rebuild is paid only
    when an article or a solution actually changes.
    """
    parts = (
        "\x1e".join(
            (d.id, d.kind, d.title, d.text, *d.systems, "\x1f", *d.modules, "\x1f", *d.keywords)
        ).encode("utf-8", "surrogatepass")
        for d in docs
    )
    return digest(f"{_FORMAT}\x1e{analyzer.name}", *parts)
