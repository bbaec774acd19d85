"""`kb search` reads kb-search.sqlite, kept current through the ticket index:
it must give the answer the files give, after commits, hand edits and damage."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import Desk
from elinkctl.cache.kb_search import SEARCH_FILE

if TYPE_CHECKING:
    from elinkctl.kb.docs import Doc

QUALITY = Path(__file__).parent / "kb_quality" / "articles"
T0 = "2026-11-23T10:00:00+08:00"
T1 = "2026-11-23T11:30:00+08:00"
QUERIES = ("打印机卡纸", "邮件发不出去", "域账号被锁定", "扫描仪共享文件夹", "会议室空调不制冷")


def _seed(desk: Desk) -> None:
    for name in ("KB-0VXKB", "KB-ZCFSN", "KB-YFCY7", "KB-28G7V"):
        shutil.copy(QUALITY / f"{name}.md", desk.root / "knowledge" / f"{name}.md")
    desk.git("add", "knowledge")
    desk.git("commit", "-q", "-m", "seed articles")


def _resolved(desk: Desk, title: str, solution: str) -> str:
    tid = desk.new(now=T0, title=title)
    desk.ok("accept", tid, now=T0)
    desk.ok("resolve", tid, "--solution", solution, now=T1)
    return tid


def _answers(desk: Desk) -> list[list[tuple[str, str, int, bool]]]:
    return [
        [
            (h["id"], h["title"], h["similar_count"], h["relevant"])
            for h in desk.json("kb", "search", q)
        ]
        for q in QUERIES
    ]


def _from_files(desk: Desk) -> list[list[tuple[str, str, int, bool]]]:
    """The same searches with every kb cache removed (built from the files)."""
    state = desk.root / ".git" / "elinkctl"
    for name in ("kb-index.bin", "kb-docs.json", "kb-stamp", SEARCH_FILE):
        (state / name).unlink(missing_ok=True)
    return _answers(desk)


def test_search_database_follows_commits_hand_edits_and_damage(desk: Desk) -> None:
    _seed(desk)
    first = _resolved(desk, "扫描仪扫描到共享文件夹失败", "重新映射共享文件夹权限")
    assert desk.json("kb", "search", "扫描仪共享文件夹")[0]["id"] == first
    db = desk.root / ".git" / "elinkctl" / SEARCH_FILE
    assert db.is_file()
    # A new resolved incident (a commit): found without a rebuild.
    before = db.stat().st_ino
    second = _resolved(desk, "邮件发不出去", "清理邮箱后恢复")
    assert any(h["id"] == second for h in desk.json("kb", "search", "邮件发不出去"))
    assert db.stat().st_ino == before  # brought up to date in place
    # A hand edit in the work tree (not committed) is seen.
    path = desk.ticket_path(first)
    path.write_text(
        path.read_text(encoding="utf-8").replace("扫描仪扫描到共享文件夹失败", "绘图仪卡纸"),
        encoding="utf-8",
    )
    assert desk.json("kb", "search", "绘图仪")[0]["id"] == first
    titles = {h["id"]: h["title"] for h in desk.json("kb", "search", "扫描仪共享文件夹")}
    assert titles.get(first, "绘图仪卡纸") == "绘图仪卡纸"
    # An edited and a deleted article.
    desk.ok("kb", "edit", "KB-YFCY7", "--title", "域账号被冻结怎么办")
    assert desk.json("kb", "search", "域账号被冻结")[0]["title"] == "域账号被冻结怎么办"
    (desk.root / "knowledge" / "KB-28G7V.md").unlink()
    assert "KB-28G7V" not in [h["id"] for h in desk.json("kb", "search", "打印机脱机")]
    # Every answer is the one the files give.
    kept = _answers(desk)
    assert kept == _from_files(desk)
    # A damaged database is rebuilt without a word.
    db.write_bytes(b"not a database")
    result = desk.ok("kb", "search", "打印机卡纸", "--json")
    assert result.stderr == ""
    assert _answers(desk) == kept


def _docs(n: int) -> list[tuple[str, Doc]]:
    from elinkctl.kb.docs import Doc as D

    out = [
        (f"knowledge/KB-{i:05d}.md", D(f"KB-{i:05d}", "kb", f"打印机问题{i}", "重启", ("打印机",)))
        for i in range(3)
    ]
    out += [
        (
            f"tickets/2026/11/INC-2611{i:02d}-AAAA.yaml",
            D(f"INC-2611{i:02d}-AAAA", "ticket", "邮件发不出去", f"清理邮箱{i}", ("邮件",)),
        )
        for i in range(n)
    ]
    return out


def test_read_postings_is_what_from_bytes_loads(tmp_path: Path) -> None:
    """The build reads an index image's postings alone; they are the full load's."""
    from elinkctl.kb.postings import read_postings
    from elinkctl.kb.search import IndexFormatError, SearchIndex

    index = SearchIndex([d for _, d in _docs(20)])
    image = tmp_path / "kb-index.bin"
    image.write_bytes(index.to_bytes("stamp-1"))
    with image.open("rb") as f:
        stamp, got = read_postings(f)
    want = SearchIndex.from_bytes(image.read_bytes()).postings()
    assert stamp == "stamp-1"
    assert got == want
    image.write_bytes(index.to_bytes("stamp-1")[:-3])  # truncated
    with image.open("rb") as f, pytest.raises(IndexFormatError):
        read_postings(f)


def test_docs_cache_streams_in_index_order(tmp_path: Path) -> None:
    """kb-docs.json read one entry at a time, articles first, whatever the file's
    order; entries without a document skipped; another format refused."""
    import json

    from elinkctl.cache.kb import VERSION, stream_docs_cache
    from elinkctl.kb.docs import doc_to_json

    docs = _docs(5)
    files: dict[str, object] = {rel: [1, 2, doc_to_json(d)] for rel, d in reversed(docs)}
    files["tickets/2026/11/INC-261199-OPEN.yaml"] = [1, 2, None]  # open: not searchable
    path = tmp_path / "kb-docs.json"
    data = {"format": VERSION, "fingerprint": "fp", "files": files}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    fingerprint, found = stream_docs_cache(path)
    assert fingerprint == "fp"
    assert list(found) == docs
    path.write_text(json.dumps({**data, "format": "other"}), encoding="utf-8")
    with pytest.raises(ValueError):
        stream_docs_cache(path)


def test_search_index_streamed_equals_the_suggestion_build() -> None:
    """`build_search_index` (streamed, postings only) writes what
    `build_suggest_index` keeping everything writes; a short stream is refused."""
    import sqlite3

    from elinkctl.kb import SuggestIndex, build_suggest_index
    from elinkctl.kb.search import SearchIndex
    from elinkctl.kb.suggestdb import build_search_index

    docs = _docs(40)
    index = SearchIndex([d for _, d in docs])
    a = sqlite3.connect(":memory:", isolation_level=None)
    b = sqlite3.connect(":memory:", isolation_level=None)
    paths = [p for p, _ in docs]
    build_suggest_index(
        a, index, paths, [d for _, d in docs], recent=len(docs), head="h", fingerprint="f"
    )
    build_search_index(b, index.postings(), iter(docs), head="h", fingerprint="f")
    for table in ("terms", "docs", "blobs", "tkeys", "meta"):
        assert list(a.execute(f"SELECT * FROM {table} ORDER BY 1")) == list(
            b.execute(f"SELECT * FROM {table} ORDER BY 1")
        )
    for q in ("打印机", "邮件发不出去"):
        assert SuggestIndex(a).search(q, 5, collapse=True) == SuggestIndex(b).search(
            q, 5, collapse=True
        )
    c = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError):
        build_search_index(c, index.postings(), iter(docs[:-1]), head="h", fingerprint="f")
