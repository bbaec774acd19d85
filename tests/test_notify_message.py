"""Message rendering and the group-chat privacy rule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elinkctl.notify import Kind, Message, mask_phones

MSG = Message(
    ticket="INC-261123-7KQ2",
    title="财务系统无法登录",
    priority="P3",
    kind=Kind.ESCALATION,
    level=Message.level_for("4h", "pm"),
    elapsed="4h 05m",
    status="in_progress",
    assignee="王五",
    reporter="张三",
    department="财务部",
)


def test_subject_and_text_for_mail() -> None:
    assert MSG.subject() == "[elinkctl] 管理升级 P3 INC-261123-7KQ2 财务系统无法登录"
    assert MSG.text() == (
        "事件: INC-261123-7KQ2「财务系统无法登录」\n"
        "级别: P3\n"
        "通知: 管理升级\n"
        "升级: 4h → 项目经理\n"
        "已历时: 4h 05m\n"
        "状态: 处理中\n"
        "处理人: 王五\n"
        "报告人: 张三 / 财务部\n"
        "查看: elinkctl show INC-261123-7KQ2\n"
    )


def test_markdown_for_robots() -> None:
    assert MSG.for_group().markdown(["赵六", "钱七"]) == (
        "**管理升级 P3 INC-261123-7KQ2 财务系统无法登录**\n"
        "\n"
        "> 级别: P3\n"
        "> 通知: 管理升级\n"
        "> 升级: 4h → 项目经理\n"
        "> 已历时: 4h 05m\n"
        "> 状态: 处理中\n"
        "> 处理人: 王五\n"
        "> 通知对象: 赵六、钱七\n"
        "\n"
        "查看: `elinkctl show INC-261123-7KQ2`"
    )


def test_sla_breach_wording() -> None:
    msg = Message(
        ticket="INC-1",
        title="打印机卡纸",
        priority="P4",
        kind="sla_breach",
        level="解决时限 2d",
        deadline="2026-11-25T10:00:00+08:00",
        status="pending",
    )
    text = msg.text()
    assert msg.subject() == "[elinkctl] SLA 已超时 P4 INC-1 打印机卡纸"
    assert "时限: 解决时限 2d\n" in text
    assert "截止: 2026-11-25T10:00:00+08:00\n" in text
    assert "状态: 挂起\n" in text
    assert "处理人: 未分派\n" in text


def test_multiline_title_stays_one_line() -> None:
    msg = Message(ticket="INC-1", title="第一行\n第二行", priority="P2", kind="test")
    assert "\n" not in msg.subject()
    assert msg.text().startswith("事件: INC-1「第一行 第二行」\n")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        Message(ticket="INC-1", title="x", priority="P1", kind="whatever")  # type: ignore[arg-type]


def test_group_version_drops_reporter() -> None:
    group = MSG.for_group()
    assert group.reporter == "" and group.department == ""
    assert "张三" not in group.text() and "财务部" not in group.markdown()


def test_payload_is_group_safe_json() -> None:
    msg = Message(
        ticket="INC-1",
        title="张三来电 13800138000",
        priority="P1",
        kind="escalation",
        reporter="张三",
        department="财务部",
    )
    payload = msg.payload(["赵六"])
    text = json.dumps(payload, ensure_ascii=False)
    assert "13800138000" not in text and "财务部" not in text
    assert payload["title"] == "张三来电 [号码已隐藏]"
    assert payload["command"] == "elinkctl show INC-1"
    assert payload["source"] == "elinkctl"
    assert {"subject", "text", "markdown", "recipients", "kind", "ticket"} <= set(payload)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("回电 13800138000", "回电 [号码已隐藏]"),
        ("tel:+86 138 0013 8000.", "tel:[号码已隐藏]."),
        ("138-0013-8000", "[号码已隐藏]"),
        ("座机 010-62345678 转 8", "座机 [号码已隐藏] 转 8"),
        ("0755 26789012", "[号码已隐藏]"),
        ("INC-261123-7KQ2 at 2026-11-23T10:00", "INC-261123-7KQ2 at 2026-11-23T10:00"),
        ("订单 12800138000", "订单 12800138000"),  # not a mobile prefix
        ("序列号 138001380001234", "序列号 138001380001234"),  # longer digit run
    ],
)
def test_mask_phones(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


@given(
    prefix=st.text(alphabet="事件标题 -", max_size=8),
    second=st.sampled_from("3456789"),
    rest=st.from_regex(r"\d{9}", fullmatch=True),
)
def test_any_mobile_number_is_masked(prefix: str, second: str, rest: str) -> None:
    number = f"1{second}{rest}"
    assert number not in mask_phones(f"{prefix}{number}")


texts = st.text(max_size=30)


@given(
    ticket=st.from_regex(r"INC-[0-9A-Z]{4,10}", fullmatch=True),
    title=texts,
    level=texts,
    note=texts,
    kind=st.sampled_from(list(Kind)),
)
def test_dict_round_trip(ticket: str, title: str, level: str, note: str, kind: Kind) -> None:
    msg = Message(ticket=ticket, title=title, priority="P2", kind=kind, level=level, note=note)
    assert Message.from_dict(json.loads(json.dumps(msg.to_dict()))) == msg


def test_from_dict_ignores_unknown_keys() -> None:
    data = MSG.to_dict() | {"added_in_v2": 1}
    assert Message.from_dict(data) == MSG
