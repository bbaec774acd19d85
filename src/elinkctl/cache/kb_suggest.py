"""The suggestion database `new` searches: ``kb-suggest.sqlite`` in the state directory.

`new`'s suggestions do not load the full search index: at 100,000
incidents that costs half a second. Whenever the full index is rebuilt
(`elinkctl.cache.kb`), this database is derived from it
(`elinkctl.kb.suggestdb`): every article and the newest `SUGGEST_RECENT`
resolved incidents, with the full index's weights and statistics, stored
per term so that a query reads only its own terms' postings. It records the
commit it reflects; before a search, `catch_up` asks git which files changed
since (``git diff-tree``, a tree comparison) and applies just those, so it
follows every commit at a cost that does not grow with the store.

A cache like the others: missing, damaged or busy, the caller falls back to
the full index, and the next rebuild derives it again.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from elinkctl.cache import shipped_kb
from elinkctl.cache.blobs import is_sparse
from elinkctl.cache.db import connect, discard, in_memory
from elinkctl.cache.head import read_head
from elinkctl.cache.kb_files import (
    KbSource,
    ignore,
    is_searchable_path,
    read_doc,
)
from elinkctl.domain.layout import KNOWLEDGE, TICKETS
from elinkctl.errors import StoreError
from elinkctl.fsio import atomic_write
from elinkctl.kb.docs import Doc
from elinkctl.kb.search import Hit, IndexFormatError, SearchIndex
from elinkctl.kb.suggestdb import SuggestIndex, build_suggest_index

if TYPE_CHECKING:
    from collections.abc import Sequence

SUGGEST_FILE = shipped_kb.SUGGESTIONS
#: Never created: given to git as its index file where it need not read the real one.
_NO_INDEX_FILE = "kb-no-git-index"

SUGGEST_RECENT = 10_000
"""Resolved incidents the suggestion database keeps besides every article: the
newest, by when they were opened. 50–200 incidents a day is two to six
months of them; older ones are found by `kb search`. A query reads only its
terms' postings among these, so `new` costs the same on any store size."""


def head_commit(source: KbSource, known: str | None = None) -> str | None:
    """`known`, else HEAD read from git's files, else from `git rev-parse`; None if none."""
    head = known or read_head(source.git_dir)
    if head is None:
        try:
            out = source.git("rev-parse", "--verify", "-q", "HEAD^{commit}")
        except StoreError:
            return None
        head = out.decode("ascii", "replace").strip() or None
    return head


def open_suggestions(state: Path) -> SuggestIndex | None:
    """The suggestion database in a state directory, or None when missing or unusable.
    The caller closes ``.conn``."""
    import sqlite3

    path = state / SUGGEST_FILE
    if not path.is_file():
        return None
    try:
        # Derived elsewhere and renamed into place: opened only if it exists.
        # A crash may cost this cache, so no write ever waits for the disk.
        conn = connect(path, create=False, timeout=0.5, journal=None, synchronous="OFF")
    except sqlite3.Error:
        return None
    try:
        return SuggestIndex(conn)
    except (sqlite3.Error, IndexFormatError, KeyError, TypeError):
        conn.close()
        return None


def derived_from(state: Path, fingerprint: str) -> bool:
    """Whether the suggestion database was derived from the index of these documents."""
    index = open_suggestions(state)
    if index is None:
        return False
    try:
        return index.fingerprint == fingerprint
    finally:
        index.conn.close()


def derive(
    source: KbSource,
    index: SearchIndex,
    paths: Sequence[str],
    docs: Sequence[Doc],
    fingerprint: str,
    head: str | None,
) -> None:
    """Derive the suggestion database from a fresh full index; silently nothing on failure.

    Built in memory and written whole through `atomic_write`: a `new`
    running meanwhile keeps reading the file it opened.
    """
    import sqlite3

    head = head_commit(source, head)
    target = source.state / SUGGEST_FILE
    try:
        if head is None:  # no commit yet: nothing to follow the store from
            discard(target)
            return
        conn = in_memory()
        try:
            build_suggest_index(
                conn,
                index,
                paths,
                docs,
                recent=SUGGEST_RECENT,
                head=head,
                fingerprint=fingerprint,
            )
            data = conn.serialize()
        finally:
            conn.close()
        atomic_write(target, data, durable=False)
    except (OSError, sqlite3.Error, ValueError):
        pass


def catch_up(source: KbSource, index: SuggestIndex, max_reads: int) -> None:
    """Bring the suggestion database to the current commit (git says which files changed).

    Cost: one `git diff-tree` between the two commits (a tree comparison:
    unchanged months are not looked at) and reading the changed files, at
    most `max_reads` of them; beyond that (a big pull) the database is used
    as it is until `kb search` rebuilds it. Files not committed yet are not
    seen here (`kb search` sees them). `StoreError` when git cannot compare
    the commits (the recorded one is gone).
    """
    head = head_commit(source)
    since = index.head
    if head is None or head == since:
        return
    env = dict(os.environ, GIT_INDEX_FILE=str(source.state / _NO_INDEX_FILE))
    out = source.git(
        "diff-tree",
        "-r",
        "-z",
        "--no-renames",
        "--name-only",
        since,
        head,
        "--",
        TICKETS,
        KNOWLEDGE,
        env=env,  # diff-tree otherwise reads git's index: 15 ms at 100,000 files
    )
    paths = [rel for rel in out.decode("utf-8", "surrogateescape").split("\0") if rel]
    paths = [rel for rel in paths if is_searchable_path(rel)]
    if len(paths) > max_reads:
        return
    # A file outside a sparse checkout: as the commit followed holds it.
    sparse = is_sparse(source.git_dir)
    changes = [
        (rel, read_doc(source.root, rel, ignore, f"{head}:{rel}" if sparse else None))
        for rel in paths
    ]
    index.apply(changes, since=since, head=head)


def search_suggestions(
    source: KbSource,
    query: str,
    limit: int,
    system: str | None,
    module: str | None,
    *,
    max_reads: int,
) -> list[Hit] | None:
    """Hits from the suggestion database brought up to date; None when there is
    no usable one (missing, held by another process, or damaged: then it is
    removed, to be derived again)."""
    import sqlite3

    index = open_suggestions(source.state)
    if index is None:
        # A fresh clone whose first command is `new`: the published one, if any.
        if not shipped_kb.place(source.root, source.state, (SUGGEST_FILE,)):
            return None
        index = open_suggestions(source.state)
        if index is None:
            return None
    try:
        try:
            catch_up(source, index, max_reads)
        except (sqlite3.OperationalError, OSError):
            pass  # busy or read-only: suggest from the database as it is
        return index.search(query, limit, system, module)
    except sqlite3.OperationalError:
        return None  # held by another process for longer than its timeout
    except Exception:  # noqa: BLE001 - damaged, or its commit is gone: start again
        with suppress(OSError):
            discard(source.state / SUGGEST_FILE)
        return None
    finally:
        index.conn.close()
