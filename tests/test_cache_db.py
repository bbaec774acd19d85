"""The one SQLite opener of the caches (`elinkctl.cache.db`): a cache's own
database is made, versioned and, when corrupt or of another version,
silently made afresh; an existing-only one is never created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from elinkctl import cache
from elinkctl.cache import db, index_failed
from elinkctl.errors import StoreError

SCHEMA = "CREATE TABLE IF NOT EXISTS items (name TEXT PRIMARY KEY);"


def open_items(path: Path, version: str = "1") -> sqlite3.Connection:
    return db.connect(path, schema=SCHEMA, version=version)


def names(conn: sqlite3.Connection) -> list[str]:
    return [n for (n,) in conn.execute("SELECT name FROM items")]


def test_created_versioned_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "c.sqlite"
    conn = open_items(path)
    conn.execute("INSERT INTO items VALUES ('a')")  # autocommit
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    again = open_items(path)
    assert names(again) == ["a"]
    (recorded,) = again.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
    assert recorded == cache.versioned("1")
    again.close()


def test_other_version_or_layer_format_starts_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.sqlite"
    conn = open_items(path)
    conn.execute("INSERT INTO items VALUES ('a')")
    conn.close()
    conn = open_items(path, version="2")
    assert names(conn) == []
    conn.execute("INSERT INTO items VALUES ('b')")
    conn.close()
    monkeypatch.setattr(cache, "FORMAT_VERSION", "next")
    conn = open_items(path, version="2")
    assert names(conn) == []
    conn.close()


def test_corrupt_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"not a database \x00\xff" * 300)
    conn = open_items(path)
    assert names(conn) == []
    conn.close()
    assert path.read_bytes().startswith(b"SQLite format 3")


def test_existing_only(tmp_path: Path) -> None:
    path = tmp_path / "derived.sqlite"
    with pytest.raises(sqlite3.Error):
        db.connect(path, create=False)
    assert not path.exists()
    made = sqlite3.connect(path)
    made.executescript("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    made.commit()
    made.close()
    conn = db.connect(path, create=False, timeout=0.5, journal=None, synchronous="OFF")
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 0
    conn.close()
    with pytest.raises(sqlite3.DatabaseError):  # unversioned: the caller decides
        db.connect(path, create=False, version="1")
    assert path.exists()


def test_discard_removes_journal_files(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = open_items(path)
    conn.execute("INSERT INTO items VALUES ('a')")
    assert Path(f"{path}-wal").exists()
    conn.close()
    Path(f"{path}-wal").write_bytes(b"")
    db.discard(path)
    assert not any(tmp_path.iterdir())


def test_index_failed_names_the_fallback_failures() -> None:
    assert index_failed(sqlite3.OperationalError("locked"))
    assert index_failed(StoreError("index: no facts"))
    assert index_failed(PermissionError("read-only .git"))
    assert not index_failed(AttributeError("x"))
    assert index_failed(AttributeError("x"), (AttributeError,))
    assert not index_failed(ValueError("a bug"))
