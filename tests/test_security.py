"""Information-security incidents (信息安全事件): the filter, the stats dimension,
and notifications that keep their details out of group chats.

Through the CLI on a real git store (the ``desk`` fixture) with ELINKCTL_NOW;
notifications go to the real HTTP robot server and SMTP server of
tests/notify_servers.py (WeCom, DingTalk with signature, Feishu with
signature, a generic webhook).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from elinkctl import yamlio
from elinkctl.domain.selection import TicketFilter
from elinkctl.notify import Kind, Message
from elinkctl.store.store import Store

if TYPE_CHECKING:
    from conftest import Desk
    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

T0 = "2026-11-23T10:00:00+08:00"  # a Monday
TITLE = "财务服务器疑似被植入挖矿程序"
REPORTER = "张三"
DEPT = "财务部"


def at(minutes: float) -> str:
    return (dt.datetime.fromisoformat(T0) + dt.timedelta(minutes=minutes)).isoformat()


def configure(desk: Desk, smtp: SmtpServer, robot: RobotServer, **smtp_extra: Any) -> None:
    """The PM and management on mail and on every kind of group channel (committed)."""
    path = desk.root / "escalation.yaml"
    data = yamlio.load(path.read_text(encoding="utf-8"))
    channels: dict[str, Any] = {"mail": smtp.channel(**smtp_extra), **robot.channels()}
    robots = ["ops-wecom", "ops-ding", "ops-feishu", "hook"]
    people = {
        "王五": {"email": "wangwu@example.com", "channels": robots},
        "赵总": {"email": "zhaozong@example.com", "channels": robots},
        "李四": {"email": "lisi@example.com"},
    }
    roles = {"desk": ["李四"], "l1": ["李四"], "l2": ["李四"], "pm": ["王五"]}
    data.update(roles={**roles, "management": ["赵总"]}, people=people, channels=channels)
    path.write_text(yamlio.dump(data), encoding="utf-8")
    desk.git("commit", "-q", "-m", "people and channels", "--", "escalation.yaml")


def register(desk: Desk, robot: RobotServer, *flags: str, title: str = TITLE) -> str:
    result = desk.run(
        "new",
        "--title",
        title,
        "--type",
        "failure",
        "--reporter",
        REPORTER,
        "--dept",
        DEPT,
        "--priority",
        "P1",
        "--description",
        "服务器CPU持续满载，发现可疑进程",
        *flags,
        now=T0,
        env=robot.env(),
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def assert_withheld(robot: RobotServer, ticket_id: str, *secrets: str) -> None:
    """Every group post names the incident and its priority, and nothing of its content."""
    requests = robot.received()
    assert {r.robot for r in requests} == {"wecom", "dingtalk", "feishu", "webhook"}
    assert all(r.ok for r in requests), [r.reason for r in requests]
    for request in requests:
        text = json.loads(request.text)  # decoded: no \\u escapes hide a leak
        flat = json.dumps(text, ensure_ascii=False)
        assert ticket_id in flat and "P1" in flat
        for secret in secrets:
            assert secret not in flat, (request.robot, secret)


# --- notifications -----------------------------------------------------------------------


def test_group_chats_get_only_id_and_priority_of_a_security_incident(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    tid = register(desk, robot_server, "--security")
    desk.ok("accept", tid, now=at(5), user="李四")
    # 0h → PM inside `new`; 30m → management by check; a progress report to management.
    result = desk.run("check", now=at(31), env=robot_server.env())
    assert result.exit_code == 0, result.stderr
    result = desk.run(
        "progress", tid, "-m", "已隔离服务器，正在排查入侵路径", now=at(40), env=robot_server.env()
    )
    assert result.exit_code == 0, result.stderr

    secrets = (TITLE, "挖矿", REPORTER, DEPT, "李四", "处理中", "隔离", "入侵", "管理层")
    assert_withheld(robot_server, tid, *secrets)
    assert len(robot_server.received()) == 3 * 4  # each of 3 notices on each of 4 channels
    [wecom, *_] = robot_server.delivered("wecom")
    content = wecom.json["markdown"]["content"]
    assert content.startswith(f"**管理升级 P1 {tid}**")
    assert "> 通知对象: 王五" in content and "不在群内发送" in content
    assert f"elinkctl show {tid}" in content

    # Mail goes to named people: it may carry the title (and the rest).
    assert len(smtp_server.mails) == 3
    for mail in smtp_server.mails:
        assert tid in mail.subject and TITLE in mail.subject
    assert "隔离" in smtp_server.mails[-1].body


def test_other_incidents_keep_their_title_in_group_chats(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    tid = register(desk, robot_server, title="财务系统全部无法登录")
    requests = robot_server.received()
    assert len(requests) == 4
    for request in requests:
        flat = json.dumps(json.loads(request.text), ensure_ascii=False)
        assert "财务系统全部无法登录" in flat and tid in flat
        assert REPORTER not in flat  # reporter details never go to groups, as before


def test_mail_to_a_fixed_list_is_a_group_too(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """`to:` on the smtp channel mails a shared address instead of the people told."""
    configure(desk, smtp_server, robot_server, to=["ops-list@example.com"])
    tid = register(desk, robot_server, "--security")
    [mail] = smtp_server.mails
    assert mail.rcpt_tos == ["ops-list@example.com"]
    assert tid in mail.subject and "P1" in mail.subject
    assert TITLE not in mail.subject and TITLE not in mail.body
    assert REPORTER not in mail.body


def test_a_flag_set_later_by_edit_protects_the_next_notices(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    tid = register(desk, robot_server)
    desk.ok("accept", tid, now=at(5), user="李四")
    desk.ok("edit", tid, "--security", now=at(10))
    before = len(robot_server.received())
    desk.ok("check", now=at(31), env=robot_server.env())
    later = robot_server.received()[before:]
    assert len(later) == 4
    for request in later:
        flat = json.dumps(json.loads(request.text), ensure_ascii=False)
        assert tid in flat and TITLE not in flat


def test_message_group_version_of_a_security_incident() -> None:
    msg = Message(
        ticket="INC-261123-7KQ2M",
        title=TITLE,
        priority="P2",
        kind=Kind.ESCALATION,
        level="8h → 管理层",
        elapsed="8h 10m",
        status="in_progress",
        assignee="李四",
        deadline="2026-11-23 18:00",
        reporter=REPORTER,
        department=DEPT,
        note="补发",
        security=True,
    )
    group = msg.for_group()
    assert group.subject() == "[elinkctl] 管理升级 P2 INC-261123-7KQ2M"
    assert group.text(["王五"]) == (
        "事件: INC-261123-7KQ2M\n"
        "级别: P2\n"
        "通知: 管理升级\n"
        "通知对象: 王五\n"
        "详情: 不在群内发送，请用下面的命令查看\n"
        "查看: elinkctl show INC-261123-7KQ2M\n"
    )
    payload = msg.payload(["王五"])
    flat = json.dumps(payload, ensure_ascii=False)
    for secret in (TITLE, REPORTER, DEPT, "李四", "管理层", "8h", "18:00", "补发"):
        assert secret not in flat
    assert payload["ticket"] == "INC-261123-7KQ2M" and payload["priority"] == "P2"
    # The mail version keeps everything; the outbox round-trip keeps the flag.
    assert TITLE in msg.text() and REPORTER in msg.text()
    assert Message.from_dict(msg.to_dict()).for_group() == group


# --- selection and statistics ------------------------------------------------------------


def _new(desk: Desk, now: str, title: str, *flags: str) -> str:
    args = ("new", "--title", title, "--type", "failure", "--reporter", REPORTER, *flags)
    return str(desk.ok(*args, now=now).stdout.strip())


def _store(desk: Desk) -> tuple[str, str, str]:
    """Two security incidents (one resolved) and an ordinary one."""
    sec_open = _new(desk, T0, "内网发现异常扫描", "--security")
    sec_done = _new(desk, at(1), "邮箱账号被盗用发送钓鱼邮件", "--security")
    other = _new(desk, at(2), "打印机卡纸")
    desk.ok("accept", sec_done, now=at(10))
    desk.ok("resolve", sec_done, "--solution", "重置密码并开启二次验证", now=at(60))
    return sec_open, sec_done, other


def test_list_security_selects_only_security_incidents(desk: Desk) -> None:
    sec_open, sec_done, other = _store(desk)
    rows = desk.json("list", "--security", now=at(90))
    assert sorted(r["id"] for r in rows) == sorted([sec_open, sec_done])
    assert all(r["security"] for r in rows)
    everything = {r["id"]: r["security"] for r in desk.json("list", now=at(90))}
    assert everything == {sec_open: True, sec_done: True, other: False}
    assert [r["id"] for r in desk.json("list", "--security", "--open", now=at(90))] == [sec_open]
    # The index's summaries and the parsed tickets give the same answer.
    store = Store(desk.root)
    flt = TicketFilter(security=True)
    from_index = sorted(s.id for s in store.summaries(flt))
    assert from_index == sorted(t.id for t in store.iter_tickets() if flt.matches(t))
    assert from_index == sorted([sec_open, sec_done])
    text = desk.ok("list", "--security", now=at(90)).stdout
    assert sec_open in text and other not in text


def test_stats_security_filter_and_dimension(desk: Desk) -> None:
    _store(desk)
    data = desk.json("stats", "--security", now=at(90))
    assert data["total"] == 2
    assert data["resolution"]["timely"] == 1
    by = desk.json("stats", "--by", "security", now=at(90))
    assert by["by_dimension"] == "security"
    assert list(by["by"]) == ["no", "yes"]
    assert by["by"]["yes"]["total"] == 2 and by["by"]["no"]["total"] == 1
    # Cached folds answer the same on a second run.
    assert desk.json("stats", "--by", "security", now=at(90)) == by
    text = desk.ok("stats", "--by", "security", now=at(90)).stdout
    assert "by security" in text
