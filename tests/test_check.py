"""`elinkctl check` and the escalation inside `new`, through the CLI, with real servers.

Every test runs in a temporary store made by `elinkctl init` (the ``desk``
fixture) with ELINKCTL_NOW; notifications go to a real aiosmtpd server and a
real HTTP robot server on 127.0.0.1 that verifies DingTalk and Feishu
signatures (tests/notify_servers.py).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from elinkctl import yamlio
from elinkctl.store.store import Store

if TYPE_CHECKING:
    from conftest import Desk
    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

T0 = "2026-11-23T10:00:00+08:00"  # a Monday
PHONE = "13800138000"
PEOPLE: dict[str, dict[str, Any]] = {
    "小王": {"email": "xiaowang@example.com"},
    "李四": {"email": "lisi@example.com"},
    "张工": {"email": "zhanggong@example.com"},
    "王五": {"email": "wangwu@example.com", "channels": ["ops-ding", "ops-feishu"]},
    "赵总": {"email": "zhaozong@example.com", "channels": ["ops-feishu"]},
}
ROLES = {
    "desk": ["小王"],
    "l1": ["李四"],
    "l2": ["张工"],
    "vendor": [],
    "pm": ["王五"],
    "management": ["赵总"],
}
MATRIX = {
    "P1": {"0h": "pm", "30m": "management"},
    "P2": {"0h": "l2", "30m": "pm", "4h": "management"},
    "P3": {"0h": "l1", "30m": "l2", "4h": "pm", "12h": "management"},
    "P4": {"30m": "l1", "4h": "l2", "12h": "pm", "2d": "management"},
}
OFFSET_MIN = {"0h": 0, "30m": 30, "4h": 240, "12h": 720, "2d": 2880}


def at(minutes: float, base: str = T0) -> str:
    return (dt.datetime.fromisoformat(base) + dt.timedelta(minutes=minutes)).isoformat()


def configure(
    desk: Desk, smtp: SmtpServer | None = None, robot: RobotServer | None = None, **extra: Any
) -> None:
    """People, roles and channels in the store's escalation.yaml (committed)."""
    path = desk.root / "escalation.yaml"
    data = yamlio.load(path.read_text(encoding="utf-8"))
    channels: dict[str, Any] = {}
    if smtp is not None:
        channels["mail"] = smtp.channel()
    if robot is not None:
        robots = robot.channels()
        channels["ops-ding"] = robots["ops-ding"]
        channels["ops-feishu"] = robots["ops-feishu"]
    people = {
        name: {
            k: v for k, v in info.items() if (k != "email" or smtp) and (k != "channels" or robot)
        }
        for name, info in PEOPLE.items()
    }
    data.update(roles=ROLES, people=people, channels=channels, **extra)
    path.write_text(yamlio.dump(data), encoding="utf-8")
    desk.git("commit", "-q", "-m", "people and channels", "--", "escalation.yaml")


def check(
    desk: Desk,
    now: str,
    *args: str,
    env: dict[str, str] | None = None,
    code: int = 0,
    user: str = "desk-wang",
) -> Any:
    result = desk.run("check", *args, now=now, env=env, user=user)
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}{result.stderr}"
    return result


def check_json(
    desk: Desk, now: str, env: dict[str, str] | None = None, user: str = "desk-wang"
) -> Any:
    return json.loads(check(desk, now, "--json", env=env, user=user).stdout)


def events(desk: Desk, ticket_id: str, *types: str) -> list[dict[str, Any]]:
    data = yamlio.load(desk.ticket_path(ticket_id).read_text(encoding="utf-8"))
    return [e for e in data["events"] if not types or e["type"] in types]


def escalations(desk: Desk, ticket_id: str) -> list[tuple[str, str]]:
    return [(e["role"], e["after"]) for e in events(desk, ticket_id, "escalation")]


# --- new: a P1's 0h level at once ---------------------------------------------------------


def test_p1_notifies_the_pm_inside_new(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    commits = desk.commit_count()
    result = desk.run(
        "new",
        "--title",
        f"全楼断网 联系{PHONE}",
        "--type",
        "failure",
        "--reporter",
        "张三",
        "--phone",
        PHONE,
        "--dept",
        "财务部",
        "--priority",
        "P1",
        now=T0,
        env=robot_server.env(),
    )
    assert result.exit_code == 0, result.stderr
    ticket_id = result.stdout.strip()
    assert result.stdout == ticket_id + "\n"  # only the ID on stdout
    assert desk.commit_count() == commits + 1  # registration and escalation: one commit
    assert escalations(desk, ticket_id) == [("pm", "0h")]
    [event] = events(desk, ticket_id, "escalation")
    assert event["recipients"] == ["王五"]
    assert "王五" in result.stderr

    [mail] = smtp_server.mails
    assert mail.rcpt_tos == ["wangwu@example.com"]
    assert mail.subject.startswith(f"[elinkctl] 管理升级 P1 {ticket_id}")
    assert "升级: 0h → 项目经理" in mail.body
    assert f"查看: elinkctl show {ticket_id}" in mail.body
    assert "报告人: 张三 / 财务部" in mail.body
    # Robots: signatures verified by the server; no phone number in group chats.
    assert len(robot_server.delivered("dingtalk")) == 1
    assert len(robot_server.delivered("feishu")) == 1
    assert robot_server.received(ok=False) == []
    for request in robot_server.received():
        assert PHONE not in request.text
        assert "张三" not in request.text
        assert ticket_id in request.text

    # The next check at the same moment has nothing to add and sends nothing again.
    result = check(desk, T0, env=robot_server.env())
    assert result.stdout == "" and result.stderr == ""
    assert len(smtp_server.mails) == 1 and len(robot_server.received()) == 2


def test_backfilled_p1_records_every_level_already_due(desk: Desk) -> None:
    ticket_id = desk.new(now=at(120), priority="P1", opened_at=T0)
    assert escalations(desk, ticket_id) == [("pm", "0h"), ("management", "30m")]


def test_failed_send_in_new_is_kept_and_retried_by_check(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    robot_server.fail_next(1, robots={"dingtalk"})
    result = desk.run(
        "new",
        "--title",
        "核心交换机宕机",
        "--type",
        "failure",
        "--reporter",
        "张三",
        "--priority",
        "P1",
        now=T0,
        env=robot_server.env(),
    )
    assert result.exit_code == 0
    assert "failed" in result.stderr and "retries" in result.stderr
    assert len(robot_server.delivered("dingtalk")) == 0
    # Too early for the back-off (1 min): nothing is tried, nothing printed.
    assert check(desk, at(0.5), env=robot_server.env()).stdout == ""
    result = check(desk, at(2), env=robot_server.env())
    assert "通知 notifications: 1 sent" in result.stdout
    assert len(robot_server.delivered("dingtalk")) == 1
    assert len(robot_server.delivered("feishu")) == 1  # never a duplicate
    assert len(smtp_server.mails) == 1


# --- the matrix through the CLI ------------------------------------------------------------


@pytest.mark.parametrize("priority", list(MATRIX))
def test_every_cell_fires_at_its_time_not_a_minute_before(desk: Desk, priority: str) -> None:
    ticket_id = desk.new(now=T0, priority=priority)
    # Only a major incident escalates inside `new`; the others' 0h waits for check.
    assert escalations(desk, ticket_id) == ([("pm", "0h")] if priority == "P1" else [])
    for after, role in MATRIX[priority].items():
        minutes = OFFSET_MIN[after]
        if minutes:
            before = check_json(desk, at(minutes - 1))
            assert (role, after) not in [(e["role"], e["after"]) for e in before["escalations"]]
            assert (role, after) not in escalations(desk, ticket_id)
        report = check_json(desk, at(minutes))
        fired = [(e["role"], e["after"]) for e in report["escalations"]]
        if minutes:
            assert fired == [(role, after)]
        assert (role, after) in escalations(desk, ticket_id)
    assert escalations(desk, ticket_id) == [(r, a) for a, r in MATRIX[priority].items()]


def test_resolved_incident_stops_escalating(desk: Desk) -> None:
    ticket_id = desk.new(now=T0, priority="P2")
    desk.ok("accept", ticket_id, now=at(5))
    desk.ok("resolve", ticket_id, "--solution", "重启服务", now=at(20))
    commits = desk.commit_count()
    result = check(desk, at(60 * 24 * 3))
    assert result.stdout == "" and result.stderr == ""
    assert desk.commit_count() == commits
    assert escalations(desk, ticket_id) == []


def test_missed_runs_catch_up_once_in_order(desk: Desk) -> None:
    p4 = desk.new(now=T0, priority="P4", title="打印机卡纸")
    p3 = desk.new(now=at(10), priority="P3", title="邮箱容量满")
    commits = desk.commit_count()
    report = check_json(desk, at(60 * 24 * 3), user="")  # cron: no user given
    assert desk.commit_count() == commits + 1  # one commit for the whole run
    got = [(e["ticket"], e["role"], e["after"]) for e in report["escalations"]]
    assert got == [
        (p3, "l1", "0h"),
        (p4, "l1", "30m"),
        (p3, "l2", "30m"),
        (p4, "l2", "4h"),
        (p3, "pm", "4h"),
        (p4, "pm", "12h"),
        (p3, "management", "12h"),
        (p4, "management", "2d"),
    ]
    assert escalations(desk, p4) == [
        ("l1", "30m"),
        ("l2", "4h"),
        ("pm", "12h"),
        ("management", "2d"),
    ]
    message = desk.git("log", "-1", "--format=%an|%s")
    assert message.startswith("elinkctl-check|check: 8 escalations")
    # Later runs add no escalation.
    assert check_json(desk, at(60 * 24 * 4))["escalations"] == []


# --- SLA marks ---------------------------------------------------------------------------------


def test_sla_warning_then_breach_each_once(desk: Desk) -> None:
    ticket_id = desk.new(now=T0, priority="P1")
    assert check_json(desk, at(11))["sla_warnings"] == []
    report = check_json(desk, at(12))  # 80% of 15 min
    [warning] = report["sla_warnings"]
    assert warning["ticket"] == ticket_id and warning["clock"] == "response"
    assert warning["deadline"] == at(15)
    assert check_json(desk, at(13))["sla_warnings"] == []
    report = check_json(desk, at(15))
    [breach] = report["sla_breaches"]
    assert (breach["clock"], breach["deadline"]) == ("response", at(15))
    assert check_json(desk, at(16))["sla_breaches"] == []
    marks = [(e["type"], e["clock"]) for e in events(desk, ticket_id, "sla_warning", "sla_breach")]
    assert marks == [("sla_warning", "response"), ("sla_breach", "response")]


def test_pending_stops_resolution_marks_but_responded_clock_is_done(desk: Desk) -> None:
    ticket_id = desk.new(now=T0, priority="P1")
    desk.ok("accept", ticket_id, now=at(5))
    desk.ok("pend", ticket_id, "--reason", "等待用户提供日志", now=at(10))
    report = check_json(desk, at(60 * 10))
    assert report["sla_warnings"] == [] and report["sla_breaches"] == []


def test_sla_marks_go_to_assignee_desk_and_pm(desk: Desk, smtp_server: SmtpServer) -> None:
    configure(desk, smtp_server)
    ticket_id = desk.new(now=T0, priority="P2")
    desk.ok("accept", ticket_id, now=at(1))
    desk.ok("assign", ticket_id, "--to", "李四", "--tier", "l1", now=at(2))
    smtp_server.mails.clear()
    report = check_json(desk, at(8 * 60))
    [breach] = report["sla_breaches"]
    assert breach["clock"] == "resolution"
    assert breach["recipients"] == ["李四", "小王", "王五"]
    mails = [m for m in smtp_server.mails if "SLA 已超时" in m.subject]
    assert len(mails) == 1
    assert sorted(mails[0].rcpt_tos) == sorted(
        ["lisi@example.com", "xiaowang@example.com", "wangwu@example.com"]
    )


# --- idempotence and overlap -------------------------------------------------------------------


def test_second_run_at_the_same_moment_records_and_sends_nothing(
    desk: Desk, smtp_server: SmtpServer
) -> None:
    configure(desk, smtp_server)
    desk.new(now=T0, priority="P2")
    first = check(desk, at(31))
    assert "管理升级 escalation" in first.stdout and "30m → 项目经理 (pm)" in first.stdout
    assert "通知 notifications:" in first.stdout
    commits, mails = desk.commit_count(), len(smtp_server.mails)
    again = check(desk, at(31))
    assert again.stdout == "" and again.stderr == ""
    assert (desk.commit_count(), len(smtp_server.mails)) == (commits, mails)


def test_busy_store_is_skipped_with_a_note(desk: Desk) -> None:
    ticket_id = desk.new(now=T0, priority="P2")
    commits = desk.commit_count()
    store = Store(desk.root)
    with store.locked(wait=False) as got:
        assert got
        result = check(desk, at(31))
    assert result.stdout == ""
    assert "locked" in result.stderr
    assert desk.commit_count() == commits
    assert escalations(desk, ticket_id) == []
    check(desk, at(31))  # the next run does the work
    assert escalations(desk, ticket_id) == [("l2", "0h"), ("pm", "30m")]


def test_overlapping_real_processes_fire_once(
    desk: Desk, elinkctl_bin: str, subprocess_env: dict[str, str]
) -> None:
    ids = [desk.new(now=T0, priority=p) for p in ("P1", "P2", "P3", "P4")]
    commits = desk.commit_count()
    env = dict(subprocess_env, ELINKCTL_NOW=at(60 * 24 * 3))
    procs = [
        subprocess.Popen(
            [elinkctl_bin, "check"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert desk.commit_count() == commits + 1, outputs
    for ticket_id in ids:
        pairs = escalations(desk, ticket_id)
        assert len(pairs) == len(set(pairs))
    assert sum(len(escalations(desk, i)) for i in ids) == 13  # every cell of the matrix once
    assert sum(1 for out, _ in outputs if out) == 1, outputs  # one reported, the others silent


# --- dry run, holidays, broken tickets ---------------------------------------------------------


def test_dry_run_changes_nothing(desk: Desk, smtp_server: SmtpServer) -> None:
    configure(desk, smtp_server)
    desk.new(now=T0, priority="P3")
    head = desk.git("rev-parse", "HEAD")
    tree = {p: p.read_bytes() for p in (desk.root / "tickets").rglob("*.yaml")}
    outbox = Store(desk.root).state_dir / "outbox"
    pending_before = sorted((outbox / "pending").glob("*")) if outbox.exists() else []
    mails = len(smtp_server.mails)
    result = check(desk, at(60 * 5), "--dry-run")
    assert "(dry run) would record 管理升级 escalation" in result.stdout
    assert "would notify" in result.stdout and "zhanggong@example.com" in result.stdout
    report = json.loads(check(desk, at(60 * 5), "--dry-run", "--json").stdout)
    assert [e["after"] for e in report["escalations"]] == ["0h", "30m", "4h"]
    assert report["dry_run"] is True and report["notifications"] == []
    assert report["planned_notifications"]
    assert desk.git("rev-parse", "HEAD") == head
    assert desk.git("status", "--porcelain") == ""
    assert {p: p.read_bytes() for p in (desk.root / "tickets").rglob("*.yaml")} == tree
    assert (sorted((outbox / "pending").glob("*")) if outbox.exists() else []) == pending_before
    assert len(smtp_server.mails) == mails


def test_year_without_holiday_data_warns_and_still_checks(desk: Desk) -> None:
    now = "2027-03-01T10:00:00+08:00"
    ticket_id = desk.new(now=now, priority="P3")
    result = check(desk, at(60 * 5, now))
    assert (
        "warning: sla.yaml: calendar 'business': no China public-holiday data for 2027"
        in result.stderr
    )
    assert ("l2", "30m") in escalations(desk, ticket_id)
    config = desk.run("config", "check", now=now)
    assert config.exit_code == 0
    assert "no China public-holiday data for 2027" in config.stderr


def test_corrupt_ticket_is_reported_and_the_others_still_checked(desk: Desk) -> None:
    bad = desk.new(now=T0, priority="P2", title="坏文件")
    good = desk.new(now=T0, priority="P2", title="好文件")
    desk.ticket_path(bad).write_text("schema: 1\nid: [unclosed\n", encoding="utf-8")
    result = check(desk, at(31), code=1)
    assert bad in result.stderr and "skipped" in result.stderr
    assert "Error:" in result.stderr
    assert good in result.stdout
    assert escalations(desk, good) == [("l2", "0h"), ("pm", "30m")]
    assert desk.git("log", "-1", "--format=%s").startswith("check: 2 escalations")


# --- notifications --------------------------------------------------------------------------------


def test_json_contract(desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer) -> None:
    configure(desk, smtp_server, robot_server)
    ticket_id = desk.ok(
        "new",
        "--title",
        "t",
        "--type",
        "failure",
        "--reporter",
        "r",
        "--priority",
        "P1",
        now=T0,
        env=robot_server.env(),
    ).stdout.strip()
    report = check_json(desk, at(30), env=robot_server.env())
    [esc] = report["escalations"]
    assert {k: esc[k] for k in ("ticket", "priority", "role", "after", "recipients")} == {
        "ticket": ticket_id,
        "priority": "P1",
        "role": "management",
        "after": "30m",
        "recipients": ["赵总"],
    }
    [breach] = report["sla_breaches"]
    assert breach["clock"] == "response"
    assert report["sla_warnings"] == []
    # management (赵总): mail + feishu; the breach (desk 小王, pm 王五): one mail, ding, feishu.
    channels = sorted((n["channel"], n["ok"], n["error"]) for n in report["notifications"])
    assert channels == [
        ("mail", True, None),
        ("mail", True, None),
        ("ops-ding", True, None),
        ("ops-feishu", True, None),
        ("ops-feishu", True, None),
    ]
    # Feishu robot: signed and verified; message has ticket, level and command.
    cards = [r.json for r in robot_server.delivered("feishu")]
    texts = [c["card"]["elements"][0]["content"] for c in cards]
    assert any("30m → 管理层" in t and f"elinkctl show {ticket_id}" in t for t in texts)


def test_failing_endpoint_is_retried_by_the_next_run_without_duplicate(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    # 22:00 is in the robots' quiet hours (notices.quiet_hours): off here
    configure(desk, smtp_server, robot_server, notices={"quiet_hours": "off"})
    desk.new(now=T0, priority="P3")  # l1 by mail only
    robot_server.fail_next(1, how="http500", robots={"feishu"})
    first = check(desk, at(60 * 12), env=robot_server.env())  # 30m l2, 4h pm, 12h management
    assert "failed (kept for retry)" in first.stdout
    assert "ops-feishu" in first.stdout
    feishu_ok = len(robot_server.delivered("feishu"))
    ding_ok = len(robot_server.delivered("dingtalk"))
    mails = len(smtp_server.mails)
    second = check(desk, at(60 * 12 + 5), env=robot_server.env())
    # the failed post is sent again, once (its items as one digest)
    assert "sent" in second.stdout and "failed" not in second.stdout
    assert len(robot_server.delivered("feishu")) == feishu_ok + 1
    assert len(robot_server.delivered("dingtalk")) == ding_ok
    assert len(smtp_server.mails) == mails
    assert check(desk, at(60 * 12 + 30), env=robot_server.env()).stdout == ""
    # Every delivered feishu card is about a different cell.
    texts = [r.json["card"]["elements"][0]["content"] for r in robot_server.delivered("feishu")]
    assert len(texts) == len(set(texts))


def test_missing_secret_env_fails_visibly_and_keeps_the_record(
    desk: Desk, robot_server: RobotServer
) -> None:
    configure(desk, None, robot_server)
    ticket_id = desk.new(now=T0, priority="P2")
    result = check(desk, at(31), env={})  # cron without the robot variables
    assert "environment variable" in result.stdout
    assert ("pm", "30m") in escalations(desk, ticket_id)
    assert robot_server.received() == []


# --- config check ---------------------------------------------------------------------


def test_config_check_refuses_literal_secrets_and_bad_calendars(desk: Desk) -> None:
    esc = desk.root / "escalation.yaml"
    text = esc.read_text(encoding="utf-8").replace(
        "channels: {}",
        "channels:\n  ops-ding: {type: dingtalk, url: 'https://oapi.dingtalk.com/robot/send?"
        "access_token=abc', secret: SECliteral}\n",
    )
    text += "notify:\n  sla_breach: [pm, boss]\n"
    esc.write_text(text, encoding="utf-8")
    sla = desk.root / "sla.yaml"
    sla.write_text(
        sla.read_text(encoding="utf-8").replace(
            'hours: ["09:00-12:00", "13:30-18:00"]', 'hours: ["09:00-12:00", "11:30-18:00"]'
        ),
        encoding="utf-8",
    )
    result = desk.run("config", "check", now=T0)
    assert result.exit_code == 1
    out = result.stdout
    assert "literal" in out and "ops-ding" in out
    assert "escalation.yaml line" in out
    assert "sla.yaml line" in out and "calendars.business.hours" in out
    assert "notify.sla_breach: unknown role 'boss'" in out
    # check refuses to run on broken rules, with the file and line.
    result = desk.run("check", now=T0)
    assert result.exit_code == 1
    assert "Error: sla.yaml line" in result.stderr


def test_new_still_registers_when_rules_are_broken(desk: Desk) -> None:
    esc = desk.root / "escalation.yaml"
    esc.write_text(
        esc.read_text(encoding="utf-8").replace("P1: {0h: pm,", "P1: {0h: boss,"), encoding="utf-8"
    )
    result = desk.run(
        "new", "--title", "t", "--type", "failure", "--reporter", "r", "--priority", "P1", now=T0
    )
    assert result.exit_code == 0
    assert "escalation not checked" in result.stderr
    assert Path(desk.ticket_path(result.stdout.strip())).exists()
