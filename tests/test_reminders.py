"""`check` reminds of the procedure's steps (issue 13), each exactly once, at
the right `ELINKCTL_NOW`, on a real store through the CLI."""

from __future__ import annotations

import json
from typing import Any

from conftest import Desk
from test_major import at, staff

T0 = "2026-11-23T10:00:00+08:00"  # a Monday


def reminders(desk: Desk, now: str) -> list[tuple[str, str, list[str]]]:
    doc: dict[str, Any] = json.loads(
        desk.ok("check", "--json", now=now, user="elinkctl-check").stdout
    )
    return [(r["ticket"], r["kind"], r["recipients"]) for r in doc["reminders"]]


def kinds(desk: Desk, now: str) -> list[str]:
    return [kind for _, kind, _ in reminders(desk, now)]


def test_vendor_warning_then_overdue_then_nothing(desk: Desk) -> None:
    staff(desk)
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok(
        "escalate", tid, "--tier", "vendor", "--to", "华为", "--due", at(180),
        "--reason", "需原厂分析", now=at(5),
    )  # fmt: skip
    assert kinds(desk, at(119)) == []
    assert reminders(desk, at(121)) == [(tid, "vendor_warning", ["王五", "赵六"])]
    assert kinds(desk, at(150)) == []
    assert kinds(desk, at(181)) == ["vendor_overdue"]
    assert kinds(desk, at(240)) == []
    # A reply stops the clock: a second vendor escalation starts a new one.
    desk.ok("replied", tid, "-m", "已收到日志", now=at(241))
    assert kinds(desk, at(300)) == []


def test_a_reply_in_time_means_no_overdue(desk: Desk) -> None:
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok(
        "escalate", tid, "--tier", "vendor", "--to", "用友", "--due", at(120),
        "--reason", "需原厂", now=at(5),
    )  # fmt: skip
    desk.ok("replied", tid, "-m", "补丁已发", now=at(30))
    assert kinds(desk, at(300)) == []


def test_missed_runs_warn_no_more_once_the_deadline_passed(desk: Desk) -> None:
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok(
        "escalate", tid, "--tier", "vendor", "--to", "用友", "--due", at(60),
        "--reason", "需原厂", now=at(5),
    )  # fmt: skip
    assert kinds(desk, at(200)) == ["vendor_overdue"]  # not a stale warning too


def test_promise_passed_once_while_unresolved(desk: Desk) -> None:
    staff(desk)
    tid = desk.new(now=T0)
    desk.ok("accept", tid, "--promise", at(120), now=at(1))
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", now=at(2))
    assert kinds(desk, at(119)) == []
    assert reminders(desk, at(121)) == [(tid, "promise_passed", ["李四", "小王"])]
    assert kinds(desk, at(200)) == []


def test_a_kept_promise_is_not_reminded(desk: Desk) -> None:
    tid = desk.new(now=T0)
    desk.ok("accept", tid, "--promise", at(120), now=at(1))
    desk.ok("resolve", tid, "--solution", "重启", now=at(60))
    assert kinds(desk, at(200)) == []


def test_visit_missed_after_the_grace(desk: Desk) -> None:
    staff(desk)
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", now=at(2))
    desk.ok("visit", tid, "--at", at(240), now=at(3), user="李四")
    assert kinds(desk, at(269)) == []
    assert reminders(desk, at(271)) == [(tid, "visit_missed", ["李四"])]
    assert kinds(desk, at(300)) == []


def test_kb_decision_due_three_working_days_after_close(desk: Desk) -> None:
    staff(desk)
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok("resolve", tid, "--solution", "更换网线", now=at(30), user="王五")
    desk.ok("confirm", tid, now=at(31))
    desk.ok("close", tid, now=at(32))  # Monday 10:32; 3wd = 22.5 business hours
    assert kinds(desk, "2026-11-26T10:31:00+08:00") == []
    due = reminders(desk, "2026-11-26T10:33:00+08:00")
    assert due == [(tid, "kb_decision_due", ["王五"])]
    assert kinds(desk, "2026-11-27T10:00:00+08:00") == []


def test_a_kb_decision_means_no_reminder(desk: Desk) -> None:
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok("resolve", tid, "--solution", "更换网线", now=at(30))
    desk.ok("confirm", tid, now=at(31))
    desk.ok("close", tid, now=at(32))
    desk.ok("kb", "decide", tid, "--none", "--reason", "一次性硬件故障", now=at(40))
    assert kinds(desk, "2026-11-27T10:00:00+08:00") == []
