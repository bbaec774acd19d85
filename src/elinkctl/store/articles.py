"""The articles in a store: `knowledge/<KB-ID>.md` files, found, read and committed.

`elinkctl.kb.article` is one article's file format; this module is the
collection: IDs from file names, an ID typed or heard over the phone
resolved to a file, articles read, new and edited ones committed through
`Store.transaction` (one change, one journalled commit as the acting
person, under the store lock).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl import fsio
from elinkctl.domain.layout import KNOWLEDGE
from elinkctl.errors import Ambiguous, ElinkError, NotFound, StoreError, UsageProblem
from elinkctl.kb.article import (
    CAUSE,
    CROCKFORD,
    Article,
    ArticleError,
    draft_from_incident,
    new_article_id,
    normalize_article_id,
    parse_article,
    render_article,
)
from elinkctl.kb.changes import (
    ArticleChanges,
    apply_changes,
    changed_fields,
    new_article,
    set_section,
)
from elinkctl.kb.docs import SEARCHABLE_STATUSES
from elinkctl.store.store import Store

if TYPE_CHECKING:
    from elinkctl.store.transaction import Transaction

__all__ = [
    "add_article",
    "added_message",
    "article_ids",
    "article_path",
    "draft_from_ticket",
    "edit_article",
    "iter_articles",
    "load_article",
    "make_article",
    "read_article",
    "resolve_article_id",
    "save_edited_article",
    "stage_article",
]

_FRAGMENT = re.compile(rf"^[{CROCKFORD}]{{1,5}}$")


def knowledge_dir(store: Store) -> Path:
    return store.root / KNOWLEDGE


def article_path(store: Store, article_id: str) -> Path:
    """The file of a full, canonical ID (validated before it becomes a path)."""
    if normalize_article_id(article_id) != article_id or not article_id.startswith("KB-"):
        raise UsageProblem(f"not an article ID: {article_id!r}")
    return knowledge_dir(store) / f"{article_id}.md"


def article_ids(store: Store) -> list[str]:
    """IDs of the article files (by file name), sorted; no file is parsed.
    In a sparse checkout that leaves knowledge/ out, those git holds there."""
    base = knowledge_dir(store)
    found = {
        rel[len(KNOWLEDGE) + 1 : -3]
        for rel in _outside(store)
        if rel.count("/") == 1 and rel.endswith(".md") and "/KB-" in rel
    }
    if base.is_dir():
        found.update(
            e.name[:-3]
            for e in os.scandir(base)
            if e.name.startswith("KB-") and e.name.endswith(".md") and e.is_file()
        )
    return sorted(found)


def _outside(store: Store) -> dict[str, str]:
    """rel -> blob of the article files a sparse checkout leaves out of the
    work tree (`elinkctl.cache.blobs.skipped_files`); {} in a full checkout
    (no git process)."""
    from elinkctl.cache.blobs import skipped_files

    try:
        return skipped_files(store.state_dir.parent, store.git.run_bytes, KNOWLEDGE)
    except StoreError:
        return {}


def resolve_article_id(store: Store, given: str) -> str:
    """A full article ID from the ID or any unique prefix/suffix of its five characters.

    Read as typed or heard (case, 'KB-' optional, O→0, I/L→1), like incident
    IDs, so the desk can say "article 7KQ" on the phone.
    """
    canonical = normalize_article_id(given)
    known = article_ids(store)
    if canonical in known:
        return canonical
    frag = given.strip().upper().replace("_", "-")
    if frag.startswith("KB"):
        frag = frag[2:].lstrip("-")
    frag = frag.translate(str.maketrans("OIL", "011"))
    if not _FRAGMENT.match(frag):
        raise UsageProblem(f"not an article ID: {given!r}")
    candidates = [i for i in known if i[3:].startswith(frag) or i[3:].endswith(frag)]
    if not candidates:
        raise NotFound(f"no knowledge-base article matches {given!r}")
    if len(candidates) > 1:
        raise Ambiguous(given, candidates)
    return candidates[0]


def read_article(store: Store, article_id: str) -> Article:
    """The article of a full ID; `NotFound`, or `ArticleError` naming file and line."""
    path = article_path(store, article_id)
    rel = store.rel(path)
    try:
        try:
            data = fsio.read_limited(path)
        except FileNotFoundError:
            blob = _outside(store).get(rel)
            if blob is None:
                raise NotFound(f"{rel}: no such article") from None
            from elinkctl.cache.blobs import reader  # outside a sparse checkout: git's copy

            data = reader(store.root).read(blob)
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArticleError(f"{rel}: not UTF-8 text") from None
    except OSError as exc:  # a FIFO, a device, a link, too large: never waited on
        raise ArticleError(f"{rel}: cannot read: {exc.strerror or exc}") from None
    return parse_article(text, rel)


def load_article(store: Store, given: str) -> Article:
    """The article for an ID or fragment; `ArticleError` names file and line."""
    return read_article(store, resolve_article_id(store, given))


def iter_articles(store: Store, on_error: Callable[[str], None]) -> Iterator[Article]:
    """Every parseable article in ID order; a broken file goes to `on_error` and is skipped."""
    for art_id in article_ids(store):
        try:
            yield read_article(store, art_id)
        except ArticleError as exc:
            on_error(str(exc))


# -- new and changed articles ---------------------------------------------------------


def fresh_id(store: Store) -> str:
    """A new article ID not used in this clone (random: unique across clones)."""
    return new_article_id(set(article_ids(store)), random.SystemRandom())


def _resolved(store: Store, changes: ArticleChanges) -> ArticleChanges:
    """`changes` with its incidents (as typed) resolved to full IDs."""
    return replace(changes, incidents=tuple(store.resolve_id(i) for i in changes.incidents))


def make_article(store: Store, changes: ArticleChanges, actor: str, today: dt.date) -> Article:
    """A new article (with a fresh ID) from its fields; incidents as typed are resolved."""
    article_id = fresh_id(store)
    return new_article(article_id, _resolved(store, changes), actor, today)


def edit_article(store: Store, article: Article, changes: ArticleChanges) -> Article:
    """`article` with `changes` applied; incidents as typed are resolved and added."""
    return apply_changes(article, _resolved(store, changes))


def draft_from_ticket(store: Store, given: str, actor: str, today: dt.date) -> Article:
    """A draft article (with a fresh ID) from a resolved or closed incident.

    The cause recorded by `resolve --cause` replaces the draft's placeholder:
    someone who handled the incident already said why it happened.
    """
    ticket = store.find(given)
    if str(ticket.status) not in SEARCHABLE_STATUSES:
        raise ElinkError(
            f"{ticket.id} is {ticket.status}, not resolved: an article records a solution "
            "that worked (resolve it first)"
        )
    data: dict[str, Any] = dict(ticket.fields)
    data["id"] = ticket.id
    data["events"] = [e.to_dict() for e in ticket.events]
    article = draft_from_incident(data, article_id=fresh_id(store), author=actor, today=today)
    causes = [str(e.get("cause")) for e in ticket.events if e.type == "resolved" and e.get("cause")]
    if causes:
        article = replace(article, body=set_section(article.body, CAUSE, causes[-1].strip()))
    return article


def stage_article(tx: Transaction, article: Article, *, is_new: bool) -> None:
    """Stage one article in an open transaction, rendered and checked: what is
    committed is what `kb show` reads. A new article must not exist yet, an
    edited one must."""
    store = tx.store
    path = article_path(store, article.id)
    rel = store.rel(path)
    text = render_article(article)
    parse_article(text, rel)
    if is_new and path.exists():
        raise StoreError(f"{rel} already exists; try again for a fresh ID")
    if not is_new and not path.exists():
        raise NotFound(f"{rel}: no such article")
    tx.put_file(path, text, is_new=is_new)


def _commit(store: Store, article: Article, actor: str, message: str, *, is_new: bool) -> None:
    """Write one article and commit it as `actor`."""
    with store.transaction(actor) as tx:
        stage_article(tx, article, is_new=is_new)
        tx.commit(message)


def added_message(article: Article) -> str:
    """The commit message of a new article: "KB-…: added <title> (from INC-…)"."""
    message = f"{article.id}: added {article.title}"
    if article.incidents:
        message += f" (from {', '.join(article.incidents)})"
    return message


def add_article(store: Store, article: Article, actor: str) -> Article:
    """Commit a new article: one commit by `actor` (`added_message`)."""
    _commit(store, article, actor, added_message(article), is_new=True)
    return article


def save_edited_article(store: Store, before: Article, after: Article, actor: str) -> list[str]:
    """Commit an edited article; returns the changed fields ([] → nothing written)."""
    if after.id != before.id:
        raise UsageProblem(f"the id cannot change ({before.id} → {after.id}); nothing saved")
    changed = changed_fields(before, after)
    if changed:
        _commit(store, after, actor, f"{after.id}: edited {', '.join(changed)}", is_new=False)
    return changed
