"""A P3's whole life tells exactly the right people, once each, in Chinese,
through the real SMTP server and a real (signature-checking) robot, across a
killed `check` and a robot that refuses twice; the reporter's replies land as
confirm, callback and comment; a night-time P4 waits for the morning while a
P1 goes out at once."""

from __future__ import annotations

import email.policy
import os
import signal
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from elinkctl.domain import ticketfile

if TYPE_CHECKING:
    from conftest import Desk
    from notify_servers import ReceivedMail, RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

REPORTER = "zhangsan@customer.example"
ADDRESS = {
    "李四": "lisi@example.com",
    "王五": "wangwu@example.com",
    "赵六": "zhaoliu@example.com",
    "钱七": "qianqi@example.com",
    "desk-wang": "wang@example.com",
}


def configure(desk: Desk, smtp: SmtpServer, robot: RobotServer, **notices: Any) -> None:
    """People, roles and channels: 李四 (l1) also on the WeCom robot."""
    path = desk.root / "escalation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["roles"] = {
        "desk": ["desk-wang"],
        "l1": ["李四"],
        "l2": ["王五"],
        "vendor": [],
        "pm": ["赵六"],
        "management": ["钱七"],
    }
    data["people"] = {name: {"email": addr} for name, addr in ADDRESS.items()}
    data["people"]["李四"]["channels"] = ["ops-wecom"]
    data["people"]["张三"] = {"email": REPORTER}
    data["channels"] = {"mail": smtp.channel(), "ops-wecom": robot.channels()["ops-wecom"]}
    if notices:
        data["notices"] = notices
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def mails_to(smtp: SmtpServer, address: str) -> list[ReceivedMail]:
    return [m for m in smtp.mails if address in m.rcpt_tos]


def load(desk: Desk, ticket_id: str) -> Any:
    return ticketfile.loads(desk.ticket_path(ticket_id).read_text(encoding="utf-8"))


def reply(to: ReceivedMail, text: str, n: int) -> str:
    """The reporter's answer to ``to``, threaded by In-Reply-To."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = f"张三 <{REPORTER}>"
    mail["To"] = "desk@example.com"
    mail["Subject"] = "Re: " + to.subject
    mail["Message-ID"] = f"<reply-{n}@customer.example>"
    mail["In-Reply-To"] = str(to.message["Message-ID"])
    mail["References"] = str(to.message["Message-ID"])
    mail.set_content(f"{text}\n\n在 2026年11月23日，服务台 写道：\n> 原邮件\n")
    return mail.as_string()


def check(desk: Desk, now: str, robot: RobotServer) -> Any:
    return desk.json("check", now=f"2026-11-23T{now}:00+08:00", env=robot.env())


def killed_check(desk: Desk, robot: RobotServer, elinkctl_bin: str, now: str) -> None:
    """A `check` SIGKILLed while a robot post hangs (after its mails went out)."""
    robot.fail_next(1, how="hang")
    before = len(robot.received())
    env = {**os.environ, **robot.env(), "ELINKCTL_STORE": str(desk.root)}
    env.update(ELINKCTL_USER="elinkctl-check", ELINKCTL_NOW=now)
    proc = subprocess.Popen(
        [elinkctl_bin, "check"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while len(robot.received()) == before and time.monotonic() < deadline:
        time.sleep(0.05)  # waits for the hanging post, not for a clock
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(robot.received()) > before, "the killed check never reached the robot"


def test_a_p3_life_tells_each_person_once(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, elinkctl_bin: str
) -> None:
    smtp, robot = smtp_server, robot_server
    configure(desk, smtp, robot)
    tid = desk.new(
        now="2026-11-23T10:00:00+08:00",
        priority="P3",
        phone="13800138000",
        dept="财务部",
        title="财务系统无法登录 13912345678",
    )

    def at(hhmm: str) -> str:
        return f"2026-11-23T{hhmm}:00+08:00"

    desk.ok("transfer", tid, "--reason", "客户坚持要求处理", now=at("10:01"))
    desk.ok("accept", tid, now=at("10:02"), user="赵六")
    desk.ok("assign", tid, "--to", "李四", now=at("10:03"))
    assert smtp.mails == []  # queued in the commit; `check` delivers

    killed_check(desk, robot, elinkctl_bin, at("10:05"))
    assert robot.delivered() == []
    robot.fail_next(2)  # the robot refuses twice
    first = check(desk, "10:06", robot)
    assert [n["ok"] for n in first["notifications"]] == [False, False]  # assign + 0h level
    check(desk, "10:07", robot)  # one minute of back-off passed: refused again
    assert check(desk, "10:08", robot)["notifications"] == []  # two minutes of back-off
    last = check(desk, "10:10", robot)
    assert [n["ok"] for n in last["notifications"]] == [True, True]

    desk.ok(
        "escalate", tid, "--tier", "l2", "--to", "王五", "--reason", "一线无法定位",
        user="李四", now=at("10:20"),
    )  # fmt: skip
    check(desk, "10:31", robot)  # the 30m level to l2 and the escalation: one mail
    desk.ok("resolve", tid, "--solution", "更新认证服务证书并重启", user="王五", now=at("11:00"))
    check(desk, "11:01", robot)

    [ack, ask_confirm] = mails_to(smtp, REPORTER)
    desk.ok("ingest", "email", input=reply(ask_confirm, "已解决，谢谢！", 1), now=at("11:10"))
    unclear = reply(ask_confirm, "打印机那边还有点问题想咨询", 2)
    desk.ok("ingest", "email", input=unclear, now=at("11:12"))
    desk.ok("close", tid, now=at("11:20"))
    check(desk, "11:21", robot)
    ask_score = mails_to(smtp, REPORTER)[2]
    desk.ok("ingest", "email", input=reply(ask_score, "4分", 3), now=at("11:30"))
    assert check(desk, "11:40", robot)["notifications"] == []

    # --- who heard what ---------------------------------------------------------
    got = {who: [m.subject for m in mails_to(smtp, addr)] for who, addr in ADDRESS.items()}
    got["张三"] = [m.subject for m in mails_to(smtp, REPORTER)]
    assert {who: len(s) for who, s in got.items()} == {
        "李四": 1,  # assign + the 0h level, one digest
        "王五": 1,  # escalate + the 30m level, one digest
        "赵六": 1,  # transfer (the PM step)
        "钱七": 0,
        "desk-wang": 0,
        "张三": 3,  # registered, asked to confirm, asked for satisfaction
    }, got
    assert len(smtp.mails) == 6  # and nobody else: each once
    assert got["张三"] == [
        f"[{tid}] 您报告的事件已登记：财务系统无法登录 13912345678",
        f"[{tid}] 请确认事件是否已解决：财务系统无法登录 13912345678",
        f"[{tid}] 事件已关闭，请评价本次服务：财务系统无法登录 13912345678",
    ]
    assert got["赵六"] == [f"[{tid}] 请项目经理决定 P3：财务系统无法登录 13912345678"]
    lisi = mails_to(smtp, ADDRESS["李四"])[0]
    assert lisi.subject.startswith("[elinkctl] 2 条通知")
    assert ADDRESS["李四"] not in lisi.body  # each part as mailed alone: no 通知对象 address
    assert (
        "将事件" in lisi.body and "指派给您（一线工程师）" in lisi.body and "管理升级" in lisi.body
    )
    wangwu = mails_to(smtp, ADDRESS["王五"])[0]
    assert "升级到二线支持团队" in wangwu.body and "原因：一线无法定位" in wangwu.body
    assert "更新认证服务证书并重启" in ask_confirm.body and "已解决" in ask_confirm.body
    assert "1–5" in ask_score.body

    # the robot: one post for 李四, after the kill and two refusals; group-safe
    [post] = robot.delivered("wecom")
    content = post.json["markdown"]["content"]
    assert "2 条通知" in content and tid in content
    assert "13912345678" not in content and "13800138000" not in content
    assert "张三" not in content and "财务部" not in content
    assert len(robot.received("wecom")) == 4  # hang (killed), 2 refusals, 1 delivery

    # --- the replies ------------------------------------------------------------
    ticket = load(desk, tid)
    kinds = [(e.type, e.get("via")) for e in ticket.events]
    assert ("confirmed", "email") in kinds
    assert ("commented", "email") in kinds
    callback = [e for e in ticket.events if e.type == "callback"]
    assert [(e.get("satisfaction"), e.get("via")) for e in callback] == [(4, "email")]
    assert ticket.state.satisfaction == 4
    # the Message-IDs answered are the ones recorded on the ticket
    recorded = {m for e in ticket.events for m in (e.get("mail_ids") or [])}
    assert {
        str(ask_confirm.message["Message-ID"]),
        str(ask_score.message["Message-ID"]),
    } <= recorded
    assert str(ack.message["Message-ID"]) in recorded


def test_a_night_p4_waits_for_the_morning_a_p1_goes_at_once(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    smtp, robot = smtp_server, robot_server
    configure(desk, smtp, robot)
    night = "2026-11-23T23:30:00+08:00"
    p4 = desk.new(now=night, priority="P4", title="打印机卡纸")
    desk.ok("accept", p4, now=night)
    desk.ok("assign", p4, "--to", "李四", now=night, env=robot.env())
    check(desk, "23:35", robot)
    assert len(mails_to(smtp, ADDRESS["李四"])) == 1  # mail is not a robot: sent
    assert robot.received() == []  # the robot stays quiet at night

    p1 = desk.new(now="2026-11-23T23:40:00+08:00", priority="P1", title="核心交换机宕机")
    desk.ok("accept", p1, now="2026-11-23T23:41:00+08:00")
    result = desk.ok("assign", p1, "--to", "李四", now="2026-11-23T23:42:00+08:00", env=robot.env())
    assert "notified via ops-wecom: 李四" in result.stderr  # by the command, at once
    [p1_post] = robot.delivered("wecom")
    assert p1 in p1_post.text and p4 not in p1_post.text
    assert any(p1 in m.subject for m in mails_to(smtp, ADDRESS["赵六"]))  # the 0h level

    # (the P1's own SLA warnings to 李四 go to the robot at night too: P1 is urgent)
    morning = desk.json("check", now="2026-11-24T07:59:00+08:00", env=robot.env())
    assert not [
        n for n in morning["notifications"] if n["ticket"] == p4 and n["channel"] == "ops-wecom"
    ]
    assert not [p for p in robot.delivered("wecom") if p4 in p.text]
    eight = desk.json("check", now="2026-11-24T08:01:00+08:00", env=robot.env())
    sent = [n for n in eight["notifications"] if n["ticket"] == p4 and n["channel"] == "ops-wecom"]
    assert sent and all(n["ok"] for n in sent)
    held = [p for p in robot.delivered("wecom") if p4 in p.text]
    assert len(held) == 1  # the assignment and the P4's 30m level, one post


def test_a_failed_step_leaves_no_notice(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    path = desk.root / "escalation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["permissions"] = {"dispatch": ["desk"]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")
    refused = desk.run("assign", tid, "--to", "李四", user="王五", now="2026-11-23T10:02:00+08:00")
    assert refused.exit_code == 1
    pending = desk.root / ".git" / "elinkctl" / "outbox" / "pending"
    assert not any("assigned" in p.read_text(encoding="utf-8") for p in pending.glob("*.json"))


def test_a_notice_whose_event_never_landed_is_dropped(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """A command killed after queueing, before writing its ticket."""
    from elinkctl.notify.message import Kind, Message
    from elinkctl.notify.outbox import Outbox

    configure(desk, smtp_server, robot_server)
    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    smtp_server.mails.clear()
    outbox = Outbox(desk.root / ".git" / "elinkctl" / "outbox")
    ghost = {"ticket": tid, "id": "e9", "type": "assigned", "at": "x", "by": "desk-wang"}
    message = Message(ticket=tid, title="t", priority="P3", kind=Kind.ASSIGNED, body="派单\n")
    outbox.enqueue(
        f"{tid}/e9/assigned/李四@mail", "mail", ["lisi@example.com"], message, event=ghost
    )
    report = check(desk, "10:01", robot_server)
    dropped = [n for n in report["notifications"] if n["key"].endswith("李四@mail")]
    assert dropped and dropped[0]["gave_up"] and "never committed" in dropped[0]["error"]
    # 李四 hears of the 0h level only (not of the ghost, alone or in a digest)
    assert [m.body.count("派单") for m in mails_to(smtp_server, "lisi@example.com")] == [0]


def test_templates_are_the_store_s_and_robots_get_no_secrets(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server, quiet_hours="off")
    (desk.root / "templates").mkdir()
    (desk.root / "templates" / "assigned.txt").write_text(
        "【派单】$id $title\n\n$handler：请处理 $id，报告人 $reporter（$department）。\n",
        encoding="utf-8",
    )
    tid = desk.new(priority="P3", title="网络中断 13800138000", dept="财务部")
    secret = desk.ok(
        "new", "--title", "数据库被入侵", "--type", "failure", "--reporter", "张三",
        "--priority", "P3", "--security", now="2026-11-23T10:00:00+08:00",
    ).stdout.strip()  # fmt: skip
    for ticket_id in (tid, secret):
        desk.ok("accept", ticket_id, now="2026-11-23T10:01:00+08:00")
        desk.ok("assign", ticket_id, "--to", "李四", now="2026-11-23T10:02:00+08:00")
    check(desk, "10:03", robot_server)
    bodies = [m.body for m in mails_to(smtp_server, ADDRESS["李四"])]
    assert any("请处理" in b and "报告人 张三（财务部）" in b for b in bodies)
    posts = " ".join(p.text for p in robot_server.delivered("wecom"))
    assert "请处理" in posts and "13800138000" not in posts and "张三" not in posts
    assert "数据库被入侵" not in posts and "详情不在群内发送" in posts


def test_a_reporter_without_address_is_skipped_with_a_note(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    result = desk.ok(
        "new", "--title", "电话报障", "--type", "failure", "--reporter", "陌生人",
        "--priority", "P3", now="2026-11-23T10:00:00+08:00",
    )  # fmt: skip
    assert "the reporter has no email address" in result.stderr
    tid = result.stdout.strip()
    assert Path(desk.ticket_path(tid)).exists()


def test_a_reporter_given_as_an_address_is_mailed(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    for reporter in ("wangwei@corp.example", "王伟 <wangwei@corp.example>"):
        result = desk.ok(
            "new", "--title", "电话报障", "--type", "failure", "--reporter", reporter,
            "--priority", "P3", now="2026-11-23T10:00:00+08:00",
        )  # fmt: skip
        assert "no email address" not in result.stderr
    check(desk, "10:01", robot_server)
    acks = mails_to(smtp_server, "wangwei@corp.example")
    assert len(acks) == 2 and all("您报告的事件已登记" in m.subject for m in acks)


def test_a_p1_resolution_tells_management_once_and_the_pm(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """Resolved before its 30m cell: management hears it from that level (not
    twice), the PM gets the resolution to review, the reporter is asked to
    confirm — all sent by the command itself (P1: send_now)."""
    smtp = smtp_server
    configure(desk, smtp, robot_server)
    tid = desk.new(now="2026-11-23T10:00:00+08:00", priority="P1", title="核心交换机宕机")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")
    desk.ok(
        "resolve", tid, "--solution", "更换电源模块", now="2026-11-23T10:10:00+08:00", user="王五"
    )
    management = [m.subject for m in mails_to(smtp, ADDRESS["钱七"])]
    assert len(management) == 1 and "管理升级" in management[0]
    pm = [m.subject for m in mails_to(smtp, ADDRESS["赵六"])]
    assert len(pm) == 2 and "重大事件已解决" in pm[1]  # the 0h level, then the resolution
    assert [m.subject.split("：")[0] for m in mails_to(smtp, REPORTER)] == [
        f"[{tid}] 您报告的事件已登记",
        f"[{tid}] 请确认事件是否已解决",
    ]
    assert desk.json("check", now="2026-11-23T10:15:00+08:00")["notifications"] == []


def test_only_the_reporter_s_address_answers_for_the_reporter(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """The Message-ID can be guessed from the incident ID: a confirmation from
    another address is a comment, not a confirm."""
    configure(desk, smtp_server, robot_server)
    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")
    desk.ok("resolve", tid, "--solution", "重启", now="2026-11-23T10:02:00+08:00")
    check(desk, "10:03", robot_server)
    ask = mails_to(smtp_server, REPORTER)[1]
    forged = reply(ask, "已解决", 9).replace(f"<{REPORTER}>", "<mallory@evil.example>")
    result = desk.ok("ingest", "email", input=forged, now="2026-11-23T10:05:00+08:00")
    assert "not the reporter's address" in result.stderr
    types = [e.type for e in load(desk, tid).events]
    assert "confirmed" not in types and types[-1] == "commented"


def test_a_reply_threaded_by_its_subject_alone_answers_the_last_question(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """A client that drops In-Reply-To/References (or a reply typed as a new
    mail with the ID in the subject) still answers the last question mailed."""
    configure(desk, smtp_server, robot_server)
    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")

    def bare(to: ReceivedMail, text: str, n: int) -> str:
        lines = reply(to, text, n).splitlines(keepends=True)
        return "".join(x for x in lines if not x.startswith(("In-Reply-To:", "References:")))

    check(desk, "10:01", robot_server)
    ack = mails_to(smtp_server, REPORTER)[0]
    desk.ok("ingest", "email", input=bare(ack, "已解决", 1), now="2026-11-23T10:01:30+08:00")
    assert load(desk, tid).events[-1].type == "commented"  # nothing was asked yet
    desk.ok("resolve", tid, "--solution", "重启", now="2026-11-23T10:02:00+08:00")
    check(desk, "10:03", robot_server)
    ask = mails_to(smtp_server, REPORTER)[1]
    desk.ok("ingest", "email", input=bare(ask, "已解决", 2), now="2026-11-23T10:05:00+08:00")
    assert load(desk, tid).events[-1].type == "confirmed"
    desk.ok("close", tid, now="2026-11-23T10:06:00+08:00")
    check(desk, "10:07", robot_server)
    survey = mails_to(smtp_server, REPORTER)[2]
    desk.ok("ingest", "email", input=bare(survey, "4", 3), now="2026-11-23T10:08:00+08:00")
    last = load(desk, tid).events[-1]
    assert (last.type, last.get("satisfaction")) == ("callback", 4)


def test_a_broken_template_does_not_block_the_step(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    (desk.root / "templates").mkdir()
    (desk.root / "templates" / "assigned.txt").write_bytes(b"\xff\xfe broken")
    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")
    result = desk.ok("assign", tid, "--to", "李四", now="2026-11-23T10:02:00+08:00")
    assert "templates/assigned.txt: not UTF-8" in result.stderr
    assert load(desk, tid).state.assignee == "李四"


def test_pulled_steps_are_told_by_the_clone_that_made_them(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, tmp_path: Path
) -> None:
    """A laptop's assign reaches the cron host by `sync`; the cron host's
    `check` does not announce it again: the laptop sent it, at its `sync`."""
    configure(desk, smtp_server, robot_server, quiet_hours="off")
    desk.git("commit", "-q", "-m", "people", "--", "escalation.yaml")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(remote)], check=True)
    desk.git("remote", "add", "origin", str(remote))
    desk.git("push", "-q", "-u", "origin", "main")
    cron = tmp_path / "cron"
    subprocess.run(["git", "clone", "-q", str(remote), str(cron)], check=True)
    cron_desk = type(desk)(cron, desk.runner)

    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")
    desk.ok("assign", tid, "--to", "李四", now="2026-11-23T10:02:00+08:00")
    synced = desk.ok("sync", now="2026-11-23T10:03:00+08:00", env=robot_server.env())
    assert "notified via mail: lisi@example.com" in synced.stderr  # the laptop, once online
    assert "notified via ops-wecom: 李四" in synced.stderr
    cron_desk.ok("sync", now="2026-11-23T10:04:00+08:00")
    assert cron_desk.ticket_path(tid).exists()

    pulled = cron_desk.json("check", now="2026-11-23T10:05:00+08:00", env=robot_server.env())
    told = [n for n in pulled["notifications"] if n["ticket"] == tid]
    assert told and all("escalation" in n["key"] for n in told)  # its own 0h level only
    assert not any("/assigned/" in n["key"] for n in pulled["notifications"])
    assigned = [m for m in mails_to(smtp_server, "lisi@example.com") if "派单" in m.subject]
    assert len(assigned) == 1


def test_a_question_already_answered_is_not_asked(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """`check` runs only after the incident was resolved, confirmed and closed:
    the reporter is not asked to confirm what the desk already confirmed, and
    not asked for satisfaction once the callback recorded it."""
    configure(desk, smtp_server, robot_server)

    def at(hhmm: str) -> str:
        return f"2026-11-23T{hhmm}:00+08:00"

    def subjects() -> list[str]:
        return [m.subject for m in mails_to(smtp_server, REPORTER)]

    tid = desk.new(now=at("10:00"), priority="P3")
    desk.ok("accept", tid, now=at("10:02"))
    desk.ok("assign", tid, "--to", "李四", now=at("10:03"))
    desk.ok("resolve", tid, "--solution", "重置密码", user="李四", now=at("11:00"))
    desk.ok("confirm", tid, now=at("11:10"))
    desk.ok("close", tid, now=at("11:20"))
    result = check(desk, "11:30", robot_server)
    assert not [n for n in result["notifications"] if not n["ok"]]
    sent = subjects()
    assert any("已登记" in s for s in sent)
    assert not any("请确认" in s for s in sent)  # confirmed before anyone asked
    assert any("请评价" in s for s in sent)  # the close still asks for satisfaction

    other = desk.new(now=at("12:00"), priority="P3")
    desk.ok("accept", other, now=at("12:02"))
    desk.ok("assign", other, "--to", "李四", now=at("12:03"))
    desk.ok("resolve", other, "--solution", "重置密码", user="李四", now=at("12:30"))
    check(desk, "12:31", robot_server)  # asked to confirm: the question is open
    assert len([s for s in subjects() if "请确认" in s]) == 1
    desk.ok("confirm", other, now=at("12:40"))
    desk.ok("close", other, now=at("12:50"))
    desk.ok("callback", other, "--satisfaction", "5", now=at("12:55"))
    check(desk, "13:00", robot_server)
    assert len([s for s in subjects() if "请评价" in s]) == 1  # only the first incident's


def test_a_reply_onto_a_mailed_incident_outside_a_sparse_checkout_is_not_new(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, tmp_path: Path
) -> None:
    """In a clone that checks out this month only, a reply to last month's
    mailed-in incident is threaded onto it, not acknowledged as a new one."""
    import subprocess as sp

    configure(desk, smtp_server, robot_server)
    desk.git("commit", "-q", "-m", "people and channels", "--", "escalation.yaml")
    mail = (
        f"From: 张三 <{REPORTER}>\r\nTo: desk@example.com\r\nSubject: VPN连不上\r\n"
        "Message-ID: <first@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "\r\n在家连不上VPN。\r\n"
    )
    old = desk.ok("ingest", "email", input=mail, now="2026-10-20T10:00:00+08:00").stdout.split()[0]
    desk.new(now="2026-11-23T09:00:00+08:00")  # this month's folder
    clone_root = tmp_path / "sparse"
    sp.run(["git", "clone", "-q", "--sparse", str(desk.root), str(clone_root)], check=True)
    sp.run(["git", "sparse-checkout", "set", "tickets/2026/11"], cwd=clone_root, check=True)
    work = type(desk)(clone_root, desk.runner)
    assert not (clone_root / "tickets" / "2026" / "10").exists()
    reply_mail = mail.replace("Subject: VPN连不上", f"Subject: Re: [{old}] VPN连不上").replace(
        "<first@customer.example>", "<second@customer.example>"
    )
    work.ok("ingest", "email", input=reply_mail, now="2026-11-23T10:00:00+08:00")
    assert load(work, old).events[-1].type == "commented"
    keys = [item["key"] for item in work.json("outbox", "list", now="2026-11-23T10:00:00+08:00")]
    assert not [k for k in keys if k.startswith(f"{old}/e1/")]  # no second acknowledgement


def test_a_person_no_channel_reaches_is_named_not_silently_skipped(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """李四 is listed with an address, but the desk has no mail channel (only
    a robot he is not on): the step says he was not told, instead of nothing."""
    configure(desk, smtp_server, robot_server)
    path = desk.root / "escalation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["channels"]["mail"]
    data["people"]["李四"].pop("channels")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tid = desk.new(priority="P3", now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:01:00+08:00")
    result = desk.ok("assign", tid, "--to", "李四", now="2026-11-23T10:02:00+08:00")
    assert "no channel reaches 李四" in result.stderr and "not told (派单)" in result.stderr
