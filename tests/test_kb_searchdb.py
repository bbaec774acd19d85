"""`kb search` reads kb-search.sqlite, kept current through the ticket index:
it must give the answer the files give, after commits, hand edits and damage."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import Desk
from elinkctl.cache.kb_search import SEARCH_FILE

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
