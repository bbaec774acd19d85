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
from .relevance import (
    RELEVANT_COVERAGE,
    STANDOUT_COVERAGE,
    STANDOUT_RATIO,
    SUGGEST_TITLE_COVERAGE,
    relevant_flags,
)
from .search import Hit

__all__ = ["Line", "arrange", "suggestable", "title_key"]


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
    title_floor: float = 0.0,
) -> list[Line]:
    """The `limit` lines the desk sees for ranked `hits`: look-alike incidents
    collapsed, answering articles first (see the module's rules); whether a
    line answers is `relevance.relevant_flags` over the lines (`title_floor`:
    what a line's title must cover, `suggestable`)."""
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
        tcovers = [h.title_coverage for h in members if h.title_coverage is not None]
        count = sum(h.similar_count for h in members)
        shown = Hit(
            latest.id,
            latest.title,
            hit.score,
            latest.kind,
            max(covers, default=None),
            count,
            all(h.lacks_head for h in members),
            max(tcovers, default=None),
        )
        shown_hits.append((shown, count))
    flags = relevant_flags(
        [h.coverage for h, _ in shown_hits],
        threshold,
        standout,
        ratio,
        [h.lacks_head for h, _ in shown_hits],
        [h.title_coverage for h, _ in shown_hits],
        title_floor,
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


def suggestable(
    hits: Sequence[Hit],
    threshold: float = RELEVANT_COVERAGE,
    title_floor: float = SUGGEST_TITLE_COVERAGE,
    title_share: float = 1.0,
) -> list[Line]:
    """The lines `new` may suggest, in order: those that answer its title, by
    `arrange`'s decision plus one more condition, that the line's own title
    covers at least `title_floor` of the incident's title
    (`relevance.title_coverage`).

    `new` speaks unasked, after every registration, with a title as its
    query: the same kind of text as a hit's title, so a right answer's title
    shares some of it. `kb search` is asked, with a caller's words, and
    keeps every line (weak ones marked). When the query is more than the
    title (`new`'s description is searched too), `title_share` is the
    title's part of it, and the floor shrinks with it: what the hit's title
    must cover is a share of the incident's title, not of its description.
    """
    floor = title_floor * min(1.0, max(0.0, title_share))
    return [ln for ln in arrange(hits, len(hits), threshold, title_floor=floor) if ln.relevant]
