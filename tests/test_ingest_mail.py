"""Mail intake: committed real-format samples plus messages built on the fly."""

from __future__ import annotations

import datetime as dt
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elinkctl.errors import ElinkError
from elinkctl.ingest import (
    TRUNCATION_NOTE,
    IngestError,
    ParsedEmail,
    clean_subject,
    find_ticket_ids,
    html_to_text,
    parse_email,
)
from elinkctl.ingest.mail import decode_bytes, decode_header_value

SAMPLES = Path(__file__).parent / "samples"
CST = dt.timezone(dt.timedelta(hours=8))


def sample(name: str) -> ParsedEmail:
    return parse_email((SAMPLES / name).read_bytes())


# ---------------------------------------------------------------------------
# Committed samples
# ---------------------------------------------------------------------------


def test_gbk_quoted_printable_mislabelled_gb2312() -> None:
    mail = sample("mail_gbk_qp.eml")
    assert mail.subject == "财务系统无法登录，请尽快处理"
    assert mail.from_name == "王喆"  # 喆 is GBK-only: the label said GB2312
    assert mail.from_addr == "wangzhe@fin.example.cn"
    assert mail.to == ["servicedesk@elink.example.cn"]
    assert mail.message_id == "<202611231012454318806@fin.example.cn>"
    assert mail.in_reply_to is None and mail.references == []
    assert mail.date == dt.datetime(2026, 11, 23, 10, 12, 45, tzinfo=CST)
    assert mail.body.startswith("各位好：\n\n财务部今天上午10点起无法登录财务系统")
    assert "提示“用户名或密码错误”" in mail.body
    assert mail.body.endswith("王喆\n财务部")
    assert "\r" not in mail.body and "=\n" not in mail.body
    assert mail.attachments == [] and mail.truncated is False
    assert mail.ticket_ids == []
    assert mail.title == "财务系统无法登录，请尽快处理"


def test_html_only_base64_utf8() -> None:
    mail = sample("mail_utf8_html.eml")
    # Three encoded words (Q, Q, B) with ASCII inside; spaces between
    # adjacent words are dropped as RFC 2047 says.
    assert mail.subject == "[紧急] OA系统打印服务异常"
    assert (mail.from_name, mail.from_addr) == ("李娜", "lina@admin.example.cn")
    assert mail.cc == ["admin@admin.example.cn"]
    assert mail.body == (
        "您好，\n\n"
        "OA系统打印服务 从今天早上开始异常，所有打印任务卡在队列中。\n\n"
        "已尝试：\n\n"
        "- 重启打印机\n"
        "- 重新添加打印机 & 驱动\n\n"
        "报错信息：<Spooler error 0x0000011b>\n\n"
        "楼层 | 3F\n"
        "数量 | 2台\n\n"
        "李娜\n行政部 分机 8021"
    )


def test_html_never_leaks_script_style_or_tags() -> None:
    body = sample("mail_utf8_html.eml").body
    for leaked in (
        "<script",
        "</",
        "<div",
        "<b>",
        "alert(",
        "tracking",
        "should not appear",
        "margin",
        "内部标题",
        "&nbsp;",
        "&amp;",
        "&lt;",
        "&#",
    ):
        assert leaked not in body, leaked


def test_multipart_alternative_with_encoded_attachment_names() -> None:
    mail = sample("mail_multipart_attach.eml")
    assert mail.subject == "VPN连接频繁断开"
    assert mail.from_name == "赵磊"
    # text/plain is preferred over the HTML alternative.
    assert mail.body == "附件是今天的错误日志截图和统计表，请查收。\n\n赵磊\n信息中心"
    # RFC 2231 (utf-8) and RFC 2047-in-quotes (GB2312) names.
    assert mail.attachments == ["错误统计表-11月.xlsx", "故障截图.png"]
    assert mail.message_id == "<000001db3f2a$1c2b3d40$54619bc0$@it.example.cn>"


def test_reply_threads_to_ticket() -> None:
    mail = sample("mail_reply.eml")
    assert mail.subject == "回复: Re: [INC-261123-7KQ2M] 财务系统无法登录"
    assert mail.ticket_ids == ["INC-261123-7KQ2M"]
    assert mail.title == "[INC-261123-7KQ2M] 财务系统无法登录"
    assert mail.in_reply_to == "<INC-261123-7KQ2M.e7@elink.example.cn>"
    assert mail.references == [
        "<202611231012454318806@fin.example.cn>",
        "<INC-261123-7KQ2M.e7@elink.example.cn>",
    ]
    assert mail.from_name == "王喆"  # quoted encoded word, gb18030 label
    assert mail.body.startswith("已经可以正常登录了，谢谢！")
    assert "> 您好，认证服务证书已更新" in mail.body


def test_raw_8bit_gbk_without_charset() -> None:
    mail = sample("mail_8bit_nocharset.eml")
    assert mail.subject == "机房B区空调告警"
    assert (mail.from_name, mail.from_addr) == ("机房巡检系统", "inspect@dc.example.cn")
    assert mail.body.startswith("巡检发现：B区2号精密空调回风温度 31℃")
    # "-0000": UTC, local zone unknown — still an aware datetime.
    assert mail.date == dt.datetime(2026, 11, 25, 3, 10, tzinfo=dt.UTC)
    assert mail.message_id is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mail_malformed_binary.eml", "binary"),
        ("mail_malformed_noheaders.eml", "no From or Subject"),
    ],
)
def test_malformed_samples(name: str, message: str) -> None:
    with pytest.raises(IngestError, match=message) as info:
        parse_email((SAMPLES / name).read_bytes())
    assert isinstance(info.value, ElinkError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n", b"\x00\x01\x02garbage\xff" * 50])
def test_empty_or_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(IngestError):
        parse_email(data)


# ---------------------------------------------------------------------------
# Messages built on the fly
# ---------------------------------------------------------------------------


def build_text(
    body: str,
    charset: str,
    *,
    subtype: str = "plain",
    cte: str | None = None,
    subject: str = "测试主题",
    subject_charset: str = "utf-8",
) -> bytes:
    part = MIMEText(body, subtype, charset)
    if cte is not None:
        # Re-encode the payload with the wanted transfer encoding.
        del part["Content-Transfer-Encoding"]
        raw = body.encode(charset)
        if cte == "base64":
            import base64

            part.set_payload(base64.encodebytes(raw).decode("ascii"))
        else:
            import quopri

            part.set_payload(quopri.encodestring(raw).decode("ascii"))
        part["Content-Transfer-Encoding"] = cte
    part["Subject"] = Header(subject, subject_charset).encode()
    part["From"] = formataddr((str(Header("张三", "utf-8")), "zhangsan@example.cn"))
    part["To"] = "desk@example.cn"
    part["Date"] = "Mon, 23 Nov 2026 10:00:00 +0800"
    return part.as_bytes()


@pytest.mark.parametrize("charset", ["gb2312", "gbk", "gb18030", "utf-8"])
@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
def test_body_charsets_and_transfer_encodings(charset: str, cte: str) -> None:
    body = "打印机卡纸，无法打印。\n请派工程师到三楼。"
    mail = parse_email(build_text(body, charset, cte=cte))
    assert mail.body == body
    assert mail.from_name == "张三"


@pytest.mark.parametrize("charset", ["gb2312", "gbk", "gb18030", "utf-8", "big5"])
def test_subject_charsets(charset: str) -> None:
    subject = "網路中斷" if charset == "big5" else "网络中断，请尽快处理"
    mail = parse_email(build_text("x", "utf-8", subject=subject, subject_charset=charset))
    assert mail.subject == subject


def test_gbk_text_labelled_gb2312_in_8bit() -> None:
    raw = (
        b"From: a@example.cn\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "朱镕基 王喆 堃".encode("gbk")
    )
    assert parse_email(raw).body == "朱镕基 王喆 堃"


def test_missing_charset_tries_utf8_then_gb18030() -> None:
    head = b"From: a@example.cn\r\nSubject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    assert parse_email(head + "中文 UTF-8".encode()).body == "中文 UTF-8"
    assert parse_email(head + "中文 GBK".encode("gbk")).body == "中文 GBK"


def test_wrong_declared_charset_falls_back() -> None:
    raw = (
        b"From: a@example.cn\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + "实际是UTF-8".encode()
    )
    assert parse_email(raw).body == "实际是UTF-8"


def test_mixed_encoded_words_and_plain_text_subject() -> None:
    raw = (
        b"From: a@example.cn\r\n"
        b"Subject: Re: =?GB2312?B?sOy5q8rS?= printer =?utf-8?Q?=E6=89=93=E5=8D=B0?=\r\n"
        b"  =?utf-8?B?5aSx6LSl?=\r\n\r\nbody\r\n"
    )
    mail = parse_email(raw)
    assert mail.subject == "Re: 办公室 printer 打印失败"
    assert mail.title == "办公室 printer 打印失败"


def test_multipart_mixed_with_html_alternative_only_and_attachments() -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = formataddr((str(Header("李四", "gb2312")), "lisi@example.cn"))
    outer["Subject"] = str(Header("系统日志", "gb2312"))
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("<p>见附件&hellip;</p><script>x()</script>", "html", "gb2312"))
    outer.attach(alt)
    doc = MIMEApplication(b"%PDF-1.4", "pdf")
    doc.add_header("Content-Disposition", "attachment", filename=("gbk", "", "运维报告.pdf"))
    outer.attach(doc)
    log = MIMEText("line1\nline2", "plain", "utf-8")
    log.add_header("Content-Disposition", "attachment", filename="app.log")
    outer.attach(log)
    image = MIMEApplication(b"\x89PNG", "octet-stream")
    outer.attach(image)  # no name at all
    mail = parse_email(outer.as_bytes())
    assert mail.from_name == "李四" and mail.subject == "系统日志"
    assert mail.body == "见附件…"
    assert mail.attachments == ["运维报告.pdf", "app.log", "unnamed (application/octet-stream)"]


def test_attachment_name_with_windows_path_and_raw_8bit() -> None:
    raw = (
        b"From: a@example.cn\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="C:\\Users\\wang\\'
        + "截图.jpg".encode("gbk")
        + b'"\r\n\r\nxx\r\n--b--\r\n'
    )
    mail = parse_email(raw)
    assert mail.body == "hi"
    assert mail.attachments == ["截图.jpg"]


def test_inline_text_file_is_an_attachment_not_the_body() -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = "mac@example.cn"
    outer["Subject"] = "日志"
    outer.attach(MIMEText("日志见附件", "plain", "utf-8"))
    log = MIMEText("ERROR 1\nERROR 2", "plain", "utf-8")
    log.add_header("Content-Disposition", "inline", filename="server.log")
    outer.attach(log)
    cal = MIMEText("BEGIN:VCALENDAR", "calendar", "utf-8")
    outer.attach(cal)
    mail = parse_email(outer.as_bytes())
    assert mail.body == "日志见附件"
    # The invitation is data, not prose: named like an attachment, not lost.
    assert mail.attachments == ["server.log", "unnamed (text/calendar)"]


def test_html_document_labelled_text_plain_is_converted() -> None:
    html = "<!DOCTYPE html><html><body><p>服务器宕机</p><script>x()</script></body></html>"
    assert parse_email(build_text(html, "utf-8")).body == "服务器宕机"
    # Plain text that merely mentions a tag stays as written.
    assert parse_email(build_text("请检查 <html> 模板", "utf-8")).body == "请检查 <html> 模板"


def test_iso_2022_jp_is_not_taken_for_binary() -> None:
    text = "障害が発生しました。" * 40
    mail = parse_email(build_text(text, "iso-2022-jp"))
    assert mail.body == text


def test_forwarded_message_is_listed_as_attachment() -> None:
    inner = MIMEText("原始内容", "plain", "utf-8")
    inner["Subject"] = str(Header("原始报障", "utf-8"))
    inner["From"] = "x@example.cn"
    outer = MIMEMultipart("mixed")
    outer["From"] = "fwd@example.cn"
    outer["Subject"] = str(Header("转发: 原始报障", "utf-8"))
    outer.attach(MIMEText("请处理", "plain", "utf-8"))
    from email.mime.message import MIMEMessage

    outer.attach(MIMEMessage(inner))
    mail = parse_email(outer.as_bytes())
    assert mail.body == "请处理"
    assert mail.attachments == ["原始报障.eml"]
    assert mail.title == "原始报障"


def test_truncation_note() -> None:
    body = "日志" * 5000  # 10,000 characters
    mail = parse_email(build_text(body, "utf-8", cte="base64"), max_body=1000)
    assert mail.truncated is True
    assert mail.body == "日志" * 500 + "\n\n" + TRUNCATION_NOTE
    assert TRUNCATION_NOTE == "[…正文过长，已截断]"
    short = parse_email(build_text("短", "utf-8"), max_body=1000)
    assert short.truncated is False and short.body == "短"


def test_exactly_max_body_is_not_truncated() -> None:
    mail = parse_email(build_text("a" * 100, "utf-8"), max_body=100)
    assert not mail.truncated and mail.body == "a" * 100


def test_subject_only_or_from_only_is_accepted() -> None:
    assert parse_email(b"Subject: only\r\n\r\nbody").from_addr == ""
    mail = parse_email(b"From: only@example.cn\r\n\r\nbody")
    assert (mail.subject, mail.from_addr, mail.body) == ("", "only@example.cn", "body")


def test_bad_date_is_none_and_bad_encoded_word_kept() -> None:
    raw = b"From: a@example.cn\r\nDate: yesterday-ish\r\nSubject: =?utf-8?B?!!!?=\r\n\r\nx"
    mail = parse_email(raw)
    assert mail.date is None
    assert mail.subject  # not lost, whatever it decodes to


def test_not_bytes_is_refused() -> None:
    with pytest.raises(IngestError, match="bytes"):
        parse_email("From: a\r\n\r\n")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "ids"),
    [
        ("Re: [INC-261123-7KQ2M] 财务系统无法登录", ["INC-261123-7KQ2M"]),
        ("回复：inc-261123-7kq2m 已处理", ["INC-261123-7KQ2M"]),
        (
            "INC-261123-7KQ2M INC-261124-ABCDE inc-261123-7KQ2M",
            ["INC-261123-7KQ2M", "INC-261124-ABCDE"],
        ),
        ("【INC-261123-0Z9XY】", ["INC-261123-0Z9XY"]),
        ("INC-261123-7KQ2", []),  # too short
        ("INC-261123-7KQ2MX", []),  # too long
        ("INC-261123-7KQIM", ["INC-261123-7KQ1M"]),  # look-alikes, as domain.ids reads them
        ("inc-261123-oklm0", ["INC-261123-0K1M0"]),
        ("INC-261123-UKQ2M", []),  # U is not Crockford
        ("INC-261323-7KQ2M", []),  # month 13
        ("XINC-261123-7KQ2M", []),
        ("no id here", []),
    ],
)
def test_find_ticket_ids(subject: str, ids: list[str]) -> None:
    assert find_ticket_ids(subject) == ids


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Re: 打印机故障", "打印机故障"),
        ("RE: Re: FW: 打印机故障", "打印机故障"),
        ("回复: 答复：转发: 打印机故障", "打印机故障"),
        ("Fwd: 回复：  打印机   故障 ", "打印机 故障"),
        ("Re[2]: 打印机故障", "打印机故障"),
        ("Re: [INC-261123-7KQ2M] 财务系统", "[INC-261123-7KQ2M] 财务系统"),
        ("Reply needed: 打印机", "Reply needed: 打印机"),
        ("Report: 周报", "Report: 周报"),
    ],
)
def test_clean_subject(subject: str, clean: str) -> None:
    assert clean_subject(subject) == clean


def test_decode_bytes_fallbacks() -> None:
    assert decode_bytes("喆".encode("gbk"), "gb2312") == "喆"
    assert decode_bytes("中".encode(), "x-unknown-charset") == "中"
    assert decode_bytes("中".encode("gb18030"), None) == "中"
    # Nothing decodes: the declared charset with replacement, never an error.
    assert decode_bytes("中文".encode() + b"\xff", "utf-8") == "中文\ufffd"
    # ... unless not one multibyte character came out right: single-byte text.
    assert decode_bytes(b"caf\xe9", "utf-8") == "café"


def test_decode_header_value_plain_and_none() -> None:
    assert decode_header_value(None) == ""
    assert decode_header_value("plain  text\r\n folded") == "plain text folded"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("<ol><li>一</li><li>二</li></ol>", "- 一\n- 二"),
        ("<style>.x{}</style><script>var a='<p>';</script>ok", "ok"),
        ("x &lt;b&gt; &amp; &quot;y&quot; &#20013;&#x6587;", 'x <b> & "y" 中文'),
        ("<!-- comment --><p>t</p><!--[if mso]><p>mso</p><![endif]-->", "t"),
        ("<img src=cid:1 alt='截图'>", "[截图]"),
        ("<pre>  a\n  b</pre>", "a\nb"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


# ---------------------------------------------------------------------------
# Robustness: whatever arrives, the answer is a ParsedEmail or an IngestError
# ---------------------------------------------------------------------------

_RAW_SAMPLES = sorted(p.read_bytes() for p in SAMPLES.glob("mail_*.eml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_RAW_SAMPLES),
    cut=st.tuples(st.integers(0, 4000), st.integers(0, 4000)),
    junk=st.binary(max_size=24),
)
def test_damaged_samples_never_crash(base: bytes, cut: tuple[int, int], junk: bytes) -> None:
    start, end = sorted(c % (len(base) + 1) for c in cut)
    try:
        mail = parse_email(base[:start] + junk + base[end:], max_body=500)
    except IngestError:
        return
    assert len(mail.body) <= 500 + len(TRUNCATION_NOTE) + 2


def test_utf7_mail_subject_decoded_and_garbled_body_noted() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: Die Fr+APY-sche\r\n"
        b"Content-Type: text/plain; charset=UTF-7\r\n\r\nFr+XKM-he und f+vCA-allemal\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.subject == "Die Frösche"
    assert any("UTF-7 is garbled" in note for note in parsed.notes)
    # Outlook 2000 puts UTF-7 in a Q encoded word: the word's charset reads it.
    worded = raw.replace(b"Die Fr+APY-sche", b"=?utf-7?Q?Die_Fr+APY-sche_=28x=29?=")
    assert parse_email(worded).subject == "Die Frösche (x)"
    good = raw.replace(b"Fr+XKM-he und f+vCA-allemal", "Frösche über".encode("utf-7"))
    parsed = parse_email(good)
    assert parsed.body == "Frösche über" and not parsed.notes


def test_gbk_raw_subject_in_a_mail_labelled_iso_8859_1() -> None:
    raw = (
        b"From: a@example.cn\r\nSubject: " + "打印机坏了".encode("gbk") + b"\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nhello\r\n"
    )
    assert parse_email(raw).subject == "打印机坏了"


def test_raw_utf8_beside_encoded_words_is_no_escape_text() -> None:
    # Python's decoder turns raw characters next to encoded words into "\u62a5".
    raw = "From: a@example.cn\r\nSubject: 报修 =?utf-8?B?5pyN5Yqh?= =?utf-8?B?5Zmo?= 宕机\r\n\r\nx"
    assert parse_email(raw.encode()).subject == "报修 服务器 宕机"
