"""The knowledge base through the CLI: add from incidents, search, suggest, show/list/edit.

Every test runs on a temporary store (the `desk` fixture); a handful of the
quality-set articles are copied in so searches face realistic neighbours.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Desk
from elinkctl.kb import parse_article

QUALITY = Path(__file__).parent / "kb_quality" / "articles"
#: Neighbours of the articles we grow from incidents: same words, other problems.
NEIGHBOURS = (
    "KB-ZAB5R",
    "KB-H73JN",
    "KB-YFCY7",
    "KB-0VXKB",
    "KB-28G7V",
    "KB-Z4E63",
    "KB-ZCFSN",
    "KB-3GKK8",
)
T0 = "2026-11-23T10:00:00+08:00"
T1 = "2026-11-23T11:30:00+08:00"
T2 = "2026-11-23T14:00:00+08:00"


def seed_articles(desk: Desk, names: tuple[str, ...] = NEIGHBOURS) -> None:
    for name in names:
        shutil.copy(QUALITY / f"{name}.md", desk.root / "knowledge" / f"{name}.md")
    desk.git("add", "knowledge")
    desk.git("commit", "-q", "-m", "seed articles")


def resolved(desk: Desk, title: str, solution: str, **fields: str) -> str:
    tid = desk.new(now=T0, title=title, **fields)
    desk.ok("accept", tid, now=T0)
    desk.ok("resolve", tid, "--solution", solution, "--cause", "证书过期", now=T1)
    return tid


def add_from(desk: Desk, tid: str, user: str = "l2-zhao") -> str:
    result = desk.ok("kb", "add", "--from", tid, user=user, now=T2)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # stdout is only the ID
    return lines[0]


def search_ids(desk: Desk, *query: str, extra: tuple[str, ...] = ()) -> list[str]:
    data = desk.json("kb", "search", *query, *extra)
    return [h["id"] for h in data]


@pytest.fixture
def vpn_desk(desk: Desk) -> tuple[Desk, str, str]:
    """A store with neighbours, one resolved incident and the article drafted from it."""
    seed_articles(desk)
    tid = resolved(
        desk,
        "财务报销系统登录时提示证书错误",
        "在认证服务器上更新SSL证书并重启认证服务",
        system="财务系统",
        module="登录",
        description="用户打开报销系统登录页面，输入密码后提示证书错误，无法进入",
    )
    return desk, tid, add_from(desk, tid)


def test_add_from_incident_writes_one_commit_by_the_actor(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, tid, kb_id = vpn_desk
    path = desk.root / "knowledge" / f"{kb_id}.md"
    article = parse_article(path.read_text(encoding="utf-8"), f"knowledge/{kb_id}.md")
    assert article.title == "财务报销系统登录时提示证书错误"
    assert article.incidents == [tid]
    assert article.systems == ["财务系统"] and article.modules == ["登录"]
    assert article.author == "l2-zhao"
    assert "在认证服务器上更新SSL证书并重启认证服务" in article.section("解决方案")
    assert article.section("原因") == "证书过期"  # from resolve --cause
    log = desk.git("log", "-1", "--format=%an|%s", "--name-only").splitlines()
    assert log[0] == f"l2-zhao|{kb_id}: added 财务报销系统登录时提示证书错误 (from {tid})"
    # the article and the decision on the incident, in the same commit
    ticket_rel = desk.ticket_path(tid).relative_to(desk.root).as_posix()
    assert log[2:] == [f"knowledge/{kb_id}.md", ticket_rel]
    assert desk.git("status", "--porcelain", "knowledge").strip() == ""


def test_add_from_an_open_incident_is_refused(desk: Desk) -> None:
    tid = desk.new(now=T0)
    before = desk.commit_count()
    result = desk.run("kb", "add", "--from", tid, now=T2)
    assert result.exit_code == 1
    assert "not resolved" in result.stderr and result.stdout == ""
    assert desk.commit_count() == before


@pytest.mark.parametrize(
    "query",
    [
        "报销系统登不进去 提示证书错误",
        "财务系统 登录 证书 error",
        "登录财务系统时说证书有问题",
        "ssl证书错误 进不了报销",
    ],
)
def test_article_found_with_other_wordings(vpn_desk: tuple[Desk, str, str], query: str) -> None:
    desk, _, kb_id = vpn_desk
    assert kb_id in search_ids(desk, query)[:3]


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("vpn 连不上", "KB-H73JN"),
        ("电脑开机说账户被锁了", "KB-YFCY7"),
        ("复印机里纸卡住了", "KB-0VXKB"),
        ("外面发进来的email没收到", "KB-Z4E63"),
    ],
)
def test_seeded_articles_rank_in_top_three(
    vpn_desk: tuple[Desk, str, str], query: str, expect: str
) -> None:
    desk, _, _ = vpn_desk
    assert expect in search_ids(desk, query)[:3]


def test_search_json_shape_kinds_and_filters(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, tid, kb_id = vpn_desk
    hits = desk.json("kb", "search", "财务系统", "证书错误")
    # The keys of old plus the relevance decision and the collapsed count (added, never changed).
    keys = {"id", "title", "score", "kind", "relevant", "coverage", "similar_count"}
    assert hits and all(set(h) == keys for h in hits)
    assert {h["kind"] for h in hits} == {"kb", "ticket"}
    # Answering articles first, then everything else by score.
    first = [h for h in hits if h["kind"] == "kb" and h["relevant"]]
    assert hits[: len(first)] == first
    rest = hits[len(first) :]
    assert [h["score"] for h in rest] == sorted((h["score"] for h in rest), reverse=True)
    assert {kb_id, tid} <= {h["id"] for h in hits}
    only_tickets = desk.json("kb", "search", "证书错误", "--kind", "ticket")
    assert [h["id"] for h in only_tickets] == [tid]
    assert len(desk.json("kb", "search", "登录", "--limit", "2")) == 2
    assert desk.json("kb", "search", "xyzzy") == []


def test_search_table_shows_the_solution(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, kb_id = vpn_desk
    out = desk.ok("kb", "search", "报销系统证书错误").stdout
    row = next(line for line in out.splitlines() if line.startswith(kb_id))
    assert "在认证服务器上更新SSL证书并重启认证服务" in row


def test_new_suggests_on_stderr_and_no_suggest_silences(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, tid, kb_id = vpn_desk
    args = [
        "new",
        "--title",
        "报销系统登录报证书错误",
        "--type",
        "failure",
        "--reporter",
        "李四",
        "--system",
        "财务系统",
    ]
    result = desk.ok(*args, now=T2)
    new_id = result.stdout.strip()
    assert new_id.startswith("INC-") and "\n" not in new_id
    suggestions = [ln for ln in result.stderr.splitlines() if ln.startswith("suggest: ")]
    assert 1 <= len(suggestions) <= 3
    assert suggestions[0].startswith(f"suggest: {kb_id} ")
    assert "— 在认证服务器上更新SSL证书并重启认证服务" in suggestions[0]
    # the incident the article was drafted from is said by the article already
    assert not any(tid in ln for ln in suggestions)
    quiet = desk.ok(*args, "--no-suggest", now=T2)
    assert "suggest:" not in quiet.stderr and quiet.stdout.startswith("INC-")


def test_new_on_an_empty_knowledge_base_suggests_nothing(desk: Desk) -> None:
    result = desk.ok(
        "new", "--title", "OA打不开", "--type", "failure", "--reporter", "张三", now=T0
    )
    assert "suggest:" not in result.stderr and "note: no" not in result.stderr


def test_new_never_fails_on_a_broken_cache(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, _ = vpn_desk
    state = desk.root / ".git" / "elinkctl"
    (state / "kb-index.bin").unlink(missing_ok=True)
    (state / "kb-docs.json").unlink(missing_ok=True)
    state.chmod(0o500)  # the cache cannot be written: still suggests
    try:
        desk.new(now=T2, title="报销系统证书错误", system="财务系统")
        result = desk.ok("kb", "search", "报销系统证书错误", "--json")
        assert json.loads(result.stdout)
    finally:
        state.chmod(0o700)


def test_corrupt_cache_is_rebuilt_silently(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, kb_id = vpn_desk
    expected = desk.json("kb", "search", "报销系统证书错误")
    state = desk.root / ".git" / "elinkctl"
    index = state / "kb-index.bin"
    assert index.exists() and (state / "kb-docs.json").exists()
    index.write_bytes(index.read_bytes()[:100])
    (state / "kb-docs.json").write_text("{not json", encoding="utf-8")
    result = desk.ok("kb", "search", "报销系统证书错误", "--json")
    assert json.loads(result.stdout) == expected and result.stderr == ""
    index.write_bytes(b"garbage")
    assert desk.json("kb", "search", "报销系统证书错误") == expected
    assert expected[0]["id"] == kb_id


def test_cache_follows_changes(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, kb_id = vpn_desk
    assert search_ids(desk, "打印机卡纸")[0] == "KB-0VXKB"  # builds the cache
    desk.ok("kb", "edit", kb_id, "--title", "打印机卡纸后面板一直报错", now=T2)
    assert kb_id in search_ids(desk, "打印机卡纸")[:2]
    (desk.root / "knowledge" / "KB-0VXKB.md").unlink()
    assert "KB-0VXKB" not in search_ids(desk, "打印机卡纸")
    tid = resolved(desk, "扫描仪无法扫描到共享文件夹", "重新设置SMB共享凭据")
    assert search_ids(desk, "扫描仪共享文件夹")[0] == tid
    # A comment changes the file, not the searchable text: the index is re-stamped, not rebuilt.
    index = desk.root / ".git" / "elinkctl" / "kb-index.bin"
    built = index.stat().st_mtime_ns
    desk.ok("comment", tid, "-m", "用户确认可以扫描了", now=T2)
    assert search_ids(desk, "扫描仪共享文件夹")[0] == tid
    assert index.stat().st_mtime_ns == built


def test_show_list_and_id_fragments(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, tid, kb_id = vpn_desk
    shown = desk.ok("kb", "show", kb_id[3:6].lower()).stdout  # a prefix, lower case
    assert shown.startswith(f"{kb_id}  财务报销系统登录时提示证书错误")
    assert "## 解决方案" in shown
    data = desk.json("kb", "show", kb_id[-3:])  # a suffix
    assert data["id"] == kb_id and data["incidents"] == [tid]
    assert data["solution"] == "在认证服务器上更新SSL证书并重启认证服务"
    listed = desk.json("kb", "list")
    assert [a["id"] for a in listed] == sorted([*NEIGHBOURS, kb_id])
    assert {a["id"] for a in desk.json("kb", "list", "--system", "财务")} == {kb_id, "KB-ZAB5R"}
    table = desk.ok("kb", "list").stdout
    assert kb_id in table and "财务报销系统登录时提示证书错误" in table
    missing = desk.run("kb", "show", "KB-ZZZZZ")
    assert missing.exit_code == 1 and "Error: no knowledge-base article matches" in missing.stderr


def test_add_from_flags(desk: Desk) -> None:
    before = desk.commit_count()
    result = desk.ok(
        "kb",
        "add",
        "--title",
        "VPN客户端提示证书过期",
        "--system",
        "VPN",
        "--keyword",
        "vpn",
        "--keyword",
        "证书",
        "--symptom",
        "连接时提示证书过期",
        "--solution",
        "1. 重新导入根证书\n2. 重启客户端",
        user="l2-zhao",
        now=T2,
    )
    kb_id = result.stdout.strip()
    assert desk.commit_count() == before + 1
    data = desk.json("kb", "show", kb_id)
    assert data["keywords"] == ["vpn", "证书"] and data["systems"] == ["VPN"]
    assert data["solution"] == "重新导入根证书" and data["author"] == "l2-zhao"
    assert data["created"] == "2026-11-23"
    assert desk.git("log", "-1", "--format=%an|%s").strip() == (
        f"l2-zhao|{kb_id}: added VPN客户端提示证书过期"
    )
    assert desk.run("kb", "add", "--system", "VPN").exit_code == 2  # no title
    assert desk.run("kb", "add", "--title", "x").exit_code == 2  # no solution


def test_edit_by_flags_one_commit(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, kb_id = vpn_desk
    before = desk.commit_count()
    desk.ok(
        "kb",
        "edit",
        kb_id,
        "--cause",
        "认证服务器SSL证书到期未续",
        "--keyword",
        "证书",
        "--reviewed",
        user="l2-qian",
        now=T2,
    )
    assert desk.commit_count() == before + 1
    assert desk.git("log", "-1", "--format=%an|%s").strip() == (
        f"l2-qian|{kb_id}: edited keywords, reviewed, 原因"
    )
    data = desk.json("kb", "show", kb_id)
    assert data["sections"]["原因"] == "认证服务器SSL证书到期未续"
    assert data["sections"]["解决方案"] == "在认证服务器上更新SSL证书并重启认证服务"
    assert data["reviewed"] == "2026-11-23" and data["keywords"] == ["证书"]
    nothing = desk.run("kb", "edit", kb_id)  # no flags, no terminal
    assert nothing.exit_code == 2
    assert desk.commit_count() == before + 1


def test_edit_in_editor_validates_before_saving(
    vpn_desk: tuple[Desk, str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    desk, _, kb_id = vpn_desk
    from elinkctl.cli import kb as kb_cli

    monkeypatch.setattr(kb_cli, "_interactive", lambda: True)
    script = tmp_path / "ed.py"
    # First run breaks the front matter, second fixes it and changes the title.
    script.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1]); t = p.read_text(encoding='utf-8')\n"
        f"flag = pathlib.Path({str(tmp_path / 'once')!r})\n"
        "if not flag.exists():\n"
        "    flag.write_text('1')\n"
        "    p.write_text(t.replace('title:', 'title: [', 1), encoding='utf-8')\n"
        "else:\n"
        "    p.write_text(t.replace('title: [', 'title:', 1).replace('财务报销', '报销', 1),"
        " encoding='utf-8')\n",
        encoding="utf-8",
    )
    import sys

    editor = f"{sys.executable} {script}"
    before = desk.commit_count()
    result = desk.run("kb", "edit", kb_id, env={"EDITOR": editor}, input="y\n", now=T2)
    assert result.exit_code == 0, result.stderr
    assert f"Error: knowledge/{kb_id}.md line " in result.stderr
    assert desk.commit_count() == before + 1
    assert desk.json("kb", "show", kb_id)["title"] == "报销系统登录时提示证书错误"
    (tmp_path / "once").unlink()
    aborted = desk.run("kb", "edit", kb_id, env={"EDITOR": editor}, input="n\n", now=T2)
    assert aborted.exit_code == 1 and "not saved" in aborted.stderr
    assert desk.commit_count() == before + 1


def test_bad_article_is_named_with_its_line(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, kb_id = vpn_desk
    path = desk.root / "knowledge" / f"{kb_id}.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("symptom:", "symptom: [", 1), encoding="utf-8"
    )
    result = desk.run("kb", "show", kb_id)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: knowledge/{kb_id}.md line ")
    listed = desk.run("kb", "list", "--json")
    assert listed.exit_code == 0 and f"warning: knowledge/{kb_id}.md line " in listed.stderr
    assert kb_id not in {a["id"] for a in json.loads(listed.stdout)}
    found = desk.run("kb", "search", "打印机卡纸", "--json")
    assert found.exit_code == 0 and json.loads(found.stdout)[0]["id"] == "KB-0VXKB"
    assert desk.run("kb", "edit", kb_id, "--cause", "x").exit_code == 1


def test_resolve_kb_validates_the_article(vpn_desk: tuple[Desk, str, str]) -> None:
    desk, _, kb_id = vpn_desk
    tid = desk.new(now=T2, title="报销系统证书错误")
    desk.ok("accept", tid, now=T2)
    before = desk.commit_count()
    refused = desk.run("resolve", tid, "--solution", "按知识库处理", "--kb", "KB-ZZZZZ", now=T2)
    assert refused.exit_code == 1
    assert "Error: no knowledge-base article matches 'KB-ZZZZZ'" in refused.stderr
    assert desk.commit_count() == before
    desk.ok("resolve", tid, "--solution", "按知识库处理", "--kb", kb_id[3:].lower(), now=T2)
    events = desk.json("show", tid)["events"]
    assert events[-1]["type"] == "resolved" and events[-1]["kb"] == kb_id


def test_ticket_reader_matches_a_full_parse() -> None:
    """The partial YAML read of a ticket finds the same document as a full parse."""
    from elinkctl import yamlio
    from elinkctl.kb import doc_from_ticket, doc_from_ticket_text

    block = (
        "schema: 1\nid: INC-261123-7KQ2M\ntitle: 财务系统无法登录\nstatus: closed\n"
        "system: 财务系统\ndescription: |\n  第一行\n  events:\n  第三行\nevents:\n"
        "- id: e1\n  at: 2026-11-23T10:00:00+08:00\n  by: a\n  type: created\n"
        "- id: e2\n  at: 2026-11-23T11:00:00+08:00\n  by: b\n  type: resolved\n"
        "  solution: |\n    重启服务\n    - id: x\n"
        "- {id: e3, at: 2026-11-23T12:00:00+08:00, by: c, type: reopened}\n"
        "- {id: e4, at: 2026-11-23T13:00:00+08:00, by: c, type: resolved, solution: 换证书}\n"
    )
    expected = doc_from_ticket(yamlio.load(block))
    assert doc_from_ticket_text(block) == expected
    assert "换证书" in expected.text and "重启服务" in expected.text
    assert doc_from_ticket_text(block.replace("status: closed", "status: new")) is None
