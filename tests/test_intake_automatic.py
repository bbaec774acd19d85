"""Mail no person wrote (issue #20, item 4) and the reporter's own name (item 6).

Bounces and automatic replies never become an incident or a customer's
comment; a bounce of elinkctl's own notice — sent through a real aiosmtpd
server here — is a failed delivery in the outbox, which `outbox list`, `retry`
and `drop` work on. A person's mail is never swallowed: each signal that is
not decisive alone is tested on a mail a person could really have written.
The real samples themselves run through tests/test_corpora.py
(tests/corpora/automatic/).
"""

from __future__ import annotations

import email.policy
import json
import time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from elinkctl.domain import ticketfile
from elinkctl.ingest import parse_email
from elinkctl.ingest.automail import safe_line

if TYPE_CHECKING:
    from click.testing import Result

    from conftest import Desk
    from notify_servers import ReceivedMail, SmtpServer

pytest_plugins = ["notify_servers"]

CORPUS = Path(__file__).parent / "corpora" / "automatic"
NOW = "2026-11-23T10:00:00+08:00"
REPORTER = "zhangsan@customer.example"


def at(hhmm: str) -> str:
    return f"2026-11-23T{hhmm}:00+08:00"


def mail(
    subject: str = "财务系统无法登录",
    body: str = "早上开始登录报错，请尽快处理。",
    sender: str = f"张三 <{REPORTER}>",
    **headers: str,
) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = "desk@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash((subject, body, sender)))}@customer.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def kind(data: bytes) -> str | None:
    found = parse_email(data).automatic
    return found.kind if found else None


def ingest(desk: Desk, data: bytes, now: str = NOW) -> Result:
    return desk.run("ingest", "email", user="intake", now=now, input=data)  # type: ignore[arg-type]


def notes(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# --- what is a machine, what is a person -----------------------------------------------


@pytest.mark.parametrize(
    ("headers", "subject", "sender", "expected"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: 财务系统无法登录", None, "auto-reply"),
        ({"X-Autoreply": "yes"}, "收到", None, "auto-reply"),
        ({"Precedence": "auto_reply"}, "谢谢来信", None, "auto-reply"),
        ({}, "自动回复: 财务系统无法登录", None, "auto-reply"),
        ({}, "自动答复：财务系统无法登录", None, "auto-reply"),
        ({}, "Out of Office: 财务系统无法登录", None, "auto-reply"),
        ({}, "Abwesenheitsnotiz: Login", None, "auto-reply"),
        ({"Return-Path": "<>"}, "Read: 财务系统无法登录", None, "auto-reply"),
        ({}, "任意主题", "MAILER-DAEMON@mx.customer.example", "bounce"),
        ({}, "系统退信", "Postmaster <postmaster@163.com>", "bounce"),
        ({"Return-Path": "<>"}, "Undeliverable: 周报", "Microsoft Outlook <x@y.example>", "bounce"),
        (
            {"Auto-Submitted": "auto-generated", "In-Reply-To": "<INC-261123-7KQ2M.e1.x@d>"},
            "Re: [INC-261123-7KQ2M] 您报告的事件已登记",
            "ticket-robot@customer.example",
            "auto-reply",
        ),
        ({"Precedence": "bulk"}, "休假中 / on vacation", None, "auto-reply"),
        # The shape an out-of-office subject has, with a responder's mark.
        ({"Auto-Submitted": "auto-generated"}, "外出", None, "auto-reply"),
        ({"Auto-Submitted": "auto-generated"}, "Out of Office until Monday", None, "auto-reply"),
        ({"Precedence": "junk"}, "I am on vacation", None, "auto-reply"),
        ({"Auto-Submitted": "auto-generated"}, "休假自动回复", None, "auto-reply"),
        # QQ Mail's responder marks its replies itself.
        ({"X-QQ-AUTO-REPLY": "true"}, "Qemu-devel Digest, Vol 261", None, "auto-reply"),
    ],
)
def test_decisive_signals_and_pairs_of_weak_ones(
    headers: dict[str, str], subject: str, sender: str | None, expected: str
) -> None:
    data = mail(subject=subject, sender=sender or f"张三 <{REPORTER}>", **headers)
    assert kind(data) == expected


@pytest.mark.parametrize(
    "prefix",
    [
        "Automatic reply",
        "Automatische Antwort",
        "Réponse automatique ",
        "Respuesta automática",
        "Risposta automatica",
        "Resposta automática",
        "Automatisch antwoord",
        "Automatyczna odpowiedź",
        "Automatická odpověď",
        "Automatikus válasz",
        "Automatiskt svar",
        "Automaattinen vastaus",
        "Otomatik yanıt",
        "Автоматический ответ",
        "Αυτόματη απάντηση",
        "自动回复",
        "自動回覆",
        "自動応答",
        "자동 회신",
        "תשובה אוטומטית",
        "מענה 'אני לא נמצא'",
        "Out of Office AutoReply",
    ],
)
def test_outlooks_localized_automatic_reply_prefixes(prefix: str) -> None:
    assert kind(mail(subject=f"{prefix}: 财务系统无法登录")) == "auto-reply"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Auto-Submitted": "auto-generated"}, "您好，我正在休假，将于12月5日返回后回复您。"),
        ({"Precedence": "bulk"}, "I am currently out of the office and will reply when I return."),
    ],
)
def test_an_out_of_office_text_with_a_responders_mark(headers: dict[str, str], body: str) -> None:
    assert kind(mail(subject="Re: 财务系统无法登录", body=body, **headers)) == "auto-reply"


@pytest.mark.parametrize(
    ("headers", "subject", "body", "sender"),
    [
        # An IT desk's daily work: a person writing about bounces.
        ({}, "邮件系统退信了，请帮忙看看", "发给客户的邮件退回：550 5.1.1 user unknown", None),
        ({}, "Fwd: Undeliverable: 周报", "这封退信是什么意思？", None),
        ({}, "转发: 系统退信", "帮忙看下", "李四 <postmaster@customer.example>"),
        # Mailing lists and rule-forwarded mailboxes mark people's mail too.
        ({"Precedence": "bulk", "List-Id": "<ops.lists.example>"}, "VPN 连不上", "求助", None),
        ({"X-MS-Exchange-Inbox-Rules-Loop": REPORTER}, "打印机卡纸", "三楼打印机", None),
        ({"X-Auto-Response-Suppress": "All"}, "会议室投影坏了", "请派人", None),
        # A machine's notification that is not a reply is legitimate intake.
        ({"Auto-Submitted": "auto-generated"}, "磁盘空间不足 /data 95%", "cron", None),
        ({}, "自动回复功能不能用了", "设置了自动回复但对方收不到", None),
        ({}, "打印机故障", "postmaster 也会报障", "管理员 <postmaster@customer.example>"),
        ({"Auto-Submitted": "no"}, "Re: 财务系统无法登录", "还是不行", None),
        # Out-of-office words a person writes (no responder's mark).
        ({}, "On vacation: webmail does not open on my phone", "help", None),
        ({}, "Away from office: VPN token expired", "help", None),
        ({"X-Auto-Response-Suppress": "All"}, "外出", "我正在休假，将于周一回复", None),
    ],
)
def test_a_person_is_never_swallowed(
    headers: dict[str, str], subject: str, body: str, sender: str | None
) -> None:
    data = mail(subject=subject, body=body, sender=sender or f"张三 <{REPORTER}>", **headers)
    assert kind(data) is None


# A desk's users write about leave systems and business trips, from Outlook
# (X-Auto-Response-Suppress, X-MS-Exchange-Inbox-Rules-Loop on every mail) and
# through group lists (Precedence: list). The first four are the QA's samples
# (/work/qa/failing/person-*.eml) as headers and subject; none is automatic.
OUTLOOK = {"X_Auto_Response_Suppress": "All"}
RULES = {**OUTLOOK, "X_MS_Exchange_Inbox_Rules_Loop": "servicedesk@corp.example.cn"}
LIST = {"Precedence": "list", "List_Id": "<it-help.corp.example.cn>"}


@pytest.mark.parametrize(
    ("subject", "body", "headers"),
    [
        ("休假申请提交失败", "在 OA 里提交休假申请，点提交后报错“流程引擎异常”。", RULES),
        ("休假申请提交失败", "在 OA 里提交休假申请，点提交后报错。", OUTLOOK),
        ("Vacation request form in HR portal returns error", "Submit gives HTTP 500.", OUTLOOK),
        ("外出出差时 VPN 连不上", "在酒店连 VPN 一直提示证书错误。", LIST),
        ("外出", "我在客户现场，VPN 连不上，麻烦看下。", RULES),
        (
            "Out of office until Monday",
            "but the VPN drops every minute from home",
            {**RULES, **LIST},
        ),
        ("Re: 休假中", "休假系统显示我休假中，但我已经回来上班了，请改一下。", OUTLOOK),
        ("I am on vacation and cannot reach webmail", "I am on vacation and will be back", LIST),
        ("出差中无法访问财务系统", "目前在出差，财务系统打不开，将于下周回公司。", RULES),
        ("收到", "收到，但附件打不开，请重新发送。", RULES),
        ("年假余额查询页面报错 500", "查询年假余额时报 500。", RULES),
    ],
)
def test_a_persons_mail_about_leave_or_trips_becomes_an_incident(
    desk: Desk, subject: str, body: str, headers: dict[str, str]
) -> None:
    data = mail(subject=subject, body=body, sender="张伟 <zhangwei@corp.example.cn>", **headers)
    result = ingest(desk, data)
    assert result.exit_code == 0, result.stderr
    [tid] = result.stdout.split()
    assert not any("automatic reply" in note for note in notes(result))
    title = yaml.safe_load(desk.ticket_path(tid).read_text(encoding="utf-8"))["title"]
    assert subject.removeprefix("Re: ") in title


def test_a_bounce_names_the_recipient_its_text_names() -> None:
    text = (
        b"From: Postmaster <postmaster@example.com>\r\nTo: desk@example.com\r\n"
        b"Subject: Undeliverable Mail\r\n\r\nDelivery failed 10 attempts: info@example.net\r\n"
        b"Please write to postmaster@example.com if in doubt.\r\n"
    )
    found = parse_email(text).automatic
    assert found is not None and found.kind == "bounce"
    assert found.recipients == ("info@example.net",)


def test_a_bounce_a_person_attached_is_the_persons_mail() -> None:
    bounce = (CORPUS / "gmail-dsn-failure.eml").read_bytes()
    msg = EmailMessage()
    msg["From"] = f"张三 <{REPORTER}>"
    msg["To"] = "desk@example.com"
    msg["Subject"] = "发不出去，附上退信"
    msg.set_content("请看附件")
    msg.add_attachment(bounce, maintype="message", subtype="rfc822")
    assert kind(msg.as_bytes()) is None


def dsn(
    *,
    recipient: str = REPORTER,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <zhangsan@customer.example>: User unknown",
    original: str = "Message-ID: <INC-261123-7KQ2M.e1.acknowledged@example.com>\n"
    "Subject: [INC-261123-7KQ2M] 您报告的事件已登记\nX-Elinkctl-Ticket: INC-261123-7KQ2M\n",
    blocks: int = 1,
) -> bytes:
    """A Postfix-shaped RFC 3464 report (text/rfc822-headers for the original)."""
    per = "".join(
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\nStatus: {status}\nDiagnostic-Code: {diagnostic}\n\n"
        for _ in range(blocks)
    )
    return (
        "From: MAILER-DAEMON@mx.customer.example (Mail Delivery System)\n"
        "To: desk@example.com\nSubject: Undelivered Mail Returned to Sender\n"
        "Auto-Submitted: auto-replied\nMessage-ID: <20261123.bounce@mx.customer.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThis is the mail system at host mx.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx.customer.example\n\n{per}"
        f"--B\nContent-Type: text/rfc822-headers\n\n{original}\n--B--\n"
    ).encode()


def test_a_dsn_says_who_what_and_why() -> None:
    found = parse_email(dsn()).automatic
    assert found is not None and found.kind == "bounce"
    assert found.recipients == (REPORTER,)
    assert found.status == "5.1.1"
    assert found.diagnostic == "550 5.1.1 <zhangsan@customer.example>: User unknown"
    assert found.original_message_ids == ("<INC-261123-7KQ2M.e1.acknowledged@example.com>",)
    assert found.original_subject == "[INC-261123-7KQ2M] 您报告的事件已登记"
    assert found.original_ticket == "INC-261123-7KQ2M"


def test_a_delayed_or_delivered_dsn_is_no_failure() -> None:
    delayed = parse_email(dsn(action="delayed", status="4.4.1")).automatic
    assert delayed is not None and delayed.kind == "delayed"
    assert parse_email(dsn(action="delivered", status="2.0.0")).automatic.kind == "delivered"  # type: ignore[union-attr]


def test_bounce_text_is_untrusted_one_bounded_line() -> None:
    nasty = (
        "smtp; 550 5.1.1 see https://mx.example/help?token=SECRET123 \x1b[31mred\x07 " + "x" * 500
    )
    found = parse_email(dsn(diagnostic=nasty)).automatic
    assert found is not None
    assert "SECRET123" not in found.diagnostic and "/help" not in found.diagnostic
    assert "mx.example" in found.diagnostic
    assert "\x1b" not in found.diagnostic and "\x07" not in found.diagnostic
    assert len(found.diagnostic) <= 160
    assert safe_line("a\nb\rc\u0085d") == "a b c d"
    assert safe_line("user\u202eevil\u200b") == "user evil"


def test_a_hostile_report_stays_fast_and_bounded() -> None:
    data = dsn(blocks=450)
    start = time.perf_counter()
    found = parse_email(data).automatic
    assert time.perf_counter() - start < 2
    assert found is not None and len(found.recipients) == 1  # the same address, once


def test_a_read_receipt_is_automatic() -> None:
    receipt = (
        "From: 张三 <zhangsan@customer.example>\nTo: desk@example.com\n"
        "Subject: 已读: [INC-261123-7KQ2M] 您报告的事件已登记\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="R"\n\n'
        "--R\nContent-Type: text/plain; charset=utf-8\n\n您的邮件已被阅读。\n"
        "--R\nContent-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822; zhangsan@customer.example\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\n--R--\n"
    ).encode()
    found = parse_email(receipt).automatic
    assert found is not None and found.kind == "auto-reply" and "read receipt" in found.reason


@pytest.mark.parametrize(
    "body",
    [
        "x@" + "a." * 30000 + "1",
        ("a" * 64 + "@") * 900,
        "<" + "a" * 64 + "@" + "b-" * 30000 + ">:",
        "Message-ID: " + "<" * 60000,
        "收件人：" * 20000,
        "5.1.1 550 x" * 100000,
    ],
    ids=["dots", "ats", "dashes", "brackets", "labels", "codes"],
)
def test_hostile_bounce_text_is_cheap(body: str) -> None:
    data = f"From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n{body}\n".encode()
    start = time.perf_counter()
    found = parse_email(data).automatic
    assert time.perf_counter() - start < 1
    assert found is not None and found.kind == "bounce"
    assert len(found.diagnostic) <= 160 and len(found.recipients) <= 20


# --- through the CLI: nothing written -----------------------------------------------


def test_a_bounce_of_someone_elses_mail_writes_nothing(desk: Desk) -> None:
    before = desk.commit_count()
    result = ingest(desk, (CORPUS / "gmail-dsn-failure.eml").read_bytes())
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert desk.commit_count() == before
    [note] = notes(result)
    assert note.startswith("note: a bounce") and "userunknown@example.jp" in note


def test_an_auto_reply_about_an_incident_is_not_a_comment(desk: Desk) -> None:
    [tid] = ingest(desk, mail()).stdout.split()
    before = desk.commit_count()
    reply = mail(
        subject=f"自动回复: [{tid}] 您报告的事件已登记",
        body="我正在休假，11 月 30 日回来。",
    )
    result = ingest(desk, reply, now=at("10:30"))
    assert result.exit_code == 0 and result.stdout == ""
    [note] = notes(result)
    assert f"an automatic reply to a mail about {tid}" in note
    assert desk.commit_count() == before
    ticket = ticketfile.loads(desk.ticket_path(tid).read_text(encoding="utf-8"))
    assert [e.type for e in ticket.events] == ["created"]


# --- a notice of ours bounces: the outbox ---------------------------------------------


def configure(desk: Desk, smtp: SmtpServer) -> None:
    path = desk.root / "escalation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["roles"] = {"desk": ["desk-wang"], "l1": ["李四"], "l2": [], "vendor": [], "pm": []}
    data["roles"]["management"] = []
    data["people"] = {
        "desk-wang": {"email": "wang@example.com"},
        "李四": {"email": "lisi@example.com"},
    }
    data["channels"] = {"mail": smtp.channel()}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    desk.git("commit", "-q", "-m", "mail channel", "--", "escalation.yaml")


def outbox(desk: Desk, now: str) -> list[dict[str, Any]]:
    result = desk.ok("outbox", "list", "--json", now=now)
    return list(json.loads(result.stdout))


def bounce_of(sent: ReceivedMail, recipient: str, status: str = "5.1.1") -> bytes:
    """What the recipient's server returns: the report and our mail's headers."""
    head = sent.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("ascii")
    return dsn(
        recipient=recipient,
        status=status,
        diagnostic=f"smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown",
        original=head.replace("\r\n", "\n") + "\n",
    )


def test_a_bounced_notice_is_a_failed_delivery_in_the_outbox(
    desk: Desk, smtp_server: SmtpServer
) -> None:
    configure(desk, smtp_server)
    [tid] = ingest(desk, mail()).stdout.split()
    desk.ok("check", now=at("10:01"))
    [ack] = [m for m in smtp_server.mails if REPORTER in m.rcpt_tos]
    assert str(ack.message["Message-ID"]).startswith(f"<{tid}.")
    [item] = [i for i in outbox(desk, at("10:02")) if "/reporter@" in i["key"]]
    assert item["state"] == "delivered"

    before = desk.commit_count()
    bounce = bounce_of(ack, REPORTER)
    result = ingest(desk, bounce, now=at("10:05"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert desk.commit_count() == before  # nothing in the ticket store
    [note] = notes(result)
    assert f"bounce of the notice to {REPORTER} about {tid}" in note
    assert "5.1.1" in note and "recorded as failed in the outbox" in note
    [failed] = [i for i in outbox(desk, at("10:06")) if i["key"] == item["key"]]
    assert failed["state"] == "failed"
    assert failed["last_error"].startswith("bounced: 5.1.1 550 5.1.1")
    listed = desk.ok("outbox", "list", now=at("10:06")).stdout
    assert "bounced: 5.1.1" in listed

    again = ingest(desk, bounce, now=at("10:07"))  # the MTA delivers it twice
    assert again.exit_code == 0 and again.stdout == ""
    [note] = notes(again)
    assert "already recorded as failed" in note
    assert desk.commit_count() == before

    # Our own notice piped back into the intake (a people: entry naming the
    # desk's mailbox): a loop, not a comment of the reporter.
    looped = ingest(desk, ack.raw, now=at("10:08"))
    assert looped.exit_code == 0 and looped.stdout == ""
    [note] = notes(looped)
    assert f"one of elinkctl's own notices ({tid}) came back" in note
    assert desk.commit_count() == before

    # The address is fixed at the customer's side: one more try, delivered.
    desk.ok("outbox", "retry", item["key"], now=at("10:30"))
    assert len([m for m in smtp_server.mails if REPORTER in m.rcpt_tos]) == 2
    [retried] = [i for i in outbox(desk, at("10:31")) if i["key"] == item["key"]]
    assert retried["state"] == "delivered"


def test_a_bounced_staff_notice_is_found_by_address_and_incident_and_can_be_dropped(
    desk: Desk, smtp_server: SmtpServer
) -> None:
    configure(desk, smtp_server)
    tid = desk.new(now=NOW, priority="P3")
    desk.ok("accept", tid, now=at("10:01"))
    desk.ok("assign", tid, "--to", "李四", now=at("10:02"))
    desk.ok("check", now=at("10:03"))
    [sent] = [m for m in smtp_server.mails if "lisi@example.com" in m.rcpt_tos]
    assert tid in sent.subject
    keys = [i["key"] for i in outbox(desk, at("10:04")) if i["recipient"] == "lisi@example.com"]
    assert keys
    # A qmail-style text bounce: no DSN part, the original quoted below.
    head = sent.raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n", "\n")
    text = (
        "From: MAILER-DAEMON@example.com\nTo: desk@example.com\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at example.com.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<lisi@example.com>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        f"--- Below this line is a copy of the message.\n\n{head}\n\n(body)\n"
    ).encode()
    result = ingest(desk, text, now=at("10:10"))
    assert result.exit_code == 0 and result.stdout == ""
    [note] = notes(result)
    assert f"bounce of the notice to lisi@example.com about {tid}" in note
    states = {i["key"]: i for i in outbox(desk, at("10:11"))}
    assert all(states[k]["state"] == "failed" for k in keys)
    assert states[keys[0]]["last_error"].startswith("bounced: 5.1.1")
    desk.ok("outbox", "drop", keys[0], "--reason", "李四已离职", now=at("10:20"))
    dropped = {i["key"]: i for i in outbox(desk, at("10:21"))}[keys[0]]
    assert dropped["last_error"].startswith("dropped: 李四已离职")


def test_an_out_of_office_never_answers_our_question(desk: Desk, smtp_server: SmtpServer) -> None:
    configure(desk, smtp_server)
    [tid] = ingest(desk, mail()).stdout.split()
    desk.ok("accept", tid, now=at("10:01"))
    desk.ok("resolve", tid, "--solution", "重置了密码", now=at("10:30"))
    desk.ok("check", now=at("10:31"))
    ask = [m for m in smtp_server.mails if REPORTER in m.rcpt_tos][-1]
    oof = EmailMessage(policy=email.policy.SMTP)
    oof["From"] = f"张三 <{REPORTER}>"
    oof["To"] = "desk@example.com"
    oof["Subject"] = "自动答复: " + ask.subject
    oof["In-Reply-To"] = str(ask.message["Message-ID"])
    oof["Auto-Submitted"] = "auto-replied"
    oof.set_content("已解决的事项请找李四，我休假到下周。")  # reads like a confirmation
    result = ingest(desk, oof.as_bytes(), now=at("10:40"))
    assert result.exit_code == 0 and result.stdout == ""
    assert f"about {tid}" in result.stderr
    ticket = ticketfile.loads(desk.ticket_path(tid).read_text(encoding="utf-8"))
    assert not [e for e in ticket.events if e.type in ("confirmed", "commented")]


# --- item 6: the mail's own display name -----------------------------------------------


def test_the_mails_display_name_wins_over_the_known_reporter(desk: Desk) -> None:
    [first] = ingest(desk, mail(sender=f"张三 <{REPORTER}>")).stdout.split()
    desk.ok("edit", first, "--phone", "13800138000", "--dept", "财务部", now=at("10:05"))
    renamed = mail(subject="报销单无法提交", sender=f"张三丰 <{REPORTER.upper()}>")
    [second] = ingest(desk, renamed, now=at("11:00")).stdout.split()
    reporter = ticketfile.loads(desk.ticket_path(second).read_text(encoding="utf-8")).fields[
        "reporter"
    ]
    assert reporter == {"name": "张三丰", "phone": "13800138000", "department": "财务部"}
    bare = mail(subject="打印机卡纸", sender=REPORTER)
    [third] = ingest(desk, bare, now=at("12:00")).stdout.split()
    reporter = ticketfile.loads(desk.ticket_path(third).read_text(encoding="utf-8")).fields[
        "reporter"
    ]
    assert reporter["name"] == "张三丰"  # an address-only From keeps the name the desk knew
    quoted = mail(subject="VPN 断线", sender=f'"{REPORTER}" <{REPORTER}>')
    [fourth] = ingest(desk, quoted, now=at("13:00")).stdout.split()
    reporter = ticketfile.loads(desk.ticket_path(fourth).read_text(encoding="utf-8")).fields[
        "reporter"
    ]
    assert reporter["name"] == "张三丰"  # the address as display name is no name
