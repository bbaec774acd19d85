"""Shapes found by the second independent QA pass of #20 (unseen samples),
as constructed cases: Traditional-Chinese Outlook replies, a person's
question through a mailing list, Big5 without (or with an odd) label, HZ
and ISO-2022-CN bodies. The real samples of that pass are in tests/corpora."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from elinkctl.ingest import parse_email
from elinkctl.ingest.charsets import decode_header_bytes, decode_text
from elinkctl.ingest.quotes import reply_text
from elinkctl.services.intake import guess_type

CJK_TEXT = "您好，财务系统登录后一直转圈，无法进入报销页面。请尽快处理，谢谢。"
TW_TEXT = "您好，財務系統登入後一直轉圈，無法進入報銷頁面。請盡快處理，謝謝。"


@pytest.mark.parametrize(
    "quote",
    [
        "寄件者: 服務台 <servicedesk@example.tw>\n傳送時間: 2026年11月23日 上午 09:12\n"
        "收件者: 陳志明\n主旨: 回覆: VPN 無法連線\n\n您好，請重新開機後再試一次。",
        "-----原始郵件-----\n寄件者: 服務台\n傳送時間: 2026年11月23日\n\n您好",
        "----邮件原文----\n发件人: 服务台\n发送时间: 2026年11月23日\n\n您好",
    ],
)
def test_traditional_outlook_and_139_quotes_are_cut(quote: str) -> None:
    assert reply_text(f"各位好，已經可以連線了。\n陳志明\n\n{quote}") == (
        "各位好，已經可以連線了。\n陳志明"
    )


def _mail(subject: str, body: str, **headers: str) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "吴雷 <wulei@customer.example>"
    msg["To"] = "desk@example.com"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.mark.parametrize(
    "headers",
    [
        {"Precedence": "bulk", "List-Id": "<ops.lists.example>"},
        {"Precedence": "bulk"},
        {"Precedence": "bulk", "List-Unsubscribe": "<mailto:leave@lists.example>"},
    ],
)
def test_a_person_on_leave_asking_for_help_is_a_person(headers: dict[str, str]) -> None:
    data = _mail(
        "休假中，VPN 连不上怎么办？",
        "我现在休假在老家，VPN 一直提示 691 错误，明天要远程处理一个报表，请帮忙看看。",
        **headers,
    )
    assert parse_email(data).automatic is None


def test_an_out_of_office_notice_with_precedence_bulk_is_still_one() -> None:
    body = "您好，我正在休假，将于12月5日返回后回复您。"
    data = _mail("外出，12月5日返回", body, Precedence="bulk")
    found = parse_email(data).automatic
    assert found is not None and found.kind == "auto-reply"


def test_unlabelled_big5_is_not_read_as_gb18030() -> None:
    raw = TW_TEXT.encode("big5")
    decoded = decode_text(raw, None)
    assert (decoded.text, decoded.codec) == (TW_TEXT, "big5hkscs")
    assert decode_text(raw, "x-x-big5").text == TW_TEXT  # Outlook Express's label
    assert decode_header_bytes("財務系統無法登入".encode("big5")) == "財務系統無法登入"


def test_unlabelled_gb_text_stays_gb() -> None:
    for text in (CJK_TEXT, "打印机卡纸", "财务系统无法登录，请帮忙看看"):
        assert decode_text(text.encode("gb18030"), None).text == text
        assert decode_header_bytes(text.encode("gb18030")) == text


def test_hz_and_iso_2022_cn_bodies() -> None:
    assert decode_text(b"~{Dz:C~}", "hz-gb-2312").text == "您好"
    decoded = decode_text(b"\x1b$)A\x0eDz:C\x0f\r\nabc", "iso-2022-cn")
    assert decoded.text == "您好\r\nabc"
    # An unsupported designation (CNS 11643) is not silently garbled.
    other = decode_text(b"\x1b$)G\x0eDz\x0f", "iso-2022-cn")
    assert "Dz" in other.text or other.replaced
    # Bytes nothing decodes under that label: replaced and counted, never an exception.
    for raw in (b"\x1b$)G\x0eDz\x0f\xff\xfe", b"\x1b$)A\x0e\x7f\x7f\x0f\xff"):
        broken = decode_text(raw, "iso-2022-cn")
        assert broken.replaced >= 1 and "\ufffd" in broken.text


def test_traditional_questions_are_consultations() -> None:
    assert guess_type("諮詢：VPN 怎麼設定") == "consultation"
    assert guess_type("財務系統無法登入") == "failure"


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("[外部邮件] 打印机卡纸", "打印机卡纸"),
        ("【外部邮件】回复: 财务系统无法登录", "财务系统无法登录"),
        ("[EXTERNAL] Re: VPN down", "VPN down"),
        ("[INC-261123-ABCDE] 打印机卡纸", "[INC-261123-ABCDE] 打印机卡纸"),
        ("[外部系统] 对接失败", "[外部系统] 对接失败"),
    ],
)
def test_gateway_tags_leave_the_title(subject: str, title: str) -> None:
    from elinkctl.ingest import clean_subject

    assert clean_subject(subject) == title


def test_an_alert_title_names_its_host_once() -> None:
    import json

    from elinkctl.ingest import AlertRules, parse_alert_payload

    def title(summary: str, instance: str) -> str:
        body = {
            "version": "4",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "HighCPU", "instance": instance},
                    "annotations": {"summary": summary},
                    "startsAt": "2026-11-23T01:00:00Z",
                }
            ],
        }
        (alert,) = parse_alert_payload(json.dumps(body).encode())
        return AlertRules.from_config(None).map(alert).title

    assert title("High CPU usage on web-01", "web-01:9090") == "High CPU usage on web-01"
    assert title("CPU 使用率过高", "web-01:9090") == "CPU 使用率过高 (web-01:9090)"
