"""Mail text as it really arrives (issue #20, item 5): charsets, broken MIME, quotes.

The real samples themselves run through the CLI in tests/corpora/mail/
(tests/test_corpora.py). Here: the parsing functions one by one, the shapes
for which no public .eml was found (Windows' UTF-16 labels, Mail Master's
quote table, 163/Foxmail attributions — their shapes as public reply
parsers document them), and hostile variants of the repairs.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elinkctl.cli import cli
from elinkctl.ingest import IngestError, parse_email
from elinkctl.ingest.charsets import codec_for, decode_header_bytes, decode_text, plausible_gb
from elinkctl.ingest.html import html_to_text
from elinkctl.ingest.mimefix import (
    escape_raw_qwords,
    find_boundary,
    lenient_words,
    prefer_multipart_type,
    repair_multipart,
)
from elinkctl.ingest.quotes import reply_text

CORPUS = Path(__file__).parent / "corpora" / "mail"
NOW = "2026-11-23T10:00:00+08:00"
FROM = "From: a@example.cn\n"


def mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


# ---------------------------------------------------------------------------
# Charset labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("unicodebig", "utf-16-be"),
        ("UnicodeBigUnmarked", "utf-16-be"),
        ("unicode", "utf-16-le"),
        ("unicodelittle", "utf-16-le"),
        ("unicode-1-1-utf-8", "utf-8"),
        ('"utf-8\\"', "utf-8"),
        ("charset=gbk;", "gb18030"),
        (" GB2312 ", "gb18030"),
        ("big5", "big5hkscs"),
        ("ks_c_5601-1987", "cp949"),
        ("Shift_JIS", "cp932"),
        ("iso-8859-1", "cp1252"),
        ("x-unknown", None),
        ("us-ascii", None),
        ("no-such-charset", None),
        ("", None),
        (None, None),
    ],
)
def test_codec_for_real_labels(label: str | None, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_bom_wins_without_a_label() -> None:
    for raw in (
        "服务器宕机".encode("utf-8-sig"),
        "服务器宕机".encode("utf-16"),
        "服务器宕机".encode("utf-32"),
    ):
        decoded = decode_text(raw)
        assert decoded.text == "服务器宕机" and decoded.how == "bom"


def test_windows_utf16_labels() -> None:
    assert decode_text("打印机坏了".encode("utf-16-be"), "unicodebig").text == "打印机坏了"
    assert decode_text("打印机坏了".encode("utf-16-le"), "unicode").text == "打印机坏了"
    # A UTF-16 label on text that has no NUL byte but is UTF-8: the label lied.
    assert decode_text("打印机坏了".encode(), "unicode").text == "打印机坏了"
    assert decode_text(b"printer down", "unicode").text == "printer down"


def test_wrong_label_with_a_correct_meta() -> None:
    html = (
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        "<p>财务系统无法登录</p>"
    )
    raw = html.encode("gbk")
    # UTF-8 label: does not decode strictly, the meta does.
    assert decode_text(raw, "utf-8", html=True).how == "meta"
    assert "财务系统无法登录" in decode_text(raw, "utf-8", html=True).text
    # Latin-1 label: decodes anything, so the multibyte meta is believed.
    assert "财务系统无法登录" in decode_text(raw, "iso-8859-1", html=True).text
    # QQ Mail's real shape: charset="ISO-8859-1" on HTML with <meta charset=GB18030>.
    qq = '<meta http-equiv="Content-Type" content="text/html; charset=GB18030"><div>已处理</div>'
    assert "已处理" in decode_text(qq.encode("gb18030"), "ISO-8859-1", html=True).text


def test_utf8_under_a_multibyte_label() -> None:
    # A web form's UTF-8 under its page's gb2312: three or more characters decide.
    assert decode_text("服务器宕机了".encode(), "gb2312").text == "服务器宕机了"
    # Two GBK characters that happen to be valid UTF-8 stay GBK ("联通").
    assert decode_text("联通".encode("gbk"), "gb2312").text == "联通"


def test_single_byte_label_on_utf8_text() -> None:
    assert decode_text("Grüße".encode(), "iso-8859-1").text == "Grüße"


def test_replacement_is_counted_never_silent() -> None:
    decoded = decode_text("中文".encode() + b"\xff" + "乱码".encode(), "utf-8")
    assert decoded.text == "中文\ufffd乱码" and decoded.replaced == 1


def test_raw_header_bytes_follow_the_declared_charset() -> None:
    raw = "養樂多線上訂購".encode("big5")
    assert decode_header_bytes(raw, ["big5hkscs"]) == "養樂多線上訂購"
    # What the issue saw was GB18030's reading; without any declared charset the
    # Big5 reading wins on its own too (charsets.big5_rather_than_gb).
    assert decode_header_bytes(raw) == "養樂多線上訂購"
    assert decode_header_bytes("障害報告".encode("cp932"), ["cp932"]) == "障害報告"
    assert decode_header_bytes("서버 장애".encode("cp949"), ["cp949"]) == "서버 장애"
    # UTF-8 beats a single-byte declared charset; a UTF-16 label is ignored.
    assert decode_header_bytes("报修".encode(), ["cp1252"]) == "报修"
    assert decode_header_bytes("报修".encode("gbk"), ["utf-16-le"]) == "报修"


@pytest.mark.parametrize(
    "latin",
    ["Die Hasen und die Frösche", "Det här är ett", "Formação Verão", "Grüße aus München", "año"],
)
def test_latin1_read_as_gb18030_is_not_plausible(latin: str) -> None:
    assert not plausible_gb(latin.encode("cp1252").decode("gb18030"))


@pytest.mark.parametrize(
    "chinese",
    ["服务器宕机", "财务系统登录失败", "u盾", "c盘满了", "報價單.pdf", "张喆", "VPN连不上"],
)
def test_chinese_read_as_gb18030_is_plausible(chinese: str) -> None:
    assert plausible_gb(chinese.encode("gbk").decode("gb18030"))


def test_raw_latin1_header_beside_a_single_byte_charset() -> None:
    raw = "Die Hasen und die Frösche".encode("latin-1")
    assert decode_header_bytes(raw, ["cp1252"]) == "Die Hasen und die Frösche"
    # No charset declared at all: still not "Forma玢o … Ver鉶".
    assert decode_header_bytes("Formação Verão".encode("latin-1")) == "Formação Verão"
    # Chinese clients label GBK mail ISO-8859-1: readable Chinese wins.
    assert decode_header_bytes("服务器宕机".encode("gbk"), ["cp1252"]) == "服务器宕机"


def test_latin1_under_a_utf8_label_is_windows_1252_not_gb18030() -> None:
    decoded = decode_text("Det här är ett meddelande".encode("latin-1"), "utf-8")
    assert decoded.text == "Det här är ett meddelande" and decoded.how == "single-byte"
    # GBK under a utf-8 label stays GB18030, and the caller is told.
    decoded = decode_text("服务器宕机了，请处理".encode("gbk"), "utf-8")
    assert decoded.text == "服务器宕机了，请处理" and decoded.mislabelled


def test_encoded_word_repairs() -> None:
    assert (
        escape_raw_qwords(b"=?iso-8859-1?Q?Fr\xf6sche?= \xf6") == b"=?iso-8859-1?Q?Fr=F6sche?= \xf6"
    )
    # A B word that lost its first base64 characters: the best alignment.
    word = base64.b64encode("xxčtování.pdf".encode()).decode()[3:]
    text, lost = lenient_words(f"=?UTF-8?B?{word}?=")
    assert text.endswith("tování.pdf") and lost <= 1
    # Junk that decodes to junk is kept as written, and counted.
    assert lenient_words("=?utf-8?B?AAAA?=") == ("=?utf-8?B?AAAA?=", 1)


def test_two_content_types_prefer_the_multipart_the_body_uses() -> None:
    head = "Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=b1\n"
    raw = (head + "\nhi\n--b1\nContent-Type: text/plain\n\nx\n--b1--\n").encode()
    fixed = prefer_multipart_type(raw)
    assert fixed is not None and b"text/plain\nContent-Type: multipart" not in fixed
    assert prefer_multipart_type(raw.replace(b"--b1", b"--b2")) is None
    assert prefer_multipart_type(b"Content-Type: text/plain\n\nhi") is None


# ---------------------------------------------------------------------------
# Whole messages
# ---------------------------------------------------------------------------


def test_big5_raw_subject_and_from_name() -> None:
    raw = mail(
        "From: @FROM@\nSubject: @SUBJECT@\nContent-Type: text/plain; charset=big5\n"
        "Content-Transfer-Encoding: 8bit\n",
        "請問訂單何時出貨".encode("big5"),
    )
    raw = raw.replace(b"@FROM@", "王小明 <wang@example.tw>".encode("big5"))
    raw = raw.replace(b"@SUBJECT@", "養樂多線上訂購".encode("big5"))
    parsed = parse_email(raw)
    assert parsed.subject == "養樂多線上訂購"
    assert parsed.from_name == "王小明"
    assert parsed.body == "請問訂單何時出貨"
    assert parsed.notes == ()


def test_shift_jis_raw_subject_in_multipart() -> None:
    body = (
        b'--b\r\nContent-Type: text/plain; charset="Shift_JIS"\r\n\r\n'
        + "サーバーが停止しました".encode("cp932")
        + b"\r\n--b--\r\n"
    )
    raw = mail(
        'From: a@example.jp\nSubject: @S@\nContent-Type: multipart/mixed; boundary="b"\n', body
    )
    raw = raw.replace(b"@S@", "障害報告".encode("cp932"))
    parsed = parse_email(raw)
    assert parsed.subject == "障害報告" and parsed.body == "サーバーが停止しました"


def test_raw_iso_2022_jp_subject() -> None:
    subject = "障害報告".encode("iso2022_jp")
    raw = mail(FROM + "Subject: @S@\nContent-Type: text/plain; charset=iso-2022-jp\n", subject)
    raw = raw.replace(b"@S@", subject)
    parsed = parse_email(raw)
    assert parsed.subject == "障害報告" and parsed.body == "障害報告"


def test_unicodebig_base64_part() -> None:
    payload = base64.encodebytes("数据库连接超时".encode("utf-16-be")).replace(b"\n", b"\r\n")
    raw = mail(
        "From: a@example.cn\nSubject: db\nContent-Type: text/plain; charset=unicodebig\n"
        "Content-Transfer-Encoding: base64\n",
        payload,
    )
    parsed = parse_email(raw)
    assert parsed.body == "数据库连接超时" and "\ufffd" not in parsed.body


def test_damaged_plain_alternative_yields_to_clean_html() -> None:
    plain = "系统无法登录".encode("gbk")[:-1]  # one byte short: no decoder reads it whole
    html = '<meta charset="gbk"><p>系统无法登录</p>'.encode("gbk")
    body = (
        b'--a\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n'
        + plain
        + b'\r\n--a\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n'
        + html
        + b"\r\n--a--\r\n"
    )
    raw = mail(
        "From: a@example.cn\nSubject: x\nContent-Type: multipart/alternative; boundary=a\n", body
    )
    parsed = parse_email(raw)
    assert parsed.body == "系统无法登录" and parsed.notes == ()


def test_undecodable_text_is_kept_with_a_note() -> None:
    raw = mail(
        "From: a@example.cn\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n",
        "无法登录".encode() + b"\xff\xfe" + "请处理".encode(),
    )
    parsed = parse_email(raw)
    assert "无法登录" in parsed.body and "请处理" in parsed.body
    assert len(parsed.notes) == 1 and "could not be decoded" in parsed.notes[0]


def test_text_in_the_preamble_is_kept_when_the_parts_hold_none() -> None:
    body = (
        b"This is a multi-part message in MIME format.\r\n"
        b"The VPN drops every ten minutes.\r\n\r\n"
        b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"iVBORw0K\r\n--b--\r\n"
    )
    raw = mail(
        "From: a@example.cn\nSubject: vpn\nContent-Type: multipart/mixed; boundary=b\n", body
    )
    parsed = parse_email(raw)
    assert parsed.body == "The VPN drops every ten minutes."
    assert parsed.attachments == ["unnamed (image/png)"]
    assert any("before its first part" in n for n in parsed.notes)


def test_related_with_the_image_first_keeps_the_html() -> None:
    body = (
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n"
        b"--r\r\nContent-Type: text/html; charset=utf-8\r\nContent-ID: <doc>\r\n\r\n"
        + "<p>见截图：报错 0x80070005</p><img src=cid:img1>".encode()
        + b"\r\n--r--\r\n"
    )
    related = "Subject: s\nContent-Type: multipart/related; boundary=r"
    raw = mail(FROM + related + "; start=<doc>\n", body)
    assert parse_email(raw).body == "见截图：报错 0x80070005"
    raw = mail(FROM + related + "\n", body)
    assert parse_email(raw).body == "见截图：报错 0x80070005"


def test_text_enriched_loses_its_commands() -> None:
    raw = mail(
        FROM + "Subject: x\nContent-Type: text/enriched\n",
        b"<bold>Now</bold> is the time, a <<b <italic>x</italic>\r\n",
    )
    assert parse_email(raw).body == "Now is the time, a <b x"


def test_a_stub_plain_alternative_yields_to_the_html_message() -> None:
    stub = "此邮件为HTML格式，请使用支持HTML的客户端查看".encode()
    html = ("<p>OA系统今晚22:00至次日02:00停机维护，期间无法审批。</p>" * 4).encode()
    body = (
        b'--a\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n'
        + stub
        + b'\r\n--a\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n'
        + html
        + b"\r\n--a--\r\n"
    )
    raw = mail(FROM + "Subject: x\nContent-Type: multipart/alternative; boundary=a\n", body)
    assert "停机维护" in parse_email(raw).body
    # The same text in both: the plain one, as the sender's client wrote it.
    same = body.replace(stub, "OA系统今晚停机".encode()).replace(
        html, "<p>OA系统今晚停机</p>".encode()
    )
    assert (
        parse_email(
            mail(FROM + "Subject: x\nContent-Type: multipart/alternative; boundary=a\n", same)
        ).body
        == "OA系统今晚停机"
    )


def test_raw_8bit_file_name_in_the_declared_charset() -> None:
    body = (
        b'--m\r\nContent-Type: text/plain; charset="big5"\r\n\r\n'
        + "請見附件".encode("big5")
        + b'\r\n--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="'
        + "報價單.pdf".encode("big5")
        + b'"\r\n\r\nJVBERi0=\r\n--m--\r\n'
    )
    parsed = parse_email(
        mail(FROM + "Subject: q\nContent-Type: multipart/mixed; boundary=m\n", body)
    )
    assert parsed.attachments == ["報價單.pdf"]


def test_standard_preamble_alone_is_not_text() -> None:
    body = (
        b"This is a multi-part message in MIME format.\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    raw = mail("From: a@example.cn\nSubject: s\nContent-Type: multipart/mixed; boundary=b\n", body)
    parsed = parse_email(raw)
    assert parsed.body == "hello" and parsed.notes == ()


def test_broken_multipart_with_html_text_is_read_as_html() -> None:
    raw = mail(
        "From: a@example.cn\nSubject: s\nContent-Type: multipart/alternative\n",
        b"<html><body><p>Printer <b>jammed</b></p><div>floor 3</div></body></html>",
    )
    parsed = parse_email(raw)
    assert parsed.body == "Printer jammed\n\nfloor 3"
    assert "no boundary" in parsed.notes[0]


def test_find_boundary_needs_a_mime_header_after_the_line() -> None:
    assert find_boundary(b"--abc\r\nContent-Type: text/plain\r\n\r\nx\r\n--abc--") == b"abc"
    assert find_boundary(b"text\n-- \nsignature\n--------\nmore") is None
    assert repair_multipart("multipart/mixed", b"no parts here") is None


def test_nested_broken_multiparts_stay_bounded() -> None:
    # Every level claims a boundary that never occurs and shows another one.
    inner = b"Content-Type: text/plain\n\nbottom text\n"
    for level in range(30):
        inner = (
            f"--L{level}\nContent-Type: multipart/mixed; boundary=nope{level}\n\n".encode()
            + inner
            + f"--L{level}--\n".encode()
        )
    raw = mail(
        "From: a@example.cn\nSubject: deep\nContent-Type: multipart/mixed; boundary=x\n", inner
    )
    start = time.perf_counter()
    try:
        parsed = parse_email(raw)
    except Exception as exc:  # a clean refusal is fine; a traceback type is not
        assert type(exc).__name__ == "IngestError"
    else:
        assert parsed.body  # the text is kept somehow, with notes
        assert parsed.notes
    assert time.perf_counter() - start < 5


_CORPUS_SAMPLES = sorted(p.read_bytes() for p in CORPUS.glob("*.eml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_CORPUS_SAMPLES),
    cut=st.tuples(st.integers(0, 6000), st.integers(0, 6000)),
    junk=st.sampled_from([b"", b"\x80", b"\xff\xfe", b"--", b"\r\n--", b'"', b"\r\n\r\n"])
    | st.binary(max_size=16),
)
def test_damaged_real_samples_never_crash(base: bytes, cut: tuple[int, int], junk: bytes) -> None:
    """The real samples, cut and spliced with junk: a ParsedEmail or one IngestError."""
    start, end = sorted(c % (len(base) + 1) for c in cut)
    try:
        parsed = parse_email(base[:start] + junk + base[end:])
    except IngestError:
        return
    assert all(isinstance(n, str) and "\n" not in n for n in parsed.notes)


# ---------------------------------------------------------------------------
# Broken HTML
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<html><head><title>t</title><body><p>机房断电</p></body></html>", "机房断电"),
        ("<html><head><meta charset=utf-8><div>机房断电</div>", "机房断电"),
        ("<head><style>p{}</style>机房断电", "机房断电"),
        ("<html><head><title>报修<body><p>机房断电</p>", "机房断电"),
        ("<style>p { color: red }<p>机房断电</p>", "机房断电"),
        ("<script>var a = 1;<div>机房断电</div>", "机房断电"),
        ("<p>a</p><script>if (a<b) {}</script><p>机房断电</p>", "a\n\n机房断电"),
    ],
)
def test_broken_html_keeps_its_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_a_tag_cut_off_is_markup_a_bare_angle_is_text() -> None:
    # A truncated quoted-printable line leaves '<a href="http://…' with no '>'.
    assert html_to_text('<p>text <a href="http://x.example</body></html>') == "text"
    assert html_to_text('x <a href="y') == "x"
    assert html_to_text("<p>if a<b then</p>") == "if a<b then"


@pytest.mark.parametrize("unit", ["<p ", '<a href="', "<!--", "<style ", "</", "<p a="])
def test_hostile_html_is_linear(unit: str) -> None:
    # Python's HTMLParser alone takes seconds for 10,000 unterminated tags.
    start = time.perf_counter()
    html_to_text(unit * 50_000)
    assert time.perf_counter() - start < 3


@pytest.mark.parametrize(
    "body",
    [
        "-" * 60_000,
        "a\n写道" + " " * 30_000 + "x",
        "a\nwrote:" + " " * 30_000 + "x",
        "-- 由" * 20_000,
    ],
)
def test_hostile_quotes_are_linear(body: str) -> None:
    start = time.perf_counter()
    reply_text(body)
    assert time.perf_counter() - start < 2


def test_head_content_is_still_skipped() -> None:
    markup = "<html><head><title>Title</title><style>b{}</style></head><body>正文</body></html>"
    assert html_to_text(markup) == "正文"


# ---------------------------------------------------------------------------
# Quote markers
# ---------------------------------------------------------------------------

# Shapes as public reply parsers record them (see the module docstring).
MAIL_MASTER_PLAIN = (
    "已修复，请再试\n\n---- 回复的原邮件 ----\n| 发件人 | IT服务台<desk@example.cn> |\n"
    "| 日期 | 2026年11月23日 10:05 |\n| 收件人 | 张三<a@example.cn> |\n"
    "| 主题 | [INC-261123-7KQ2M] 无法登录 |\n"
    "您好，请确认是否恢复"
)
MAIL_MASTER_FLAT = (
    "已读 ---- 回复的原邮件 ---- 发件人 Student Name <you@example.edu> "
    "发送日期 2026年09月21日 18:46 主题 日报"
)


@pytest.mark.parametrize(
    ("body", "new"),
    [
        (MAIL_MASTER_PLAIN, "已修复，请再试"),
        (MAIL_MASTER_FLAT, "已读"),
        ("收到\n\n-----邮件原件-----\n发件人: IT服务台\n发送时间: 2026年11月23日 10:05", "收到"),
        ("好的\n\n在 2026-08-29，muamuauh 写道：\n请确认", "好的"),
        ('好的\n\n在 2026年11月23日 10:05，"张三"<a@b.c> 写道：\n> 请确认', "好的"),
        ("好的\n\n张三 于 2026-11-23 10:05 写道：\n请确认", "好的"),
        ("好的\n\n2019年7月2日 上午2:59，冯伟 <f@example.com> 写道：\n\n> 请确认", "好的"),
        ('好的\n\nAt 2019-07-04 11:20:38, "冯伟" <f@example.com> wrote:\n> 请确认', "好的"),
        ("好的\n\n在2026年8月13日星期四 UTC+8 00:19:19<a@example.com> 写道：\n> x", "好的"),
        ("好的\n\n张三 <a@b.c> 于2026年11月23日周一 上午10:05写道：\n> 请确认", "好的"),
        (
            "好的\n\nOn Mon, Nov 23, 2026 at 10:05 AM IT服务台 <\ndesk@example.cn> wrote:\n> x",
            "好的",
        ),
        ("已恢复\n\n------------------ Original ------------------\nFrom: desk", "已恢复"),
        (
            "已恢复\n------------------&nbsp;原始邮件&nbsp;------------------".replace(
                "&nbsp;", "\xa0"
            ),
            "已恢复",
        ),
        ("已恢复\n\n*发件人:* IT服务台\n*发送时间:* 2026年11月23日\n*主题:* x", "已恢复"),
        ("转给你们\n\n----- 转发者 张三/IT/Example 于 2026-11-23 10:05 -----\n原文", "转给你们"),
        ("收到\n\n发件人 | IT服务台\n时间 | 2026年11月23日\n主题 | 报修", "收到"),
        (
            "收到，谢谢\n\n________________________________\n发件人: IT服务台 <d@x.cn>\n"
            "发送时间: 2026年11月23日 10:05\n收件人: a\n主题: x\n\nold",
            "收到，谢谢",
        ),
    ],
)
def test_reply_text_cuts_at_chinese_clients_markers(body: str, new: str) -> None:
    assert reply_text(body) == new


@pytest.mark.parametrize(
    "body",
    [
        "我在报告里写道：\n数据库连接超时",
        "In 2019 the vendor wrote:\nno fix planned",
        "From now on\nto be safe we restart nightly",
        "发件人填错了，\n请忽略上一封",
        "分隔线 ---- 下面是日志 ----\nERROR 1",
    ],
)
def test_reply_text_keeps_prose_that_only_looks_like_a_marker(body: str) -> None:
    assert reply_text(body) == body


def test_interleaved_reply_keeps_the_answers() -> None:
    body = "在 2026/11/23 9:57, 张三 写道:\n> 能否重启？\n\n已经重启，恢复了。\n\n> 谢谢"
    assert reply_text(body) == "已经重启，恢复了。"


# ---------------------------------------------------------------------------
# Through the CLI
# ---------------------------------------------------------------------------


def ingest(desk, data: bytes, now: str = NOW) -> Result:  # type: ignore[no-untyped-def]
    env = {"ELINKCTL_STORE": str(desk.root), "ELINKCTL_USER": "mail-intake", "ELINKCTL_NOW": now}
    return desk.runner.invoke(cli, ["ingest", "email"], env=env, input=data, catch_exceptions=False)


def test_mail_master_reply_by_subject_id_comments_without_the_quote(desk) -> None:  # type: ignore[no-untyped-def]
    first = ingest(desk, (CORPUS / "multipart-no-boundary.eml").read_bytes())
    assert first.exit_code == 0, first.stderr
    ticket_id = first.stdout.split()[0]
    html = (
        '<div>已修复，请再试</div><div class="ntes-mailmaster-quote">'
        "<div>---- 回复的原邮件 ----</div><table><tr><td>发件人</td><td>IT服务台</td></tr>"
        "<tr><td>日期</td><td>2026年11月23日 10:05</td></tr>"
        "<tr><td>主题</td><td>64423</td></tr></table><div>Blah blah blah</div></div>"
    )
    subject = base64.b64encode(f"回复：[{ticket_id}] 64423".encode()).decode()
    reply = mail(
        f"From: a@example.cn\nSubject: =?UTF-8?B?{subject}?=\n"
        "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n",
        html.encode(),
    )
    result = ingest(desk, reply, now="2026-11-23T11:00:00+08:00")
    assert result.exit_code == 0, result.stderr
    text = desk.ticket_path(ticket_id).read_text(encoding="utf-8")
    assert "已修复，请再试" in text
    assert "回复的原邮件" not in text
    assert text.count("Blah blah blah") == 1  # the description only, not the comment


def test_broken_multipart_through_the_cli_keeps_text_and_notes(desk) -> None:  # type: ignore[no-untyped-def]
    result = ingest(desk, (CORPUS / "multipart-boundary-never-occurs.eml").read_bytes())
    assert result.exit_code == 0
    assert "multipart structure is broken" in result.stderr
    ticket = desk.ticket_path(result.stdout.split()[0]).read_text(encoding="utf-8")
    assert "This is the dingus fish." in ticket


def test_control_characters_never_reach_the_ticket(desk) -> None:  # type: ignore[no-untyped-def]
    raw = mail(
        "From: a@example.cn\nSubject: ctl\nContent-Type: multipart/mixed\n",
        b"before\x1b[31mred\x07bell\x08back after",
    )
    result = ingest(desk, raw)
    assert result.exit_code == 0, result.stderr
    ticket = desk.ticket_path(result.stdout.split()[0]).read_text(encoding="utf-8")
    assert "before" in ticket and "after" in ticket
    assert not any(ch in ticket for ch in "\x1b\x07\x08")


def test_not_mail_is_refused_and_nothing_written(desk) -> None:  # type: ignore[no-untyped-def]
    before = desk.commit_count()
    result = ingest(desk, b"\x00\x01binary junk")
    assert result.exit_code == 65 and "Traceback" not in result.output + result.stderr
    assert desk.commit_count() == before


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=120), st.lists(st.sampled_from(["cp1252", "gb18030", "utf-8"])))
def test_header_repairs_never_raise(raw: bytes, declared: list[str]) -> None:
    assert isinstance(decode_header_bytes(raw, declared), str)
    assert isinstance(escape_raw_qwords(b"=?utf-8?Q?" + raw + b"?="), bytes)
    text = raw.decode("latin-1")
    assert isinstance(lenient_words(f"=?utf-8?B?{text}?= =?gbk?Q?{text}?=")[0], str)
    head = b"Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=x\n\n"
    fixed = prefer_multipart_type(head + raw)
    assert fixed is None or b"\n--x" in raw


@settings(max_examples=100, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("服务器宕机财务系统登录失败打印机网络请处理")), min_size=2
    )
)
def test_common_chinese_is_always_plausible(text: str) -> None:
    assert plausible_gb(text.encode("gbk").decode("gb18030"))
