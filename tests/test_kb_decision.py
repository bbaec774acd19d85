"""l2's knowledge-base decision (判断是否需要将解决方案添加至知识库中) through the CLI.

`kb decide ID --none --reason` and `kb add --from ID` each record one
``kb_decided`` event (the article in the same commit as the decision);
`show` and `stats` report it. Real git stores (the ``desk`` fixture) with
ELINKCTL_NOW.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import pytest

from elinkctl import yamlio
from elinkctl.errors import TransitionError
from elinkctl.services import kb as kb_service
from elinkctl.store.store import Store

if TYPE_CHECKING:
    from conftest import Desk

T0 = "2026-11-23T10:00:00+08:00"  # a Monday


def at(hours: float) -> str:
    return (dt.datetime.fromisoformat(T0) + dt.timedelta(hours=hours)).isoformat()


def resolved(desk: Desk, title: str = "VPN客户端连接超时") -> str:
    tid = desk.new(now=T0, title=title)
    desk.ok("accept", tid, now=at(0.1))
    desk.ok("resolve", tid, "--solution", "重装VPN客户端并更新证书", now=at(1))
    return tid


def closed(desk: Desk, title: str = "VPN客户端连接超时") -> str:
    tid = resolved(desk, title)
    desk.ok("confirm", tid, "-m", "用户电话确认", now=at(2))
    desk.ok("close", tid, now=at(3))
    return tid


def decisions(desk: Desk, tid: str) -> list[dict[str, Any]]:
    data = yamlio.load(desk.ticket_path(tid).read_text(encoding="utf-8"))
    return [e for e in data["events"] if e["type"] == "kb_decided"]


def last_commit(desk: Desk) -> list[str]:
    return desk.git("log", "-1", "--format=%an|%s", "--name-only").split("\n")


# --- kb decide --none ----------------------------------------------------------------------


def test_decide_none_records_one_event_in_one_commit(desk: Desk) -> None:
    tid = closed(desk)
    before = desk.commit_count()
    result = desk.ok(
        "kb",
        "decide",
        tid,
        "--none",
        "--reason",
        "一次性问题：证书已统一更新",
        user="l2-zhao",
        now=at(4),
    )
    assert result.stdout == ""
    assert result.stderr == f"{tid}: KB decision: none (一次性问题：证书已统一更新)\n"
    assert desk.commit_count() == before + 1
    log = last_commit(desk)
    assert log[0] == f"l2-zhao|{tid}: KB decision: none (一次性问题：证书已统一更新)"
    assert [line for line in log[1:] if line] == [
        desk.ticket_path(tid).relative_to(desk.root).as_posix()
    ]
    [event] = decisions(desk, tid)
    assert event["by"] == "l2-zhao" and event["decision"] == "none"
    assert event["reason"] == "一次性问题：证书已统一更新"
    data = desk.json("show", tid, now=at(5))
    assert data["kb_decision"] == "none"
    assert data["kb_decided_at"] == at(4)
    card = desk.ok("show", tid, now=at(5)).stdout
    assert "kb         none (一次性问题：证书已统一更新)  (l2-zhao, 2026-11-23 14:00)" in card
    assert "KB decision   none (一次性问题：证书已统一更新)" in card
    assert desk.ok("fsck").exit_code == 0


def test_decide_is_allowed_once_resolved_and_at_a_past_time(desk: Desk) -> None:
    tid = resolved(desk)
    desk.ok("kb", "decide", tid, "--none", "--reason", "已有文章", "--at", at(1.5), now=at(2))
    [event] = decisions(desk, tid)
    assert event["at"] == dt.datetime.fromisoformat(at(1.5))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--none",), 2, "--none needs --reason"),
        (("--reason", "x"), 2, "give --none"),
        (("--none", "--reason", "  "), 2, "--reason must not be empty"),
    ],
)
def test_decide_without_its_options_is_a_usage_error(
    desk: Desk, args: tuple[str, ...], code: int, message: str
) -> None:
    tid = closed(desk)
    before = desk.commit_count()
    result = desk.run("kb", "decide", tid, *args, now=at(4))
    assert result.exit_code == code
    assert message in result.stderr and result.stdout == ""
    assert desk.commit_count() == before and decisions(desk, tid) == []


def test_decide_on_an_open_incident_is_refused(desk: Desk) -> None:
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(0.1))
    before = desk.commit_count()
    result = desk.run("kb", "decide", tid, "--none", "--reason", "无需", now=at(1))
    assert result.exit_code == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line == (
        f"Error: {tid} is in_progress: the knowledge-base decision is made once it is "
        "resolved or closed"
    )
    assert desk.commit_count() == before


def test_decide_before_the_resolution_is_refused(desk: Desk) -> None:
    tid = resolved(desk)
    result = desk.run("kb", "decide", tid, "--none", "--reason", "x", "--at", at(0.5), now=at(2))
    assert result.exit_code == 1
    assert "cannot kb decide" in result.stderr
    assert decisions(desk, tid) == []


def test_a_second_decision_is_refused_naming_the_first(desk: Desk) -> None:
    tid = closed(desk)
    desk.ok("kb", "decide", tid, "--none", "--reason", "一次性问题", user="l2-zhao", now=at(4))
    before = desk.commit_count()
    result = desk.run("kb", "decide", tid, "--none", "--reason", "再说一次", now=at(5))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line == (
        f"Error: {tid} already has a knowledge-base decision: none (一次性问题), "
        "by l2-zhao at 2026-11-23T14:00+08:00"
    )
    assert desk.commit_count() == before


# --- kb add --from -------------------------------------------------------------------------


def test_kb_add_from_records_the_article_decision_in_the_same_commit(desk: Desk) -> None:
    tid = closed(desk)
    before = desk.commit_count()
    result = desk.ok("kb", "add", "--from", tid, user="l2-zhao", now=at(4))
    kb_id = result.stdout.strip()
    assert result.stdout == kb_id + "\n"  # only the new ID on stdout (DESIGN §8)
    assert f"{tid}: KB decision: article {kb_id}" in result.stderr
    assert desk.commit_count() == before + 1
    log = last_commit(desk)
    assert log[0] == f"l2-zhao|{kb_id}: added VPN客户端连接超时 (from {tid})"
    ticket_rel = desk.ticket_path(tid).relative_to(desk.root).as_posix()
    assert [line for line in log[1:] if line] == [f"knowledge/{kb_id}.md", ticket_rel]
    [event] = decisions(desk, tid)
    assert event["decision"] == "article" and event["article"] == kb_id
    assert event["by"] == "l2-zhao"
    assert desk.json("show", tid)["kb_decision"] == kb_id
    assert f"kb         article {kb_id}" in desk.ok("show", tid).stdout
    # Now a `kb decide` is refused, naming the article.
    result = desk.run("kb", "decide", tid, "--none", "--reason", "x", now=at(5))
    assert result.exit_code == 1 and f"article {kb_id}" in result.stderr
    assert desk.ok("fsck").exit_code == 0


def test_a_second_article_keeps_the_first_decision(desk: Desk) -> None:
    tid = closed(desk)
    first = desk.ok("kb", "add", "--from", tid, now=at(4)).stdout.strip()
    result = desk.ok("kb", "add", "--from", tid, now=at(5))
    second = result.stdout.strip()
    assert second != first
    assert f"keeps its knowledge-base decision (article {first}" in result.stderr
    assert [line for line in last_commit(desk)[1:] if line] == [f"knowledge/{second}.md"]
    assert [e["article"] for e in decisions(desk, tid)] == [first]


def test_an_article_after_none_supersedes_it(desk: Desk) -> None:
    tid = closed(desk)
    desk.ok("kb", "decide", tid, "--none", "--reason", "一次性问题", now=at(4))
    result = desk.ok("kb", "add", "--from", tid, now=at(5))
    kb_id = result.stdout.strip()
    assert "this article replaces the decision none (一次性问题)" in result.stderr
    assert [e["decision"] for e in decisions(desk, tid)] == ["none", "article"]
    assert desk.json("show", tid)["kb_decision"] == kb_id


def test_a_refused_decision_writes_no_article(desk: Desk) -> None:
    """The article and the decision are one commit: a reopen between the draft
    and the commit refuses both."""
    tid = resolved(desk)
    store = Store(desk.root)
    now = dt.datetime.fromisoformat(at(2))
    article = kb_service.draft_from_ticket(store, tid, "l2-zhao", now.date())
    desk.ok("reopen", tid, "--reason", "问题复现", now=at(1.5))
    before = desk.commit_count()
    with pytest.raises(TransitionError):
        kb_service.add_article_from_incident(store, article, tid, "l2-zhao", now)
    assert desk.commit_count() == before
    assert not (desk.root / "knowledge" / f"{article.id}.md").exists()
    assert desk.git("status", "--porcelain").strip() == ""


def test_a_closed_incident_without_a_decision_says_how_to_make_one(desk: Desk) -> None:
    tid = closed(desk)
    card = desk.ok("show", tid).stdout
    assert f"not decided (kb add --from {tid}, or kb decide {tid} --none --reason …)" in card
    assert desk.json("show", tid)["kb_decision"] is None
    open_card = desk.ok("show", desk.new(now=T0)).stdout
    assert "\n  kb " not in open_card


# --- coverage in stats ---------------------------------------------------------------------


def test_stats_report_decision_coverage_of_closed_incidents(desk: Desk) -> None:
    with_article = closed(desk, "VPN客户端连接超时")
    with_none = closed(desk, "打印机缺纸")
    closed(desk, "邮箱容量已满")  # no decision yet
    only_resolved = resolved(desk, "共享盘无法访问")
    desk.ok("kb", "add", "--from", with_article, now=at(4))
    desk.ok("kb", "decide", with_none, "--none", "--reason", "常识性问题", now=at(4))
    desk.ok("kb", "decide", only_resolved, "--none", "--reason", "x", now=at(4))

    data = desk.json("stats", now=at(6))
    expected = {"closed": 3, "article": 1, "none": 1, "missing": 1, "coverage": 2 / 3}
    assert data["kb_decisions"] == expected
    for key in ("total", "response", "resolution", "targets", "kb_reuse"):
        assert key in data  # every key stays
    assert desk.json("stats", now=at(6)) == data  # from the cached folds: the same
    text = desk.ok("stats", now=at(6)).stdout
    assert "KB decisions: 2 of 3 closed (66.7%): article 1, none 1, missing 1" in text
    by = desk.json("stats", "--by", "security", now=at(6))["by"]
    assert by["no"]["kb_decisions"] == expected  # per group too
    [row] = list(csv.DictReader(io.StringIO(desk.ok("stats", "--csv", now=at(6)).stdout)))
    assert (row["kb_closed"], row["kb_missing"], row["kb_coverage"]) == ("3", "1", "0.6667")
    assert "KB decisions" in desk.ok("stats", "--explain").stdout


def test_stats_coverage_with_nothing_closed_is_no_data(desk: Desk) -> None:
    resolved(desk)
    data = desk.json("stats", now=at(6))
    assert data["kb_decisions"] == {
        "closed": 0,
        "article": 0,
        "none": 0,
        "missing": 0,
        "coverage": None,
    }
    assert "KB decisions: 0 of 0 closed (—)" in desk.ok("stats", now=at(6)).stdout
