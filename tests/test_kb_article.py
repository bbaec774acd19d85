"""Knowledge-base article files: parse/render round trip, errors, IDs, drafts."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from elinkctl.kb import (
    SECTIONS,
    Article,
    ArticleError,
    article_solution_first_line,
    draft_from_incident,
    new_article_id,
    normalize_article_id,
    parse_article,
    render_article,
)
from elinkctl.kb.article import CROCKFORD, ID_RE, PLACEHOLDER

QUALITY_ARTICLES = Path(__file__).parent / "kb_quality" / "articles"

SAMPLE = """\
---
id: KB-7KQ2M
title: 财务系统无法登录
systems:
- 财务系统
modules:
- 登录
keywords:
- 认证
- 证书
symptom: 输入正确的账号密码后提示“认证服务不可用”
incidents:
- INC-261123-7KQ2
author: 王五
created: 2026-11-23
reviewed: 2026-11-30
---

## 现象

登录页提示“认证服务不可用”。

## 原因

认证服务证书到期。

## 解决方案

1. 导入新证书。
2. 重启认证服务。

## 临时措施

切换到备用认证节点。
"""


def test_parse_sample() -> None:
    a = parse_article(SAMPLE, "knowledge/KB-7KQ2M.md")
    assert a.id == "KB-7KQ2M"
    assert a.title == "财务系统无法登录"
    assert a.systems == ["财务系统"] and a.modules == ["登录"]
    assert a.keywords == ["认证", "证书"]
    assert a.incidents == ["INC-261123-7KQ2"]
    assert a.created == dt.date(2026, 11, 23) and a.reviewed == dt.date(2026, 11, 30)
    assert list(a.sections()) == list(SECTIONS)
    assert a.section("原因") == "认证服务证书到期。"
    assert a.missing_sections() == []


def test_render_is_byte_identical_for_canonical_file() -> None:
    assert render_article(parse_article(SAMPLE)) == SAMPLE


def test_render_keeps_chinese_key_order_and_round_trips() -> None:
    a = Article(
        id="KB-00000",
        title="打印机卡纸",
        systems=["打印机"],
        keywords=["卡纸"],
        body="## 现象\n\n卡纸\n",
        extra={"status": "draft"},
    )
    text = render_article(a)
    assert "\\u" not in text and "打印机卡纸" in text
    front = text.split("---\n")[1]
    keys = [line.split(":")[0] for line in front.splitlines() if line and line[0].isalpha()]
    assert keys == [
        "id",
        "title",
        "systems",
        "modules",
        "keywords",
        "symptom",
        "incidents",
        "author",
        "created",
        "reviewed",
        "status",
    ]
    assert "created:\n" in text  # unset dates are empty, not 'null'
    assert parse_article(text) == a


def test_quality_articles_all_parse_and_round_trip() -> None:
    paths = sorted(QUALITY_ARTICLES.glob("*.md"))
    assert len(paths) >= 40
    for path in paths:
        text = path.read_text(encoding="utf-8")
        a = parse_article(text, path)
        assert render_article(a) == text, path
        assert a.missing_sections() == [], path
        assert article_solution_first_line(a), path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: KB-7KQ2M\n", "line 1: expected '---'"),
        ("---\nid: KB-7KQ2M\ntitle: x\n", "line 1: front matter opened by '---' is never closed"),
        ("---\nid: KB-7KQ2M\ntitle: [unclosed\n---\n", "line 4"),
        ("---\n- a\n- b\n---\n", "line 2: front matter must be a mapping"),
        ("---\ntitle: x\n---\n", "line 3: missing required key 'id'"),
        ("---\nid: KB-7KQ2M\n---\n", "line 3: missing required key 'title'"),
        ("---\nid: KB-12\ntitle: x\n---\n", "line 2: id 'KB-12' is not of the form KB-XXXXX"),
        (
            "---\nid: KB-7KQ2M\ntitle: x\nsystems:\n  a: b\n---\n",
            "line 4: 'systems' must be a list",
        ),
        (
            "---\nid: KB-7KQ2M\ntitle: x\ncreated: yesterday\n---\n",
            "line 4: 'created' must be a date",
        ),
        (
            "---\nid: KB-7KQ2M\ntitle: x\nsymptom: |\n  a\n  b\n---\n",
            "line 4: symptom must be one line",
        ),
        ("---\nid: KB-7KQ2M\ntitle: ''\n---\n", "line 3: title is empty"),
    ],
)
def test_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ArticleError) as exc:
        parse_article(text, "knowledge/KB-7KQ2M.md")
    assert str(exc.value).startswith("knowledge/KB-7KQ2M.md ")
    assert message in str(exc.value)


def test_id_must_match_file_name() -> None:
    with pytest.raises(ArticleError, match=r"KB-AAAAA\.md line 2: id KB-7KQ2M does not match"):
        parse_article(SAMPLE, Path("knowledge/KB-AAAAA.md"))


def test_scalar_list_values_are_accepted_as_one_item() -> None:
    a = parse_article("---\nid: KB-7KQ2M\ntitle: x\nsystems: OA系统\nkeywords:\n---\n")
    assert a.systems == ["OA系统"] and a.keywords == []


def test_new_article_id_is_short_crockford_and_avoids_existing() -> None:
    rng = random.Random(5)
    first = new_article_id(set(), rng)
    assert ID_RE.match(first) and len(first) == 8
    assert set(first[3:]) <= set(CROCKFORD)
    # an rng that repeats itself must not hand out an existing ID
    again = new_article_id({first}, random.Random(5))
    assert again != first and ID_RE.match(again)
    ids: set[str] = set()
    for _ in range(2000):
        ids.add(new_article_id(ids, rng))
    assert len(ids) == 2000


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("kb-7kq2m", "KB-7KQ2M"),
        ("7KQ2M", "KB-7KQ2M"),
        ("KBOOIL1", "KB-00111"),
        (" kb_7kq2m ", "KB-7KQ2M"),
        ("KB-7K", "KB-7K"),  # a prefix stays a prefix
    ],
)
def test_normalize_article_id(typed: str, canonical: str) -> None:
    assert normalize_article_id(typed) == canonical


def test_solution_first_line_skips_markers_and_placeholders() -> None:
    a = parse_article(SAMPLE)
    assert article_solution_first_line(a) == "导入新证书。"
    a.body = "## 解决方案\n\n（待补充）\n\n## 临时措施\n\n- 先重启电脑\n- 再试\n"
    assert article_solution_first_line(a) == "先重启电脑"
    a.body = "## 现象\n\nx\n"
    assert article_solution_first_line(a) == ""


def test_sections_ignore_headings_inside_code_fences() -> None:
    body = "## 解决方案\n\n```bash\n## restart\nsystemctl restart finauth\n```\n"
    a = Article(id="KB-00000", title="t", body=body)
    assert list(a.sections()) == ["解决方案"]
    assert article_solution_first_line(a) == "## restart"


def _ticket() -> dict[str, object]:
    t0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return {
        "id": "INC-261123-7KQ2",
        "title": "财务系统无法登录",
        "system": "财务系统",
        "module": "登录",
        "description": "财务部张三登录时提示认证服务不可用。\n影响整个财务部。",
        "solution": "",
        "events": [
            {"id": "e1", "at": t0, "by": "desk-wang", "type": "created"},
            {"id": "e2", "at": t0 + dt.timedelta(minutes=5), "by": "desk-wang", "type": "accepted"},
            {
                "id": "e3",
                "at": t0 + dt.timedelta(minutes=8),
                "by": "desk-wang",
                "type": "assigned",
                "to": "李四",
                "tier": "l1",
            },
            {
                "id": "e9",
                "at": "2026-11-24T12:00:00+08:00",
                "by": "王五",
                "type": "resolved",
                "solution": "更新认证服务证书并重启",
            },
        ],
    }


def test_draft_from_incident() -> None:
    a = draft_from_incident(_ticket(), article_id="KB-7KQ2M")
    assert a.id == "KB-7KQ2M" and a.title == "财务系统无法登录"
    assert a.systems == ["财务系统"] and a.modules == ["登录"]
    assert a.incidents == ["INC-261123-7KQ2"]
    assert a.symptom == "财务部张三登录时提示认证服务不可用。"
    assert a.author == "王五" and a.created == dt.date(2026, 11, 24)
    assert a.section("现象").startswith("财务部张三登录时提示认证服务不可用。\n影响整个财务部。")
    assert a.section("解决方案") == "更新认证服务证书并重启"
    assert a.section("原因") == PLACEHOLDER
    timeline = a.section("处理经过")
    assert "2026-11-23 10:00 desk-wang 登记" in timeline
    assert "派单：李四；l1" in timeline
    assert "2026-11-24 12:00 王五 解决：更新认证服务证书并重启" in timeline
    assert a.missing_sections() == ["原因", "临时措施"]
    # the draft is a valid file once it has an ID
    text = render_article(a)
    assert parse_article(text, "knowledge/KB-7KQ2M.md") == a


def test_draft_prefers_ticket_solution_and_explicit_author_and_date() -> None:
    t = _ticket()
    t["solution"] = "重签证书"
    a = draft_from_incident(t, author="赵六", today=dt.date(2026, 12, 1))
    assert a.section("解决方案") == "重签证书"
    assert a.author == "赵六" and a.created == dt.date(2026, 12, 1)


def test_draft_timeline_is_short_for_long_histories() -> None:
    t = _ticket()
    events = list(t["events"])  # type: ignore[call-overload]
    for i in range(40):
        events.insert(
            -1,
            {"at": "2026-11-23T11:00:00+08:00", "by": "李四", "type": "comment", "m": f"进展{i}"},
        )
    t["events"] = events
    timeline = draft_from_incident(t).section("处理经过")
    assert len(timeline.splitlines()) <= 15
    assert "省略" in timeline and "解决" in timeline.splitlines()[-1]


def test_draft_from_minimal_ticket() -> None:
    a = draft_from_incident({"id": "INC-1", "title": "", "events": []})
    assert a.title == PLACEHOLDER and a.created is None and a.author == ""
    assert "处理经过" not in a.sections()
