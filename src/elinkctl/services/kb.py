"""Knowledge-base use cases: search, suggestions for a new incident, and articles.

Articles live in the store (`elinkctl.store.articles`: found, read, committed
through the store's transaction); the search and suggestion indexes are
caches (`elinkctl.cache.kb`, `elinkctl.cache.kb_suggest`). This module
decides which to use when, and returns results: the CLI prints them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from elinkctl import fsio, yamlio
from elinkctl.cache import index_failed
from elinkctl.cache.kb import IndexNotReady, load_index
from elinkctl.cache.kb_files import KbSource, ignore
from elinkctl.cache.kb_search import search_database
from elinkctl.cache.kb_suggest import search_suggestions
from elinkctl.domain import kbdecision
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Ticket
from elinkctl.errors import ElinkError, UsageProblem
from elinkctl.kb.article import Article, article_solution_first_line
from elinkctl.kb.changes import first_line
from elinkctl.kb.docs import doc_from_article, doc_from_ticket_text
from elinkctl.kb.relevance import Explanation
from elinkctl.kb.results import Line, arrange, suggestable
from elinkctl.kb.search import Hit, SearchIndex
from elinkctl.kb.suggestdb import SuggestIndex
from elinkctl.store.articles import (
    add_article,
    added_message,
    article_path,
    draft_from_ticket,
    edit_article,
    iter_articles,
    load_article,
    make_article,
    read_article,
    resolve_article_id,
    save_edited_article,
    stage_article,
)
from elinkctl.store.store import Store

__all__ = [
    "SUGGEST_MAX_READS",
    "Added",
    "Suggestion",
    "add_article",
    "add_article_from_incident",
    "article_path",
    "draft_from_ticket",
    "edit_article",
    "iter_articles",
    "load_article",
    "make_article",
    "resolve_article_id",
    "save_edited_article",
    "search",
    "search_index",
    "search_lines",
    "solution_line",
    "suggest",
    "suggestion_lines",
]

SUGGEST_MAX_READS = 2000
"""Files `new` may read to bring an index up to date before it gives up on
suggestions (a few hundred milliseconds; the first full build takes seconds)."""

SUGGEST_STALE_OK_ABOVE = 20_000
"""When `new` has no suggestion database to use (not derived yet, damaged,
busy) and falls back to the full index: above this many documents it uses
the last built one as is rather than refreshing it."""

# Which hits `new` suggests: only those that answer the incident, judged by
# coverage (`elinkctl.kb.relevance.RELEVANT_COVERAGE`), not by a score floor:
# a BM25 score grows with the store and the query, so no floor meant the same
# in a store of articles and in one with 100,000 incidents. `kb search` still
# lists everything, marking the weak hits.


def kb_source(store: Store) -> KbSource:
    """The store as the knowledge base's caches see it (git started only if asked)."""

    def git(*args: str, env: dict[str, str] | None = None) -> bytes:
        return store.git.run_bytes(*args, env=env)

    return KbSource(store.root, store.state_dir, git)


MAX_QUERY_CHARS = 2_000
"""What a search or a suggestion reads of its query: planning a query costs
its length squared (30,000 words: 18 s for `kb search`, and for `new` with
a pasted 120 KB title); a title and description say what they need well
within this."""


def search_index(
    store: Store,
    on_error: Callable[[str], None] = ignore,
    *,
    max_reads: int | None = None,
    stale_ok_above: int | None = None,
) -> SearchIndex:
    """The search index over articles and resolved incidents, refreshed from
    the files (see `elinkctl.cache.kb.load_index` for the limits)."""
    return load_index(
        kb_source(store), on_error, max_reads=max_reads, stale_ok_above=stale_ok_above
    )


def search(
    store: Store,
    query: str,
    *,
    limit: int = 10,
    system: str | None = None,
    module: str | None = None,
    kind: str | None = None,
    on_error: Callable[[str], None] = ignore,
) -> list[Hit]:
    """Ranked hits for `query` over articles and resolved incidents; broken
    files are reported through `on_error` and skipped."""
    if not query.strip():
        raise UsageProblem("the search query is empty")
    query = query[:MAX_QUERY_CHARS]
    return search_index(store, on_error).search(query, limit, system, module, kind=kind)


def search_lines(
    store: Store,
    query: str,
    *,
    limit: int = 10,
    system: str | None = None,
    module: str | None = None,
    kind: str | None = None,
    explain: bool = False,
    on_error: Callable[[str], None] = ignore,
) -> tuple[list[Line], dict[str, Explanation | None]]:
    """What `kb search` shows: ranked hits with look-alike incidents collapsed
    into one line and answering articles first (`elinkctl.kb.results`), each
    marked relevant or weak (`elinkctl.kb.relevance`); with `explain`, why
    each ranks (by ID).

    Look-alikes are collapsed by the index (`elinkctl.kb.ranking.rank_distinct`),
    so a flood of thousands still leaves `limit` lines, with its whole count.
    Searched in the database the ticket index keeps current
    (`elinkctl.cache.kb_search`), else in the full index.
    """
    if not query.strip():
        raise UsageProblem("the search query is empty")
    query = query[:MAX_QUERY_CHARS]
    index = _searcher(store, on_error)
    try:
        hits = index.search(query, limit, system, module, kind=kind, collapse=True)
        lines = arrange(hits, limit)
        explained = {ln.hit.id: _explain(store, index, query, ln.hit) for ln in lines if explain}
    finally:
        if isinstance(index, SuggestIndex):
            index.conn.close()
    return lines, explained


def refresh_databases(store: Store) -> None:
    """Bring the search and suggestion databases up to date (building them
    if missing): what `index publish` ships beside the index, so a clone's
    first `kb search` and `new` need not read every ticket."""
    index = _searcher(store, ignore)
    if isinstance(index, SuggestIndex):
        index.conn.close()


def _searcher(store: Store, on_error: Callable[[str], None]) -> SearchIndex | SuggestIndex:
    try:
        return search_database(kb_source(store), store.index(), on_error)
    except Exception as exc:
        if not index_failed(exc):
            raise
        return search_index(store, on_error)


def _window(limit: int) -> int:
    """Hits ranked to fill `limit` lines once look-alikes are collapsed."""
    return 4 * limit + 40


def _explain(
    store: Store, index: SearchIndex | SuggestIndex, query: str, hit: Hit
) -> Explanation | None:
    """Why `hit` ranks where it does for `query` (`kb search --explain`)."""
    if isinstance(index, SuggestIndex):
        return index.explain(query, hit.id, hit.score)
    doc = None
    try:
        if hit.kind == "kb":
            doc = doc_from_article(read_article(store, hit.id))
        else:
            doc = doc_from_ticket_text(fsio.read_limited(store.path_of(hit.id)).decode("utf-8"))
    except (ElinkError, OSError, ValueError, yamlio.YamlError):
        doc = None
    return index.explain(query, hit.id, hit.score, doc)


def solution_line(store: Store, hit: Hit) -> str:
    """First line of the solution of a hit: the article's, or the incident's last one."""
    try:
        if hit.kind == "kb":
            return article_solution_first_line(read_article(store, hit.id))
        ticket = store.load(hit.id)
    except (ElinkError, OSError):
        return ""
    solutions = [
        str(e.get("solution")) for e in ticket.events if e.type == "resolved" and e.get("solution")
    ]
    return first_line(solutions[-1]) if solutions else ""


@dataclass(frozen=True)
class Suggestion:
    """One line the desk sees after registering: where the answer may already be."""

    hit: Hit
    solution: str
    similar_count: int = 1

    def line(self) -> str:
        text = f"suggest: {self.hit.id} {self.hit.title}"
        if self.similar_count > 1:
            text += f" ({self.similar_count} incidents like this, latest shown)"
        return text + (f" — {self.solution}" if self.solution else "")


def _suggestion_hits(
    store: Store, query: str, limit: int, system: str | None, module: str | None
) -> list[Hit]:
    """From the suggestion database brought up to date, else from the full index.

    The full index (loaded whole, refreshed only on small stores) answers
    when there is no usable suggestion database yet (on a small store its
    refresh derives one), when another process holds it, or when it is
    damaged.
    """
    source = kb_source(store)
    hits = search_suggestions(source, query, limit, system, module, max_reads=SUGGEST_MAX_READS)
    if hits is not None:
        return hits
    full = load_index(source, max_reads=SUGGEST_MAX_READS, stale_ok_above=SUGGEST_STALE_OK_ABOVE)
    return full.search(query, limit, system, module)


def suggest(
    store: Store, fields: Mapping[str, Any], exclude: Iterable[str] = (), limit: int = 3
) -> list[Suggestion]:
    """Top articles and similar resolved incidents for a just-registered incident.

    Cheap when there is nothing to find: with no article and no cached
    index, a store whose tickets are all still open yields an empty index
    after one directory scan.
    """
    system = str(fields.get("system") or "").strip() or None
    module = str(fields.get("module") or "").strip() or None
    # The title last, whole: its last word says what is broken (kb.relevance.lacks_head).
    parts = {k: str(fields.get(k) or "").strip() for k in ("system", "description", "title")}
    # Who is asking is not what is broken: the reporter's name and department leave
    # the title (市场部欧阳娜娜域账号频繁锁定); an unknown name is rare text to the index.
    who = fields.get("reporter")
    for name in (who.get("name"), who.get("department")) if isinstance(who, Mapping) else ():
        if isinstance(name, str) and len(name.strip()) > 1:
            parts["title"] = parts["title"].replace(name.strip(), " ").strip()
    query = " ".join(parts.values()).strip()[-MAX_QUERY_CHARS:]
    if not query:
        return []
    skip = set(exclude)
    found = _suggestion_hits(store, query, _window(limit) + len(skip), system, module)
    hits = [h for h in found if h.id not in skip]
    # An incident that an article already cites is said better by the article:
    # do not spend one of three lines on it twice.
    for h in hits:
        if h.kind == "kb":
            try:
                skip.update(read_article(store, h.id).incidents)
            except (ElinkError, OSError):
                continue
    described = len(str(fields.get("description") or "").strip())
    share = 1.0 - described / len(query)  # the floor is a share of the title (suggestable)
    lines = [ln for ln in suggestable(hits, title_share=share) if ln.hit.id not in skip]
    return [
        Suggestion(ln.hit, solution_line(store, ln.hit), ln.similar_count) for ln in lines[:limit]
    ]


def suggestion_lines(store: Store, ticket: Ticket) -> list[str]:
    """What `new` shows on stderr after the new ID: suggestions, or one note.

    Never raises: the incident is already committed when this runs, so any
    problem here (a broken article, an unwritable cache, a bug) costs at
    most one note.
    """
    try:
        return [s.line() for s in suggest(store, dict(ticket.fields), exclude=[ticket.id])]
    except IndexNotReady:
        return [
            "note: no suggestions: the knowledge-base index is not built yet "
            "(run `elinkctl kb search` once)"
        ]
    except Exception as exc:  # noqa: BLE001 - registration must not fail on a hint
        return [f"note: no knowledge-base suggestions ({exc})"]


# --- the knowledge-base decision ---------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A new article and the decision recorded on its incident (None: it had one)."""

    article: Article
    decision: Change | None
    notes: list[str] = field(default_factory=list)


def add_article_from_incident(
    store: Store, article: Article, incident: str, actor: str, now: dt.datetime
) -> Added:
    """Commit an article drafted from an incident together with l2's decision
    on that incident (``kb_decided {decision: article, article}``): one commit,
    so the incident never says "article" without the article, nor the other
    way round. The incident is read under the lock; a reopen since the draft
    refuses both."""
    with store.transaction(actor) as tx:
        ticket = tx.find(incident)
        change, note = kbdecision.decide_article(ticket, article.id, actor, now, now)
        stage_article(tx, article, is_new=True)
        if change is not None:
            tx.put(change.ticket)
        tx.commit(added_message(article))
    return Added(article, change, [note] if note else [])
