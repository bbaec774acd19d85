"""The structural merge of tickets and articles: pure, no git."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from elinkctl.domain import lifecycle, merge, ticketfile
from elinkctl.domain.model import Ticket
from elinkctl.services.fsck import check_ticket_text
from elinkctl.store.clone import merge_file_texts

TZ = dt.timezone(dt.timedelta(hours=8))
ID = "INC-261123-7KQ2M"


def at(minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ) + dt.timedelta(minutes=minute)


NOW = at(600)


def base_ticket(by: str = "desk-wang", minute: int = 0, title: str = "财务系统无法登录") -> Ticket:
    fields = {
        "title": title,
        "type": "failure",
        "priority": "P3",
        "reporter": {"name": "张三", "phone": "13800138000", "department": "财务部"},
        "system": "财务系统",
    }
    return lifecycle.register(ID, fields, by, at(minute), at(minute), NOW).ticket


def comment(t: Ticket, minute: int, text: str, by: str = "li") -> Ticket:
    return lifecycle.record(t, "commented", by, at(minute), NOW, "c", text=text).ticket


def step(t: Ticket, kind: str, minute: int, by: str = "li", **data: object) -> Ticket:
    return lifecycle.record(t, kind, by, at(minute), NOW, kind, **data).ticket


def edit(t: Ticket, minute: int, by: str = "li", **changes: object) -> Ticket:
    return lifecycle.edit(t, changes, by, at(minute), NOW, reason="r").ticket


def dump(t: Ticket) -> str:
    return ticketfile.dumps(t)


def merged(base: Ticket | None, ours: Ticket, theirs: Ticket) -> Ticket:
    result = merge.merge_ticket_texts(dump(base) if base else None, dump(ours), dump(theirs))
    assert result.collision is None
    assert check_ticket_text(f"tickets/2026/11/{ID}.yaml", ID, result.text) == []
    return ticketfile.loads(result.text)


def texts(t: Ticket) -> Counter[str]:
    return Counter(str(e.get("text")) for e in t.events if e.type == "commented")


def test_appended_events_on_both_sides_are_united_and_renumbered() -> None:
    base = comment(base_ticket(), 1, "base")
    ours = comment(comment(base, 5, "ours-1"), 7, "ours-2")
    theirs = comment(base, 6, "theirs-1")
    result = merged(base, ours, theirs)
    assert texts(result) == Counter({"base": 1, "ours-1": 1, "ours-2": 1, "theirs-1": 1})
    assert [e.at for e in result.events] == sorted(e.at for e in result.events)
    assert len({e.id for e in result.events}) == len(result.events)
    # ours keeps its numbers; theirs' clashing e3 became the next free number
    by_text = {e.get("text"): e.id for e in result.events if e.type == "commented"}
    assert by_text["ours-1"] == "e3" and by_text["ours-2"] == "e4" and by_text["theirs-1"] == "e5"


def test_merging_again_converges_and_never_duplicates() -> None:
    base = base_ticket()
    ours = comment(base, 5, "a")
    theirs = comment(comment(base, 5, "b"), 6, "c")
    first = merged(base, ours, theirs)
    # the other clone merges the pushed result into its own later work
    theirs_later = comment(theirs, 9, "d")
    second = merged(theirs, theirs_later, first)
    assert texts(second) == Counter({"a": 1, "b": 1, "c": 1, "d": 1})
    again = merged(first, first, second)
    assert Counter(map(merge.content_key, again.events)) == Counter(
        map(merge.content_key, second.events)
    )
    assert merged(base, first, first) == first


def test_same_event_on_both_sides_is_kept_once_and_deletion_is_honoured() -> None:
    base = comment(base_ticket(), 1, "x")
    both = comment(base, 3, "same")
    assert texts(merged(base, both, both)) == Counter({"x": 1, "same": 1})
    hand_fixed = Ticket(base.id, base.fields, base.events[:1])
    assert texts(merged(base, hand_fixed, comment(base, 4, "y"))) == Counter({"y": 1})


def test_concurrent_edits_of_one_field_later_edit_wins_and_is_recorded() -> None:
    base = base_ticket()
    ours = edit(base, 10, title="登录失败（A）")
    theirs = edit(base, 12, title="登录失败（B）")
    for result in (merged(base, ours, theirs), merged(base, theirs, ours)):
        assert result.title == "登录失败（B）"
        notes = [e for e in result.events if e.get("merge")]
        assert len(notes) == 1
        assert notes[0].type == "edited" and notes[0].by == merge.MERGE_ACTOR
        assert notes[0].get("changes") == {"title": ["登录失败（A）", "登录失败（B）"]}
        assert notes[0].get("discarded") == "登录失败（A）"


def test_equal_edit_times_pick_the_same_value_whoever_merges() -> None:
    base = base_ticket()
    ours = edit(base, 10, system="甲")
    theirs = edit(base, 10, system="乙")
    one, two = merged(base, ours, theirs), merged(base, theirs, ours)
    assert one.fields["system"] == two.fields["system"]


def test_different_fields_and_reporter_subfields_merge_individually() -> None:
    base = base_ticket()
    ours = edit(base, 10, **{"reporter.phone": "13900000000", "module": "登录"})
    theirs = edit(base, 11, **{"reporter.department": "审计部", "priority": "P2"})
    result = merged(base, ours, theirs)
    reporter = {"name": "张三", "phone": "13900000000", "department": "审计部"}
    assert result.fields["reporter"] == reporter
    assert result.fields["module"] == "登录" and result.priority == "P2"
    assert not [e for e in result.events if e.get("merge")]


def test_concurrent_lifecycle_steps_keep_both_and_stay_valid() -> None:
    base = base_ticket()
    ours = step(step(base, "accepted", 5, by="wang"), "resolved", 20, by="wang", solution="重启")
    theirs = step(step(base, "accepted", 6, by="li"), "resolved", 25, by="li", solution="换证书")
    result = merged(base, ours, theirs)
    kinds = [(e.type, e.get(merge.SUPERSEDED)) for e in result.events]
    assert kinds == [
        ("created", None),
        ("accepted", None),
        ("superseded", "accepted"),
        ("resolved", None),
        ("superseded", "resolved"),
    ]
    assert str(result.status) == "resolved"
    # merged again with one side: the markings are recomputed, not doubled
    again = merged(ours, ours, result)
    assert again == result


def test_id_collision_returns_the_later_incident_the_same_from_both_sides() -> None:
    a = base_ticket(by="desk-a", minute=0, title="A 的事件")
    b = comment(base_ticket(by="desk-b", minute=3, title="B 的事件"), 4, "b")
    one = merge.merge_ticket_texts(None, dump(a), dump(b))
    two = merge.merge_ticket_texts(None, dump(b), dump(a))
    assert one.text == two.text == dump(a)
    assert one.collision == two.collision
    assert one.collision is not None and one.collision.title == "B 的事件"
    new_id = merge.renamed_id(one.collision)
    assert new_id != ID and new_id[:10] == ID[:10]  # same day, so same month shard
    assert merge.renamed_id(merge.parse(dump(b))) == new_id
    renamed = merge.rename(one.collision, new_id)
    assert renamed.aliases == (ID,)
    text = merge.finish(renamed)
    assert check_ticket_text(f"tickets/2026/11/{new_id}.yaml", new_id, text) == []


def test_collision_after_the_other_side_already_renamed() -> None:
    """The loser's clone added work and merges the winner that came back."""
    base = base_ticket(by="desk-b", minute=3)
    ours = comment(base, 9, "more work on B")
    theirs = base_ticket(by="desk-a", minute=0)
    result = merge.merge_ticket_texts(dump(base), dump(ours), dump(theirs))
    assert result.text == dump(theirs)
    assert result.collision is not None and result.collision_base is not None
    assert texts(result.collision) == Counter({"more work on B": 1})


def test_unparseable_side_is_an_error_not_a_guess() -> None:
    base = base_ticket()
    try:
        merge.merge_ticket_texts(dump(base), "not: [a ticket", dump(base))
    except merge.MergeError:
        return
    raise AssertionError("expected MergeError")


ARTICLE = """---
id: KB-7KQ2M
title: 财务系统登录失败
keywords:
- 登录
author: 王五
---

## 现象

无法登录。

## 原因

证书过期。

## 解决方案

更新证书。
"""


def test_article_front_matter_merges_per_key_and_body_by_lines() -> None:
    ours = ARTICLE.replace("- 登录\n", "- 登录\n- 证书\n")
    ours = ours.replace("无法登录。", "无法登录，提示错误。")
    theirs = ARTICLE.replace("- 登录\n", "- 登录\n- SSO\n")
    theirs = theirs.replace("更新证书。", "更新证书并重启。")
    result = merge.merge_article_texts(ARTICLE, ours, theirs, merge_file_texts)
    front, body = merge.split_front_matter(result)
    assert front["keywords"] == ["登录", "证书", "SSO"]
    assert "无法登录，提示错误。" in body and "更新证书并重启。" in body
    assert "<<<<<<<" not in result


def test_article_body_conflict_keeps_both_versions_labelled() -> None:
    ours = ARTICLE.replace("证书过期。", "证书过期（A）。").replace("王五", "甲")
    theirs = ARTICLE.replace("证书过期。", "证书过期（B）。").replace("王五", "乙")
    result = merge.merge_article_texts(ARTICLE, ours, theirs, merge_file_texts)
    assert "<<<<<<<" not in result and "=======" not in result
    assert "证书过期（A）。" in result and "证书过期（B）。" in result
    assert merge.CONFLICT_HEADING in result
    assert "### 原因" in result  # the other version's headings are demoted under the label
    front, body = merge.split_front_matter(result)
    assert front["author"] == "甲" and "乙" in body
