"""The pure parts of notices: rules, quiet hours, templates, Message-IDs, replies."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from elinkctl.domain import notices, replies
from elinkctl.domain.model import Event, Ticket
from elinkctl.errors import ConfigError
from elinkctl.notify.config import validate_channels

TZ = ZoneInfo("Asia/Shanghai")


def at(hhmm: str, day: int = 23) -> dt.datetime:
    h, m = hhmm.split(":")
    return dt.datetime(2026, 11, day, int(h), int(m), tzinfo=TZ)


def ticket(*events: Event, priority: str = "P3", **fields: object) -> Ticket:
    created = Event("e1", at("10:00"), "desk-wang", "created", {"priority": priority})
    base = {
        "schema": 1,
        "id": "INC-261123-7KQ2M",
        "title": "财务系统无法登录",
        "type": "failure",
        "priority": priority,
        "reporter": {"name": "张三", "phone": "13800138000", "department": "财务部"},
        **fields,
    }
    return Ticket("INC-261123-7KQ2M", base, (created, *events))


def test_defaults_tell_the_handler_the_pm_and_the_reporter() -> None:
    rules = notices.rules_of({})
    assign = Event("e2", at("10:05"), "desk-wang", "assigned", {"to": "李四", "tier": "l1"})
    escalate = Event("e3", at("10:30"), "李四", "escalated", {"tier": "l2", "reason": "x"})
    transfer = Event("e4", at("10:40"), "desk-wang", "transferred", {"to": "pm"})
    t = ticket(assign, escalate, transfer)
    found = notices.notices_for(rules, t, t.events, ["l1", "l2", "pm"])
    assert [(n.name, n.roles, n.people, n.reporter) for n in found] == [
        ("registered", (), (), True),
        ("assigned", (), ("李四",), False),
        ("escalated", ("l2",), (), False),  # no --to: the tier's role
        ("transferred", ("pm",), (), False),
    ]


def test_a_p1_resolution_reaches_management_and_asks_the_reporter() -> None:
    resolved = Event("e2", at("11:00"), "王五", "resolved", {"solution": "重启"})
    t = ticket(resolved, priority="P1")
    found = notices.notices_for(notices.rules_of({}), t, [resolved], [])
    assert [(n.name, n.reply_kind) for n in found] == [
        ("resolved", "confirm"),
        ("resolved_major", None),
    ]


def test_rules_are_configurable_and_checked() -> None:
    rules = notices.rules_of(
        {"notices": {"assigned": [], "closed": {"to": ["reporter"], "template": "survey"}}}
    )
    assert rules.rules["assigned"].to == ()
    assert rules.rules["closed"].template == "survey"
    with pytest.raises(ConfigError, match=r"notices.asigned: unknown notice"):
        notices.rules_of({"notices": {"asigned": ["handler"]}})
    with pytest.raises(ConfigError, match=r"notices.quiet_hours.from: a time of day"):
        notices.rules_of({"notices": {"quiet_hours": {"from": "25:00"}}})
    assert validate_channels({"notices": {"send_now": ["P5"]}}) == [
        "notices.send_now: 'P5' is not a priority (P1–P4)"
    ]


def test_quiet_hours_hold_robots_until_the_morning_except_urgent() -> None:
    quiet = notices.rules_of({}).quiet
    assert quiet.hold_until(at("23:30"), "P4", "wecom") == at("08:00", 24)
    assert quiet.hold_until(at("03:00"), "P3", "dingtalk") == at("08:00")
    assert quiet.hold_until(at("23:30"), "P2", "wecom") is None
    assert quiet.hold_until(at("23:30"), "P4", "smtp") is None
    assert quiet.hold_until(at("12:00"), "P4", "feishu") is None
    off = notices.rules_of({"notices": {"quiet_hours": "off"}}).quiet
    assert off.hold_until(at("23:30"), "P4", "wecom") is None


def test_templates_drop_empty_facts_and_groups_get_no_reporter() -> None:
    escalate = Event("e2", at("10:30"), "李四", "escalated", {"tier": "l2", "reason": "无法定位"})
    t = ticket(escalate, title="网络中断 13912345678")
    [notice] = notices.notices_for(notices.rules_of({}), t, [escalate], ["l2"])
    subject, body = notices.render(
        notices.TEMPLATES["escalated"], notices.notice_values(notice, "王五", TZ)
    )
    assert subject == "[INC-261123-7KQ2M] 事件升级到二线支持团队 P3：网络中断 13912345678"
    assert "原因：无法定位" in body and "回复期限" not in body and "张三 财务部" in body

    from elinkctl.notify.message import mask_phones

    safe = notices.notice_values(notice, "王五", TZ, mask=mask_phones)
    _, group = notices.render(notices.TEMPLATES["escalated"], safe)
    assert "13912345678" not in group and "张三" not in group and "财务部" not in group
    secret = ticket(escalate, security=True)
    [notice] = notices.notices_for(notices.rules_of({}), secret, [escalate], ["l2"])
    assert notices.group_template(notice, "$title") == notices.SECURITY_GROUP


def test_message_ids_are_deterministic_and_parsed_back() -> None:
    resolved = Event("e7", at("11:00"), "王五", "resolved", {})
    t = ticket(resolved)
    [notice] = notices.notices_for(notices.rules_of({}), t, [resolved], [])
    mail_id = notices.mail_id(notice, "example.com")
    assert mail_id == "<INC-261123-7KQ2M.e7.resolved@example.com>"
    assert notices.parse_mail_id(mail_id) == ("INC-261123-7KQ2M", "e7", "resolved")
    assert notices.parse_mail_id("<abc@example.com>") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("已解决，谢谢！", True),
        ("好了", True),
        ("确认", True),
        ("问题已解决", True),
        ("已经恢复正常了，辛苦了", True),
        ("还没好", False),
        ("确认一下，问题还在", False),
        ("不确认", False),
        ("ok?", False),
        ("已解决。但是还有个问题", False),
        ("打印机那边还有点问题想咨询", False),
        ("已解决" + "，" * 80, False),  # a long reply is for a person to read
    ],
)
def test_confirmations_must_be_clear(text: str, expected: bool) -> None:
    assert replies.confirms(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", 4),
        ("4分", 4),
        ("打4分吧", 4),
        ("４", 4),
        ("满意", 4),
        ("非常满意", 5),
        ("一般", 3),
        ("不满意", 2),
        ("4/5", 4),
        ("3 或 4", None),
        ("不是很满意", None),
        ("满意，但是响应有点慢", None),
        ("2026年", None),
        ("谢谢", None),
    ],
)
def test_satisfaction_must_be_one_score(text: str, expected: int | None) -> None:
    assert replies.satisfaction(text) == expected


def test_a_review_returned_tells_the_assignee_like_a_reopen() -> None:
    assign = Event("e2", at("10:05"), "desk-wang", "assigned", {"to": "王五", "tier": "l2"})
    returned = Event(
        "e3", at("12:00"), "赵六", "reviewed", {"verdict": "returned", "reason": "根因未查明"}
    )
    t = ticket(assign, returned, priority="P1")
    [notice] = notices.notices_for(notices.rules_of({}), t, [returned], [])
    assert (notice.name, notice.people) == ("reopened", ("王五",))


def test_close_asks_for_satisfaction_unless_the_callback_gave_it() -> None:
    resolved = Event("e2", at("11:00"), "王五", "resolved", {"solution": "重启"})
    closed = Event("e4", at("12:00"), "desk-wang", "closed", {})
    called = Event("e3", at("11:30"), "desk-wang", "callback", {"satisfaction": 5})
    rules = notices.rules_of({})
    [ask] = notices.notices_for(rules, ticket(resolved, closed), [closed], [])
    assert ask.reporter and ask.reply_kind == "satisfaction"
    [quiet] = notices.notices_for(rules, ticket(resolved, called, closed), [closed], [])
    assert not quiet.reporter
