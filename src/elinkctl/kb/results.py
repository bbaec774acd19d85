"""From ranked hits to what the desk sees: one line per answer, the article first.

A store with years of incidents holds floods of look-alikes: 33 incidents
titled exactly "邮件发不出去" fill a whole top 10 and push the article that
holds the fix to rank 33. Two rules make the list read as answers:

- incidents whose titles are the same once case, spaces and punctuation are
  ignored collapse into one line, shown as the latest of them (the highest
  ID: IDs start with the day they were opened) with `similar_count`;
- an article that answers the query (its coverage reaches the relevance
  threshold, `elinkctl.kb.relevance`) comes before incidents: it is the
  curated form of their fix. Articles keep their order among themselves (an
  article ranked above an answering one comes before incidents too); weak
  articles below the last answering one keep their rank by score.

Pure functions over `Hit`s; the services layer fetches a few times more hits
than it shows, so that collapsing still leaves a full page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .analysis import title_key
from .relevance import RELEVANT_COVERAGE, STANDOUT_COVERAGE, STANDOUT_RATIO, relevant_flags
from .search import Hit

__all__ = ["Line", "arrange", "title_key"]


@dataclass(frozen=True)
class Line:
    """One line of the list: a hit, and how many documents it stands for."""

    hit: Hit
    similar_count: int = 1
    """Incidents this line stands for (itself included); 1 for an article."""
    relevant: bool = True
    """Whether the hit answers the query (coverage at least the threshold)."""


def arrange(
    hits: Sequence[Hit],
    limit: int,
    threshold: float = RELEVANT_COVERAGE,
    standout: float = STANDOUT_COVERAGE,
    ratio: float = STANDOUT_RATIO,
) -> list[Line]:
    """The `limit` lines the desk sees for ranked `hits`: look-alike incidents
    collapsed, answering articles first (see the module's rules); whether a
    line answers is `relevance.relevant_flags` over the lines."""
    groups: dict[str, list[Hit]] = {}
    order: list[tuple[str, Hit]] = []
    for hit in hits:
        if hit.kind == "kb":
            order.append(("", hit))
            continue
        key = title_key(hit.title) or hit.id
        members = groups.get(key)
        if members is None:
            groups[key] = [hit]
            order.append((key, hit))
        else:
            members.append(hit)
    shown_hits: list[tuple[Hit, int]] = []
    for key, hit in order:
        if not key:
            shown_hits.append((hit, 1))
            continue
        members = groups[key]
        latest = max(members, key=lambda h: h.id)
        covers = [h.coverage for h in members if h.coverage is not None]
        count = sum(h.similar_count for h in members)
        shown = Hit(
            latest.id,
            latest.title,
            hit.score,
            latest.kind,
            max(covers, default=None),
            count,
            all(h.lacks_head for h in members),
        )
        shown_hits.append((shown, count))
    flags = relevant_flags(
        [h.coverage for h, _ in shown_hits],
        threshold,
        standout,
        ratio,
        [h.lacks_head for h, _ in shown_hits],
    )
    lines = [Line(h, n, f) for (h, n), f in zip(shown_hits, flags, strict=True)]
    # Articles keep their order among themselves: the last answering one comes
    # before every incident, and so do the articles ranked above it.
    articles = [i for i, ln in enumerate(lines) if ln.hit.kind == "kb"]
    answering = [i for i in articles if lines[i].relevant]
    first = set(articles[: articles.index(answering[-1]) + 1]) if answering else set()
    ahead = [ln for i, ln in enumerate(lines) if i in first]
    rest = [ln for i, ln in enumerate(lines) if i not in first]
    return (ahead + rest)[:limit]
