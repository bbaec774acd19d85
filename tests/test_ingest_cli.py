"""`ingest email` / `ingest alert` through the CLI on a real git store.

The contract under test: stdout carries only the IDs created or updated;
one input is one commit (or none); bad input leaves the store untouched
(`git status` clean, commit count unchanged) with one `Error: …` line.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from conftest import Desk
from elinkctl.cli import cli
from elinkctl.domain.model import Ticket
from elinkctl.ingest import TRUNCATION_NOTE
from elinkctl.services.intake import (
    ALERT_REOPEN_REASON,
    AUTO_RESOLVE_SOLUTION,
    MAX_INPUT_BYTES,
    guess_type,
    reply_text,
)
from elinkctl.store.store import Store

SAMPLES = Path(__file__).parent / "samples"
NOW = "2026-11-23T10:30:00+08:00"
ID_LINE = re.compile(r"^INC-\d{6}-[0-9A-HJKMNP-TV-Z]{5}$")


# --- helpers ------------------------------------------------------------------------


def ingest(
    desk: Desk,
    kind: str,
    data: bytes | None = None,
    *,
    file: Path | None = None,
    now: str = NOW,
    user: str = "mail-intake",
    args: tuple[str, ...] = (),
) -> Result:
    env = {"ELINKCTL_STORE": str(desk.root), "ELINKCTL_USER": user, "ELINKCTL_NOW": now}
    argv = ["ingest", kind, *args]
    if file is not None:
        argv.append(str(file))
    return desk.runner.invoke(cli, argv, env=env, input=data, catch_exceptions=False)


def ids_of(result: Result) -> list[str]:
    """stdout must be IDs only, one per line."""
    lines = result.stdout.splitlines()
    assert all(ID_LINE.match(line) for line in lines), result.stdout
    return lines


def ok(result: Result) -> list[str]:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}{result.stderr}"
    return ids_of(result)


def load(desk: Desk, ticket_id: str) -> Ticket:
    return Store(desk.root).load(ticket_id)


def ticket_count(desk: Desk) -> int:
    return len(Store(desk.root).all_ids())


def assert_untouched(
    desk: Desk, result: Result, commits: int, tickets: int = 0, status: int = 65
) -> None:
    # ingest exits with sysexits.h codes (65 EX_DATAERR: a mail server bounces, 78 EX_CONFIG)
    assert result.exit_code == status, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert desk.commit_count() == commits
    assert desk.git("status", "--porcelain") == ""
    assert ticket_count(desk) == tickets


def mail(
    subject: str = "财务系统无法登录",
    body: str = "今天上午起无法登录财务系统。",
    *,
    sender: str = "王喆 <wangzhe@fin.example.cn>",
    charset: str = "utf-8",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    attachments: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    """A message as a client would send it, Chinese headers RFC 2047-encoded."""
    msg = EmailMessage()
    name, _, addr = sender.partition(" <")
    msg["From"] = f"{Header(name, charset).encode(linesep=' ')} <{addr}" if addr else sender
    msg["To"] = "servicedesk@elink.example.cn"
    msg["Subject"] = Header(subject, charset).encode(linesep=" ")
    msg["Date"] = "Mon, 23 Nov 2026 10:12:45 +0800"
    msg["Message-ID"] = message_id or make_msgid(domain="fin.example.cn")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body, charset=charset, cte="base64")
    for filename, content in attachments:
        msg.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=filename
        )
    return msg.as_bytes()


def gbk_mail(subject: str, body: str, message_id: str) -> bytes:
    """A GBK message built by hand the way older Chinese clients send it."""
    msg: Message = MIMEText(body, "plain", "gbk")
    msg["From"] = f"{Header('李娜', 'gbk').encode(linesep=' ')} <lina@hr.example.cn>"
    msg["To"] = "servicedesk@elink.example.cn"
    msg["Subject"] = Header(subject, "gbk").encode(linesep=" ")
    msg["Date"] = format_datetime(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
    msg["Message-ID"] = message_id
    return msg.as_bytes()


def am_payload(
    status: str = "firing",
    starts: str = "2026-11-23T02:01:05Z",
    fingerprint: str = "fp-disk-01",
    severity: str = "warning",
    summary: str = "磁盘空间不足",
    **labels: str,
) -> bytes:
    alert: dict[str, Any] = {
        "status": status,
        "labels": {
            "alertname": "DiskFull",
            "instance": "fin-app01:9100",
            "service": "财务系统",
            "severity": severity,
            **labels,
        },
        "annotations": {"summary": summary, "description": "/data 使用率 95%"},
        "startsAt": starts,
        "endsAt": "2026-11-23T02:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }
    return json.dumps(
        {"version": "4", "status": status, "receiver": "desk", "alerts": [alert]},
        ensure_ascii=False,
    ).encode()


def set_alert_rules(desk: Desk, **rules: Any) -> None:
    """Change sla.yaml alerts: keys in the store (committed, so git status stays clean)."""
    path = desk.root / "sla.yaml"
    text = path.read_text(encoding="utf-8")
    for key, value in rules.items():
        text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {value}", text)
        assert n == 1, key
    path.write_text(text, encoding="utf-8")
    desk.git("commit", "-q", "-am", "rules")


# --- mail -----------------------------------------------------------------------------


def test_utf8_mail_registers_an_incident_with_sender_subject_body(desk: Desk) -> None:
    data = mail(
        message_id="<m1@fin.example.cn>",
        attachments=(("错误截图.png", b"\x89PNG..."), ("日志.txt", b"log")),
    )
    before = desk.commit_count()
    [ticket_id] = ok(ingest(desk, "email", data))
    assert desk.commit_count() == before + 1
    assert desk.git("status", "--porcelain") == ""
    ticket = load(desk, ticket_id)
    assert ticket.title == "财务系统无法登录"
    assert ticket.type == "failure"
    assert ticket.fields["source"] == "email"
    assert ticket.fields["reporter"] == {"name": "王喆"}
    description = ticket.fields["description"]
    assert "今天上午起无法登录财务系统。" in description
    assert "错误截图.png" in description and "日志.txt" in description
    created = ticket.events[0]
    assert created.by == "mail-intake"
    assert created.get("message_id") == "<m1@fin.example.cn>"
    assert created.get("from") == "wangzhe@fin.example.cn"
    assert desk.git("log", "-1", "--format=%an").strip() == "mail-intake"


def test_gbk_mail_with_encoded_subject_and_question_is_a_consultation(desk: Desk) -> None:
    subject, body = "咨询：如何修改OA系统密码？", "请问OA系统的密码在哪里修改？喆"
    data = gbk_mail(subject, body, "<g1@hr.example.cn>")
    assert b"gbk" in data.lower()
    [ticket_id] = ok(ingest(desk, "email", data))
    ticket = load(desk, ticket_id)
    assert ticket.title == "咨询：如何修改OA系统密码？"
    assert ticket.type == "consultation"
    assert ticket.fields["reporter"]["name"] == "李娜"
    assert "喆" in ticket.fields["description"]


def test_type_option_overrides_the_guess(desk: Desk) -> None:
    [ticket_id] = ok(ingest(desk, "email", mail(subject="申请开通VPN"), args=("--type", "request")))
    assert load(desk, ticket_id).type == "request"
    bad = ingest(desk, "email", mail(), args=("--type", "bogus"))
    assert bad.exit_code == 64  # EX_USAGE


@pytest.mark.parametrize(
    "name", ["mail_gbk_qp", "mail_multipart_attach", "mail_utf8_html", "mail_8bit_nocharset"]
)
def test_committed_mail_samples_each_register_one_incident(desk: Desk, name: str) -> None:
    before = desk.commit_count()
    [ticket_id] = ok(ingest(desk, "email", file=SAMPLES / f"{name}.eml"))
    assert desk.commit_count() == before + 1
    ticket = load(desk, ticket_id)
    assert ticket.fields["source"] == "email"
    assert ticket.title and "=?" not in ticket.title
    description = ticket.fields.get("description", "")
    assert not re.search(r"</?(html|body|p|div|br|span|table)\b", description, re.I)  # no markup


def test_html_mail_markup_never_reaches_the_ticket(desk: Desk) -> None:
    msg = EmailMessage()
    msg["From"] = "attacker@example.cn"
    msg["Subject"] = "打印机\x1b[31m故障"
    msg.set_content(
        "<html><body><p>打印机<b>卡纸</b></p><script>alert(1)</script>"
        "<img src=x onerror=alert(2)></body></html>",
        subtype="html",
    )
    [ticket_id] = ok(ingest(desk, "email", msg.as_bytes()))
    ticket = load(desk, ticket_id)
    assert "\x1b" not in ticket.title
    description = ticket.fields["description"]
    assert "打印机卡纸" in description
    assert "<" not in description.replace("<attacker@example.cn>", "")
    assert "alert(" not in description
    shown = desk.ok("show", ticket_id, now=NOW).stdout
    assert "\x1b" not in shown and "<script" not in shown


def test_reply_with_id_in_subject_is_a_comment_on_that_incident(desk: Desk) -> None:
    ticket_id = desk.new(now="2026-11-23T10:00:00+08:00")
    before = desk.commit_count()
    body = (
        "已经可以正常登录了，谢谢！\n\n王喆\n\n"
        "------------------ 原始邮件 ------------------\n"
        "发件人: IT服务台 <servicedesk@elink.example.cn>\n"
        "主题: 财务系统无法登录\n\n> 您好，证书已更新，请再试一次。\n"
    )
    data = mail(
        subject=f"回复: Re: [{ticket_id.lower()}] 财务系统无法登录",
        body=body,
        message_id="<r1@fin.example.cn>",
    )
    assert ok(ingest(desk, "email", data)) == [ticket_id]
    assert desk.commit_count() == before + 1
    assert ticket_count(desk) == 1
    event = load(desk, ticket_id).events[-1]
    assert event.type == "commented"
    assert event.get("via") == "email"
    assert event.get("message_id") == "<r1@fin.example.cn>"
    assert event.get("text") == "已经可以正常登录了，谢谢！\n\n王喆"
    assert event.by == "mail-intake"


def test_reply_threads_by_in_reply_to_without_id_in_subject(desk: Desk) -> None:
    [first] = ok(ingest(desk, "email", mail(message_id="<orig@fin.example.cn>")))
    reply = mail(
        subject="Re: 财务系统无法登录",
        body="补充：报错截图见附件",
        message_id="<r2@fin.example.cn>",
        in_reply_to="<orig@fin.example.cn>",
        attachments=(("报错.png", b"png"),),
    )
    assert ok(ingest(desk, "email", reply, now="2026-11-23T11:00:00+08:00")) == [first]
    assert ticket_count(desk) == 1
    event = load(desk, first).events[-1]
    assert event.type == "commented" and "报错.png" in event.get("text")
    # ... and a reply to that reply threads by the comment's Message-ID.
    again = mail(
        subject="Re: Re: 财务系统无法登录",
        body="又不行了",
        message_id="<r3@fin.example.cn>",
        in_reply_to="<r2@fin.example.cn>",
    )
    assert ok(ingest(desk, "email", again, now="2026-11-23T11:10:00+08:00")) == [first]


def test_reply_to_unknown_id_registers_a_new_incident(desk: Desk) -> None:
    result = ingest(desk, "email", mail(subject="Re: [INC-261101-7KQ2M] 财务系统无法登录"))
    [ticket_id] = ok(result)
    assert "INC-261101-7KQ2M" in result.stderr
    assert load(desk, ticket_id).events[0].type == "created"


def test_the_same_mail_delivered_twice_is_recorded_once(desk: Desk) -> None:
    data = mail(message_id="<dup@fin.example.cn>")
    [first] = ok(ingest(desk, "email", data))
    before = desk.commit_count()
    assert ok(ingest(desk, "email", data)) == [first]
    assert desk.commit_count() == before
    assert ticket_count(desk) == 1


def test_key_user_by_address_and_known_reporter_reused(desk: Desk) -> None:
    path = desk.root / "sla.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "key_users: []", "key_users: [boss@fin.example.cn]"
        ),
        encoding="utf-8",
    )
    desk.git("commit", "-q", "-am", "key users")
    [vip] = ok(ingest(desk, "email", mail(sender="Boss <Boss@Fin.example.cn>")))
    assert load(desk, vip).fields.get("key_user") is True
    [plain] = ok(ingest(desk, "email", mail()))
    assert "key_user" not in load(desk, plain).fields
    desk.ok("edit", plain, "--phone", "13800138000", "--dept", "财务部", now=NOW)
    second = mail(subject="报销单无法提交", sender="wangzhe@fin.example.cn")
    [later] = ok(ingest(desk, "email", second, now="2026-11-23T11:00:00+08:00"))
    assert load(desk, later).fields["reporter"] == {
        "name": "王喆",
        "phone": "13800138000",
        "department": "财务部",
    }


def test_oversized_body_is_truncated_with_a_note(desk: Desk) -> None:
    [ticket_id] = ok(ingest(desk, "email", mail(body="日志" * 60_000)))
    description = load(desk, ticket_id).fields["description"]
    assert TRUNCATION_NOTE in description
    assert len(description) < 70_000


@pytest.mark.parametrize(
    "data",
    [
        (SAMPLES / "mail_malformed_binary.eml").read_bytes(),
        (SAMPLES / "mail_malformed_noheaders.eml").read_bytes(),
        b"",
        b"   \n",
    ],
    ids=["binary", "noheaders", "empty", "blank"],
)
def test_malformed_mail_writes_nothing(desk: Desk, data: bytes) -> None:
    before = desk.commit_count()
    assert_untouched(desk, ingest(desk, "email", data), before)


def test_oversized_input_is_refused_before_parsing(desk: Desk, tmp_path: Path) -> None:
    big = tmp_path / "big.eml"
    big.write_bytes(mail() + b"x" * MAX_INPUT_BYTES)
    before = desk.commit_count()
    result = ingest(desk, "email", file=big)
    assert_untouched(desk, result, before)
    assert "10 MB" in result.stderr
    assert_untouched(desk, ingest(desk, "alert", file=big), before)
    missing = ingest(desk, "email", file=tmp_path / "nope.eml")
    assert_untouched(desk, missing, before)


# --- alerts ---------------------------------------------------------------------------


def test_alertmanager_payload_registers_each_alert_in_one_commit(desk: Desk) -> None:
    before = desk.commit_count()
    result = ingest(desk, "alert", file=SAMPLES / "alertmanager_firing.json", user="monitoring")
    mysql, cpu = ok(result)
    assert desk.commit_count() == before + 1
    assert desk.git("status", "--porcelain") == ""
    db = load(desk, mysql)
    assert db.priority == "P1"  # critical + impact=major
    assert db.fields["source"] == "monitoring"
    assert db.fields["system"] == "财务系统"
    assert db.opened_at.isoformat() == NOW  # registered at now, not startsAt
    created = db.events[0]
    assert created.get("alert_key") == "5c1f7e1d0c3b2a91"
    assert created.get("starts_at").isoformat() == "2026-11-23T10:01:05+08:00"
    assert "开始时间: 2026-11-23T10:01:05+08:00" in db.fields["description"]
    assert any(e.type == "escalation" and e.get("role") == "pm" for e in db.events)
    assert load(desk, cpu).priority == "P3"


def test_repeated_alert_stays_one_incident(desk: Desk) -> None:
    [first] = ok(ingest(desk, "alert", am_payload()))
    before = desk.commit_count()
    # The same notification again (Alertmanager repeat_interval): no news, nothing
    # written; the incident it belongs to is named.
    again = ingest(desk, "alert", am_payload(), now="2026-11-23T10:35:00+08:00")
    assert ok(again) == [first]
    assert "already recorded" in again.stderr
    assert desk.commit_count() == before
    # It fires anew (a new startsAt) while the incident is open: folded as an event.
    refire = ingest(
        desk, "alert", am_payload(starts="2026-11-23T02:40:00Z"), now="2026-11-23T10:41:00+08:00"
    )
    assert ok(refire) == [first]
    assert ticket_count(desk) == 1
    event = load(desk, first).events[-1]
    assert event.type == "alert"
    assert event.get("key") == "fp-disk-01"
    assert event.get("status") == "firing"
    assert event.get("summary") == "磁盘空间不足"
    assert event.get("starts_at").isoformat() == "2026-11-23T10:40:00+08:00"


def test_duplicate_alerts_in_one_payload_make_one_incident(desk: Desk) -> None:
    one = json.loads(am_payload())
    one["alerts"].append(copy.deepcopy(one["alerts"][0]))
    assert len(ok(ingest(desk, "alert", json.dumps(one).encode()))) == 1
    assert ticket_count(desk) == 1


def test_zabbix_problem_then_resolved_records_the_recovery(desk: Desk) -> None:
    [ticket_id] = ok(ingest(desk, "alert", file=SAMPLES / "zabbix_problem.json"))
    ticket = load(desk, ticket_id)
    assert ticket.priority == "P2"
    assert ticket.events[0].get("alert_key") == "trigger:24781"
    result = ingest(
        desk, "alert", file=SAMPLES / "zabbix_resolved.json", now="2026-11-23T10:43:00+08:00"
    )
    assert ok(result) == [ticket_id]
    ticket = load(desk, ticket_id)
    event = ticket.events[-1]
    assert (event.type, event.get("status")) == ("alert", "resolved")
    assert event.get("ends_at").isoformat() == "2026-11-23T10:42:17+08:00"
    assert ticket.status == "new"  # auto_resolve is off by default


def test_resolved_alert_without_incident_is_not_recorded(desk: Desk) -> None:
    before = desk.commit_count()
    result = ingest(desk, "alert", file=SAMPLES / "alertmanager_resolved.json")
    assert ok(result) == []
    assert "not recorded" in result.stderr
    assert desk.commit_count() == before


def test_auto_resolve_and_flapping_reopens_within_the_window(desk: Desk) -> None:
    set_alert_rules(desk, auto_resolve="true", flap_window="10m")
    [ticket_id] = ok(ingest(desk, "alert", am_payload(), now="2026-11-23T10:02:00+08:00"))
    desk.ok("accept", ticket_id, now="2026-11-23T10:03:00+08:00")
    assert ok(ingest(desk, "alert", am_payload("resolved"), now="2026-11-23T10:05:00+08:00")) == [
        ticket_id
    ]
    ticket = load(desk, ticket_id)
    assert ticket.status == "resolved"
    assert ticket.events[-1].get("solution") == AUTO_RESOLVE_SOLUTION
    # Fires again 7 minutes after the resolution: the same incident, reopened.
    before = desk.commit_count()
    flap = am_payload(starts="2026-11-23T02:11:00Z")
    assert ok(ingest(desk, "alert", flap, now="2026-11-23T10:12:00+08:00")) == [ticket_id]
    assert desk.commit_count() == before + 1
    ticket = load(desk, ticket_id)
    assert ticket.status == "in_progress"
    assert [e.type for e in ticket.events[-2:]] == ["alert", "reopened"]
    assert ticket.events[-1].get("reason") == ALERT_REOPEN_REASON
    assert ticket.state.reopened == 1
    # Resolved again, and fires after the window: a new incident.
    ok(
        ingest(
            desk,
            "alert",
            am_payload("resolved", starts="2026-11-23T02:11:00Z"),
            now="2026-11-23T10:15:00+08:00",
        )
    )
    assert load(desk, ticket_id).status == "resolved"
    late = am_payload(starts="2026-11-23T02:40:00Z")
    [other] = ok(ingest(desk, "alert", late, now="2026-11-23T10:41:00+08:00"))
    assert other != ticket_id
    assert ticket_count(desk) == 2


def test_mixed_payload_folds_and_registers_in_one_commit(desk: Desk) -> None:
    [disk] = ok(ingest(desk, "alert", am_payload()))
    payload = json.loads(am_payload(starts="2026-11-23T02:25:00Z"))
    second = json.loads(am_payload(fingerprint="fp-mem", summary="内存不足"))["alerts"][0]
    payload["alerts"].append(second)
    before = desk.commit_count()
    result = ingest(desk, "alert", json.dumps(payload).encode(), now="2026-11-23T10:40:00+08:00")
    first, new = ok(result)
    assert first == disk and new != disk
    assert desk.commit_count() == before + 1
    assert "2 incidents" in desk.git("log", "-1", "--format=%s")


@pytest.mark.parametrize(
    "name",
    [
        "alert_malformed_truncated",
        "alert_malformed_unknown",
        "alertmanager_malformed_nolabels",
        "zabbix_malformed_nostatus",
    ],
)
def test_malformed_alert_samples_write_nothing(desk: Desk, name: str) -> None:
    before = desk.commit_count()
    assert_untouched(desk, ingest(desk, "alert", file=SAMPLES / f"{name}.json"), before)


def test_one_bad_alert_in_a_payload_writes_nothing(desk: Desk) -> None:
    payload = json.loads(am_payload())
    payload["alerts"].append({"status": "firing", "annotations": {}})
    before = desk.commit_count()
    assert_untouched(desk, ingest(desk, "alert", json.dumps(payload).encode()), before)
    assert_untouched(desk, ingest(desk, "alert", b"[1, 2]"), before)
    assert_untouched(desk, ingest(desk, "alert", b""), before)


def test_broken_alert_rules_name_sla_yaml_and_config_check_lists_them(desk: Desk) -> None:
    set_alert_rules(desk, flap_window="soon")
    before = desk.commit_count()
    result = ingest(desk, "alert", am_payload())
    assert_untouched(desk, result, before, status=78)
    assert "sla.yaml" in result.stderr and "alerts.flap_window" in result.stderr
    check = desk.run("config", "check", now=NOW)
    assert check.exit_code != 0
    assert re.search(r"sla\.yaml line \d+: alerts\.flap_window", check.output)


def test_false_alarm_reject_is_counted_per_source_and_system(desk: Desk) -> None:
    [ticket_id] = ok(ingest(desk, "alert", file=SAMPLES / "zabbix_problem.json"))
    desk.ok("reject", ticket_id, "--reason", "false-alarm", now="2026-11-23T10:35:00+08:00")
    assert load(desk, ticket_id).events[-1].get("reason") == "false-alarm"
    stats = desk.json("stats", now="2026-11-23T11:00:00+08:00")
    assert stats["false_alarms"]["by_source"] == {"monitoring": 1}
    assert stats["false_alarms"]["by_system"] == {"财务系统": 1}


# --- the real pipe ----------------------------------------------------------------------


def test_mail_piped_through_the_installed_script(
    desk: Desk, elinkctl_bin: str, subprocess_env: dict[str, str]
) -> None:
    env = {**subprocess_env, "ELINKCTL_USER": "mail-intake", "ELINKCTL_NOW": NOW}
    data = (SAMPLES / "mail_gbk_qp.eml").read_bytes()
    done = subprocess.run(
        [elinkctl_bin, "ingest", "email"],
        input=data,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    [ticket_id] = done.stdout.decode().split()
    assert ID_LINE.match(ticket_id)
    assert load(desk, ticket_id).fields["source"] == "email"
    bad = subprocess.run(
        [elinkctl_bin, "ingest", "alert"],
        input=b"{not json",
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 65 and bad.stdout == b""  # EX_DATAERR
    assert bad.stderr.decode().startswith("Error: ")


# --- pure helpers -------------------------------------------------------------------------


def test_guess_type_and_reply_text() -> None:
    assert guess_type("请问如何申请VPN") == "consultation"
    assert guess_type("财务系统无法登录") == "failure"
    assert reply_text("好的\n\nOn Mon, 23 Nov 2026 Desk wrote:\n> old") == "好的"
    assert reply_text("> all quoted") == "> all quoted"
    outlook = "收到\nFrom: 服务台\nSent: Monday\nSubject: x\n\nold"
    assert reply_text(outlook) == "收到"
    assert reply_text("From: here I start\nreal text") == "From: here I start\nreal text"


def test_an_alert_s_reopen_tells_the_handler_like_any_reopen(desk: Desk) -> None:
    """A flapping alert reopens its incident: the notice of the reopen is
    queued for whoever handles it, as `elinkctl reopen` queues it."""
    from elinkctl import yamlio

    path = desk.root / "escalation.yaml"
    data = yamlio.load(path.read_text(encoding="utf-8"))
    data["roles"] = {**(data.get("roles") or {}), "l1": ["李四"]}
    data["people"] = {"李四": {"email": "lisi@example.com"}}
    data["channels"] = {"mail": {"type": "smtp", "host": "127.0.0.1", "port": 9}}
    path.write_text(yamlio.dump(data), encoding="utf-8")
    desk.git("commit", "-q", "-am", "people and a mail channel")
    set_alert_rules(desk, auto_resolve="true", flap_window="10m")
    [ticket_id] = ok(ingest(desk, "alert", am_payload(), now="2026-11-23T10:02:00+08:00"))
    desk.ok("accept", ticket_id, now="2026-11-23T10:03:00+08:00")
    desk.ok("assign", ticket_id, "--to", "李四", now="2026-11-23T10:04:00+08:00")
    ok(ingest(desk, "alert", am_payload("resolved"), now="2026-11-23T10:05:00+08:00"))
    flap = am_payload(starts="2026-11-23T02:11:00Z")
    assert ok(ingest(desk, "alert", flap, now="2026-11-23T10:12:00+08:00")) == [ticket_id]
    reopen = load(desk, ticket_id).events[-1]
    assert reopen.type == "reopened"
    keys = [e["key"] for e in desk.json("outbox", "list", now="2026-11-23T10:12:00+08:00")]
    assert f"{ticket_id}/{reopen.id}/reopened/李四@mail" in keys
