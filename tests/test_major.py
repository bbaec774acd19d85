"""A major incident walked through the seed's table (重大事件处理流程), on a real
store through the CLI, `ELINKCTL_NOW` moving the clock (issue 13 item 1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Desk

T0 = "2026-11-23T10:00:00+08:00"


def at(minutes: int) -> str:
    """T0 plus ``minutes`` (same day), as ISO 8601."""
    h, m = divmod(10 * 60 + minutes, 60)
    return f"2026-11-23T{h:02d}:{m:02d}:00+08:00"


def staff(desk: Desk) -> None:
    """People in every role, so notices and reminders have recipients."""
    path = desk.root / "escalation.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "roles:\n  desk: []\n  l1: []\n  l2: []\n  vendor: []\n  pm: []\n  management: []",
        "roles:\n  desk: [小王]\n  l1: [李四]\n  l2: [王五]\n  vendor: []\n  pm: [赵六]\n"
        "  management: [钱总]",
    )
    text = text.replace(
        "people: {}",
        "people:\n  小王: {}\n  李四: {}\n  王五: {}\n  赵六: {}\n  钱总: {}",
    )
    path.write_text(text, encoding="utf-8")
    desk.git("commit", "-qam", "staff")


def p1(desk: Desk) -> str:
    return desk.new(now=T0, title="核心交换机故障", priority="P1", system="网络")


def events(desk: Desk, ticket_id: str, now: str) -> list[dict[str, Any]]:
    return list(desk.json("show", ticket_id, now=now)["events"])


def check(desk: Desk, now: str) -> dict[str, Any]:
    result = desk.ok("check", "--json", now=now, user="elinkctl-check")
    return dict(json.loads(result.stdout))


@pytest.fixture
def major(desk: Desk) -> str:
    staff(desk)
    return p1(desk)


def test_the_whole_table(desk: Desk, major: str) -> None:
    tid = major
    desk.ok("accept", tid, now=at(2))
    desk.ok("major", "confirm", tid, "-m", "影响全公司", now=at(5), user="赵六")
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", now=at(6))
    desk.ok(
        "escalate", tid, "--tier", "pm", "--reason", "一线无法按时解决", now=at(20), user="李四"
    )
    assert desk.json("show", tid, now=at(21))["tier"] == "pm"
    desk.ok(
        "escalate",
        tid,
        "--tier",
        "l2",
        "--to",
        "王五",
        "--reason",
        "派二线",
        now=at(25),
        user="赵六",
    )
    desk.ok("progress", tid, "-m", "二线已到场", now=at(40), user="赵六")
    # Resolved before any further level: management heard of it at 30m anyway.
    desk.ok("resolve", tid, "--solution", "更换板卡", now=at(60), user="王五")
    # The PM has not reviewed it: no callback, no close (the error names the step).
    refused = desk.run("close", tid, now=at(61))
    assert refused.exit_code == 1
    assert "review" in refused.stderr and "Traceback" not in refused.stderr
    assert desk.run("callback", tid, "--satisfaction", "5", now=at(61)).exit_code == 1
    # Returned once: back to work, like a reopen.
    desk.ok("review", tid, "--return", "--reason", "根因未查明", now=at(70), user="赵六")
    shown = desk.json("show", tid, now=at(71))
    assert shown["status"] == "in_progress" and shown["resolved_at"] is None
    desk.ok("resolve", tid, "--solution", "更换板卡并升级固件", now=at(90), user="王五")
    # Approved, then the report issued into the repository in one commit.
    assert desk.run("report", "major", tid, "--issue", now=at(91)).exit_code == 1
    desk.ok("review", tid, "--approve", "-m", "处理得当", now=at(95), user="赵六")
    before = desk.commit_count()
    desk.ok("report", "major", tid, "--issue", now=at(100), user="赵六")
    assert desk.commit_count() == before + 1
    changed = desk.git("show", "--name-only", "--format=", "HEAD").split()
    md = f"reports/2026/11/{tid}-major.md"
    assert md in changed and f"reports/2026/11/{tid}-major.html" in changed
    assert "重大事件处理分析报告" in (desk.root / md).read_text(encoding="utf-8")
    # Still needs the user's confirmation to close; callback is fine now.
    assert "confirm" in desk.run("close", tid, now=at(101)).stderr
    desk.ok("confirm", tid, "-m", "用户确认", now=at(102))
    desk.ok("callback", tid, "--satisfaction", "5", now=at(103))
    desk.ok("close", tid, now=at(104))
    types = [e["type"] for e in events(desk, tid, at(105))]
    for step in ("major_confirmed", "progress", "reviewed", "report_issued", "closed"):
        assert step in types
    assert desk.ok("fsck").exit_code == 0


def test_a_p1_resolved_early_reaches_management_on_resolution(desk: Desk, major: str) -> None:
    desk.ok("accept", major, now=at(2))
    desk.ok("resolve", major, "--solution", "重启", now=at(10), user="王五")
    shown = desk.json("show", major, now=at(11))
    assert [(e["role"], e["after"]) for e in shown["escalations"]] == [
        ("pm", "0h"),
        ("management", "30m"),
    ]
    # Once: the 30m cell never fires again, reopened or not.
    assert check(desk, at(40))["escalations"] == []


def test_progress_reminder_once_per_interval(desk: Desk, major: str) -> None:
    desk.ok("accept", major, now=at(2))
    assert check(desk, at(119))["reminders"] == []
    first = check(desk, at(121))["reminders"]
    assert [(r["ticket"], r["kind"]) for r in first] == [(major, "progress_due")]
    assert first[0]["recipients"] == ["赵六"]
    assert check(desk, at(125))["reminders"] == []  # same interval: once
    desk.ok("progress", major, "-m", "进展", now=at(130), user="赵六")
    assert check(desk, at(249))["reminders"] == []  # counted from the report
    assert [r["kind"] for r in check(desk, at(251))["reminders"]] == ["progress_due"]


def test_steps_refused_with_one_line(desk: Desk) -> None:
    staff(desk)
    p3 = desk.new(now=T0)
    desk.ok("accept", p3, now=at(1))
    cases = [
        (("major", "confirm", p3), "only a P1"),
        (("progress", p3, "-m", "x"), "P1"),
        (("review", p3, "--approve"), "reviewed"),
        (("review", p3), "--approve or --return"),
        (("close", p3, "--force"), "--reason"),
        (("escalate", p3, "--tier", "l2", "--due", "12:00", "--reason", "x"), "vendor"),
    ]
    for args, words in cases:
        result = desk.run(*args, now=at(5))
        assert result.exit_code in (1, 2), args
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_close_needs_confirmation_unless_forced_with_a_reason(desk: Desk) -> None:
    tid = desk.new(now=T0)
    desk.ok("accept", tid, now=at(1))
    desk.ok("resolve", tid, "--solution", "重启", now=at(5))
    refused = desk.run("close", tid, now=at(6))
    assert refused.exit_code == 1 and "confirm" in refused.stderr
    desk.ok("close", tid, "--force", "--reason", "用户失联", now=at(7))
    closed = events(desk, tid, at(8))[-1]
    assert closed["type"] == "closed" and closed["forced"] is True
    assert closed["reason"] == "用户失联"


def test_config_check_names_a_bad_procedure_rule(desk: Desk) -> None:
    path = desk.root / "sla.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("progress_every: 2h", "progress_every: soon"),
        encoding="utf-8",
    )
    esc = desk.root / "escalation.yaml"
    esc.write_text(
        esc.read_text(encoding="utf-8").replace(
            "major_management_on_resolution: true", "major_management_on_resolution: maybe"
        ),
        encoding="utf-8",
    )
    result = desk.run("config", "check")
    assert result.exit_code == 1
    assert "sla.yaml line" in result.stdout and "procedure.progress_every" in result.stdout
    assert "escalation.yaml line" in result.stdout
    assert "major_management_on_resolution" in result.stdout
