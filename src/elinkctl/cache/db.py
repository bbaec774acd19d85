"""The one way a cache opens its SQLite database.

Every SQLite cache (the ticket index, the knowledge base's suggestion
database, the stats folds) opens through `connect`, which knows the habits
they share: autocommit (callers open their own ``BEGIN IMMEDIATE`` when
several statements must land together), a busy timeout, a journal mode and
``synchronous`` level chosen for a cache (a crash may cost the cache, never
a ticket), and a version stored in the database's ``meta`` table.

A database opened with ``create=True`` is the cache's own business: missing,
corrupt or of another version, it is deleted and made afresh without a word.
With ``create=False`` only an existing file is opened (`sqlite3.Error` if
there is none), for caches derived elsewhere and renamed into place.

sqlite3 is imported when a database is opened, not when this module is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from elinkctl.cache import versioned
from elinkctl.fsio import create_empty

if TYPE_CHECKING:
    import sqlite3

META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
"""Where `connect` keeps the version of a database it creates."""
_SUFFIXES = ("", "-wal", "-shm", "-journal")


def connect(
    path: Path,
    *,
    schema: str = "",
    version: str | None = None,
    create: bool = True,
    timeout: float = 10.0,
    journal: str | None = "WAL",
    synchronous: str = "NORMAL",
) -> sqlite3.Connection:
    """An autocommit connection to the cache database at ``path``.

    ``schema``: a script of ``CREATE … IF NOT EXISTS`` statements run on
    every open. ``version``: the cache's own schema version; the ``meta``
    table records it combined with the layer's `FORMAT_VERSION`, and a
    database recording anything else counts as another version.
    ``create``: make the file (and its directory) when missing, and discard
    and recreate it once when it is corrupt or of another version; without
    it, open an existing file read-write or raise `sqlite3.Error`, and leave
    a version mismatch to the caller (`sqlite3.DatabaseError`).
    ``journal``: the journal mode (None leaves SQLite's default), e.g. WAL
    for a database that readers share with a writer, OFF for a new file that
    is renamed into place when complete. ``synchronous``: NORMAL or OFF (a
    cache never needs FULL).
    """
    import sqlite3

    if not create:
        return _open(
            path.resolve().as_uri() + "?mode=rw",
            True,
            schema,
            version,
            timeout,
            journal,
            synchronous,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        create_empty(path)  # 0o666 less the umask; SQLite alone makes it 0o644
        try:
            return _open(str(path), False, schema, version, timeout, journal, synchronous)
        except sqlite3.Error:
            if attempt:
                raise
            discard(path)
    raise AssertionError("unreachable")  # pragma: no cover


def in_memory() -> sqlite3.Connection:
    """A fresh database in memory, for a cache built whole and then written to
    its file at once (`sqlite3.Connection.serialize` + `fsio.atomic_write`)."""
    return _open(":memory:", False, "", None, 10.0, "OFF", "OFF")


def _open(
    target: str,
    uri: bool,
    schema: str,
    version: str | None,
    timeout: float,
    journal: str | None,
    synchronous: str,
) -> sqlite3.Connection:
    import sqlite3

    db = sqlite3.connect(target, uri=uri, timeout=timeout, isolation_level=None)
    try:
        if journal is not None:
            db.execute(f"PRAGMA journal_mode={journal}")
        db.execute(f"PRAGMA synchronous={synchronous}")
        if schema:
            db.executescript(schema)
        if version is not None:
            _check_version(db, versioned(version), stamp=not uri)
        return db
    except BaseException:
        db.close()
        raise


def check_version(db: sqlite3.Connection, version: str) -> None:
    """Raise `sqlite3.DatabaseError` unless the database records the cache
    version ``version`` (combined with the layer's `FORMAT_VERSION`)."""
    _check_version(db, versioned(version), stamp=False)


def _check_version(db: sqlite3.Connection, wanted: str, *, stamp: bool) -> None:
    """Raise `sqlite3.DatabaseError` unless ``meta`` records ``wanted``; a new
    database (no version yet) is stamped with it when ``stamp``."""
    import sqlite3

    if stamp:
        db.executescript(META)
    row = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
    if row is not None and row[0] == wanted:
        return
    if row is None and stamp:
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (wanted,))
        return
    raise sqlite3.DatabaseError(f"cache {row[0] if row else 'unversioned'!r}, not {wanted!r}")


def discard(path: Path) -> None:
    """Delete a cache database and its journal files; the next use rebuilds it."""
    for suffix in _SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
