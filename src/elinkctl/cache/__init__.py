"""The cache layer: everything elinkctl derives from the store to answer fast.

What is cached, all of it machine-local under ``.git/elinkctl/`` (never
committed; the one exception is a publication a host makes on purpose,
below):

- ``index.sqlite``: change detection against git (per-month listing chunks,
  month directory signatures), one summary row per ticket file, content-keyed
  per-ticket facts and per-month folds of them (`elinkctl.cache.index`);
- ``listing.sig``: which git index file the last listing came from, so a
  warm read skips ``git ls-files`` (`elinkctl.cache.prefetch`);
- ``check-plan.json``: when each open ticket next needs ``check``;
- ``audit-history.json``: what each commit did to the tickets, up to a head,
  so `audit` reads only the commits made since (`elinkctl.cache.audit`);
- the knowledge base's search index and suggestion database (``kb-*``).

``elinkctl index publish`` commits a copy of ``index.sqlite`` and the
check plan to the branch ``elinkctl-index``, so that a fresh clone starts
from them instead of parsing every ticket (`elinkctl.cache.shipped`); a
clone checks that copy (code, a sample of rows, each row's blob) like any
other cache before using it.

Everything here is derived, disposable and rebuilt whenever in doubt: a
missing, corrupt, locked or other-version cache is discarded or bypassed,
and the answer is the one reading the files would give (`index_failed`
names the failures after which readers fall back to the files). Every cache
is validated against what git and the file system say now before use, and
keyed by content (git blob IDs, stat data, digests of rules and code).

`FORMAT_VERSION` is the version of the whole layer: each cache's own version
is combined with it (`versioned`), so changing it discards every cache.

The modules: `prefetch` (git's listing calls started at process start),
`listing` (what git and the file system say now: snapshot, content keys),
`changes` (which files may differ from their rows), `shipped` (the
published index), `rows` (a ticket as a
row and back as a `Summary`), `index` (the database: refresh and queries),
`facts` (per-ticket values by content), `folds` (per-month folds by
generation), `plan` (check's plan), `versions` (rules and code digests),
`db` (the one SQLite opener), and the knowledge base's caches (``kb*``).

This package's ``__init__`` and `elinkctl.cache.prefetch` are imported at
start-up: they import nothing beyond what the interpreter has loaded anyway.
"""

from __future__ import annotations

FORMAT_VERSION = "1"
"""Bump to discard every cache of every store (each is rebuilt on next use)."""


def versioned(local: str) -> str:
    """A cache's own version string combined with the layer's `FORMAT_VERSION`."""
    return f"{FORMAT_VERSION}.{local}"


def index_failed(exc: BaseException, also: tuple[type[Exception], ...] = ()) -> bool:
    """Whether ``exc`` is a failure of a cache after which a reader falls back
    to the files: SQLite trouble, a store problem found while validating, or
    an OS error (a read-only or full ``.git``). (sqlite3 is imported here, not
    at start-up: commands that never touch a cache do not pay for it.)"""
    import sqlite3

    from elinkctl.errors import StoreError

    return isinstance(exc, (sqlite3.Error, StoreError, OSError, *also))
