"""Ranking scored documents: the caller's system and module boosts, best first.

Split from `elinkctl.kb.search` (the index): `rank` walks every scored
document; `rank_grouped` (the suggestion and search databases) stops at the
first document that, boosted as much as any can be, cannot enter the best.
A query that names a known system ("财务系统登录失败") boosts it as if the
caller had passed it (`systems_named_in`).
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
from collections.abc import Iterable, Sequence
from itertools import compress
from typing import Any

from .analysis import normalize

__all__ = [
    "MODULE_BOOST",
    "SYSTEM_BOOST",
    "rank",
    "rank_distinct",
    "rank_grouped",
    "systems_named_in",
]

#: Multipliers when the caller's system / module matches the document's.
SYSTEM_BOOST = 1.5
MODULE_BOOST = 1.2

_WORD = re.compile(r"[a-z0-9]+")


def _names_match(wanted: str, have: tuple[str, ...]) -> bool:
    """'财务' matches '财务系统' and vice versa; two characters at least, to skip '系统'."""
    if len(wanted) < 2:
        return wanted in have
    return any(wanted == h or (len(h) >= 2 and (wanted in h or h in wanted)) for h in have)


def rank(
    scores: Sequence[float],
    limit: int,
    kinds: Sequence[str],
    systems: Sequence[tuple[str, ...]],
    modules: Sequence[tuple[str, ...]],
    named: frozenset[str],
    *,
    system: str | None,
    module: str | None,
    kind: str | None,
) -> list[tuple[float, int]]:
    """The `limit` best (boosted score, document number), best first; ties to the lower number."""
    want_sys = normalize(system).strip() if system else ""
    want_mod = normalize(module).strip() if module else ""
    candidates: list[tuple[float, int]] = []
    for d, score in enumerate(scores):
        if score <= 0.0 or (kind is not None and kinds[d] != kind):
            continue
        doc_systems = systems[d]
        if (want_sys and _names_match(want_sys, doc_systems)) or (
            named and not named.isdisjoint(doc_systems)
        ):
            score *= SYSTEM_BOOST
        if want_mod and _names_match(want_mod, modules[d]):
            score *= MODULE_BOOST
        candidates.append((score, -d))
    return [(score, -nd) for score, nd in heapq.nlargest(limit, candidates)]


#: No document's score is multiplied by more than this (with a margin for rounding).
_MAX_BOOST = SYSTEM_BOOST * MODULE_BOOST * (1 + 1e-9)
#: The smallest positive float: `score >= _POSITIVE` is `score > 0.0`.
_POSITIVE = math.ulp(0.0)


def rank_grouped(
    scores: Sequence[float],
    limit: int,
    group_of: Sequence[int],
    kinds: Sequence[str],
    systems: Sequence[tuple[str, ...]],
    modules: Sequence[tuple[str, ...]],
    named: frozenset[str],
    *,
    system: str | None,
    module: str | None,
    kind: str | None,
) -> list[tuple[float, int]]:
    """`rank`, where document d's kind, systems and modules are those of group `group_of[d]`.

    The same result, computed without visiting every document: documents
    are taken by raw score, best first, and the search stops at the first
    whose score, boosted as much as any can be, is below the `limit`-th best
    boosted score found so far. Each group's boosts are computed once.
    """
    if limit <= 0:
        return []
    want_sys = normalize(system).strip() if system else ""
    want_mod = normalize(module).strip() if module else ""
    flags: dict[int, tuple[bool, bool] | None] = {}
    size = len(scores)
    if kind is not None:  # a filter: documents of other kinds must not crowd the best
        allowed = [k == kind for k in kinds]
        scores = [s if allowed[g] else 0.0 for s, g in zip(scores, group_of, strict=True)]
    take = max(4 * limit, 32)
    while True:
        # The documents scoring at least the `take`-th best raw score, best first
        # (ties in document order); all positive ones once `take` covers them.
        top = heapq.nlargest(take, scores)
        floor = top[-1] if len(top) == take and top[-1] > 0.0 else _POSITIVE
        order = list(compress(range(size), map(floor.__le__, scores)))
        order.sort(key=scores.__getitem__, reverse=True)  # stable: ties keep document order
        best: list[tuple[float, int]] = []  # (-boosted score, d), ascending
        done = floor == _POSITIVE
        for d in order:
            raw = scores[d]
            if raw <= 0.0 or (len(best) == limit and raw * _MAX_BOOST < -best[-1][0]):
                done = True
                break
            g = group_of[d]
            if g in flags:
                boost = flags[g]
            else:
                boost = None
                if kind is None or kinds[g] == kind:
                    group_systems = systems[g]
                    boost = (
                        bool(want_sys and _names_match(want_sys, group_systems))
                        or bool(named and not named.isdisjoint(group_systems)),
                        bool(want_mod and _names_match(want_mod, modules[g])),
                    )
                flags[g] = boost
            if boost is None:
                continue
            score = raw
            if boost[0]:
                score *= SYSTEM_BOOST
            if boost[1]:
                score *= MODULE_BOOST
            bisect.insort(best, (-score, d))
            if len(best) > limit:
                best.pop()
        if done or take >= size:
            return [(-neg, d) for neg, d in best]
        take *= 4


def systems_named_in(query: str, names: Iterable[str]) -> frozenset[str]:
    """Known system names the query spells out ("财务系统登录失败" names 财务系统).

    A caller who names the system means it as much as one who passes
    `system=`; without this, a title sharing incidental bigrams ("…系统登录
    失败") can outrank the article filed under that system.
    """
    norm = normalize(query)
    compact = "".join(norm.split())
    words = " " + " ".join(_WORD.findall(norm)) + " "
    found = set()
    for name in names:
        key = "".join(name.split())
        if len(key) < 2:
            continue
        if key.isascii():
            if " " + " ".join(_WORD.findall(name)) + " " in words:
                found.add(name)
        elif key in compact:
            found.add(name)
    return frozenset(found)


def rank_distinct(
    scores: Sequence[float],
    limit: int,
    title_group: Sequence[int],
    group_of: Sequence[int],
    kinds: Sequence[str],
    systems: Sequence[tuple[str, ...]],
    modules: Sequence[tuple[str, ...]],
    named: frozenset[str],
    *,
    system: str | None,
    module: str | None,
    kind: str | None,
) -> list[tuple[float, int, int, int]]:
    """The `limit` best groups of look-alike documents: (boosted score, best
    document, documents in the group that match, the latest of them).

    `title_group[d]` is the same number for incidents whose titles are the
    same (`analysis.title_key`) and a number of its own for every article.
    One pass over the matching documents, so a flood of thousands of
    look-alikes costs what any query costs. The boost is that of the group's
    best document (look-alikes share a title, and nearly always a system).
    The latest is the highest document number: incidents are numbered in the
    order of their files, which is the order they were opened.
    """
    if limit <= 0:
        return []
    want_sys = normalize(system).strip() if system else ""
    want_mod = normalize(module).strip() if module else ""
    lead: dict[int, list[Any]] = {}
    get = lead.get
    for d in compress(range(len(scores)), scores):
        s = scores[d]
        if s <= 0.0:
            continue
        t = title_group[d]
        entry = get(t)
        if entry is None:
            lead[t] = [s, d, 1, d]
        else:
            entry[2] += 1
            entry[3] = d  # documents come in increasing order
            if s > entry[0]:
                entry[0] = s
                entry[1] = d
    out = []
    for raw, d, count, latest in lead.values():
        g = group_of[d]
        if kind is not None and kinds[g] != kind:
            continue
        score = raw
        group_systems = systems[g]
        if (want_sys and _names_match(want_sys, group_systems)) or (
            named and not named.isdisjoint(group_systems)
        ):
            score *= SYSTEM_BOOST
        if want_mod and _names_match(want_mod, modules[g]):
            score *= MODULE_BOOST
        out.append((score, -d, count, latest))
    return [(s, -nd, c, latest) for s, nd, c, latest in heapq.nlargest(limit, out)]
