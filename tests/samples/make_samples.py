"""Write the committed mail samples (run once: ``python tests/samples/make_samples.py``).

The .eml files are assembled byte by byte, not with ``email.mime``, so they
look the way Foxmail, Outlook and web mail really send Chinese mail —
including the habits the parser must survive: GBK text labelled
``gb2312``, RFC 2047 words inside a quoted ``name=""``, an unencoded GBK
``Subject``. Tests read the committed bytes; this script only documents
how they were made and is deterministic.
"""

from __future__ import annotations

import base64
import quopri
from pathlib import Path

HERE = Path(__file__).parent


def b_word(text: str, charset: str) -> str:
    """An RFC 2047 B encoded word."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def b64_lines(data: bytes) -> str:
    raw = base64.b64encode(data).decode()
    return "\r\n".join(raw[i : i + 76] for i in range(0, len(raw), 76))


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def mail_gbk_qp() -> bytes:
    # Body labelled gb2312 but containing 喆 (GBK only) — the mislabel real
    # clients make; the From name has it too.
    body = (
        "各位好：\n\n"
        "财务部今天上午10点起无法登录财务系统，提示“用户名或密码错误”，\n"
        "但密码确认无误。影响全部门约30人报销审批。\n\n"
        "联系电话：13800138000\n"
        "地点：总部大楼5层财务部\n\n"
        "王喆\n财务部\n"
    )
    qp = quopri.encodestring(body.replace("\n", "\r\n").encode("gb18030")).decode("ascii")
    # The From name is encoded with the GBK label: 喆 is not in GB2312.
    headers = (
        f"From: {b_word('王喆', 'GBK')} <wangzhe@fin.example.cn>\n"
        f'To: "{b_word("IT服务台", "GB2312")}" <servicedesk@elink.example.cn>\n'
        f"Subject: {b_word('财务系统无法登录，请尽快处理', 'GB2312')}\n"
        "Date: Mon, 23 Nov 2026 10:12:45 +0800\n"
        "Message-ID: <202611231012454318806@fin.example.cn>\n"
        "X-Priority: 3\n"
        "X-Mailer: Foxmail 7.2.25.228[cn]\n"
        "Mime-Version: 1.0\n"
        'Content-Type: text/plain;\n\tcharset="gb2312"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
    )
    return crlf(headers + "\n").encode("ascii") + qp.encode("ascii")


def mail_utf8_html() -> bytes:
    html = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<title>内部标题</title>
<style>p { margin: 0 } .sig { color: #888 }</style>
<script type="text/javascript">document.write('<b>tracking</b>'); alert("xss");</script>
</head>
<body>
<div>您好，</div>
<div><br></div>
<div>OA系统打印服务&nbsp;从今天早上开始异常，<b>所有</b>打印任务卡在队列中。</div>
<p>已尝试：</p>
<ul><li>重启打印机</li><li>重新添加打印机 &amp; 驱动</li></ul>
<p>报错信息：&lt;Spooler error 0x0000011b&gt;</p>
<table><tr><td>楼层</td><td>3F</td></tr><tr><td>数量</td><td>&#50;台</td></tr></table>
<div class="sig">李娜<br>行政部 分机 8021</div>
<script>var x = "<div>should not appear</div>";</script>
</body></html>
"""
    subject = (
        "=?utf-8?Q?=5B=E7=B4=A7=E6=80=A5=5D_OA?= "
        "=?utf-8?Q?=E7=B3=BB=E7=BB=9F=E6=89=93=E5=8D=B0?= =?utf-8?B?5pyN5Yqh5byC5bi4?="
    )
    headers = (
        "From: =?utf-8?B?5p2O5aic?= <lina@admin.example.cn>\n"
        "To: servicedesk@elink.example.cn\n"
        "Cc: =?utf-8?B?6KGM5pS/6YOo?= <admin@admin.example.cn>\n"
        f"Subject: {subject}\n"
        "Date: Tue, 24 Nov 2026 08:47:03 +0800\n"
        "Message-ID: <tencent_5A1B2C3D4E5F@qq.com>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: text/html; charset="utf-8"\n'
        "Content-Transfer-Encoding: base64\n"
    )
    return crlf(headers + "\n" + b64_lines(html.encode("utf-8")) + "\n").encode("ascii")


def mail_multipart_attach() -> bytes:
    plain = "附件是今天的错误日志截图和统计表，请查收。\n\n赵磊\n信息中心\n"
    html = "<div>附件是今天的<b>错误日志截图</b>和统计表，请查收。</div><div>赵磊<br>信息中心</div>"
    xlsx = b"PK\x03\x04fake-xlsx-content"
    png = b"\x89PNG\r\n\x1a\nfake-png"
    # RFC 2231 (Thunderbird, Apple Mail) for the spreadsheet …
    rfc2231 = "".join(f"%{b:02X}" for b in "错误统计表-11月.xlsx".encode())
    # … RFC 2047 inside quotes (Outlook, Foxmail) for the image.
    rfc2047 = b_word("故障截图.png", "GB2312")
    text = f"""From: {b_word("赵磊", "GB2312")} <zhaolei@it.example.cn>
To: servicedesk@elink.example.cn
Subject: {b_word("VPN连接频繁断开", "GB2312")}
Date: Wed, 25 Nov 2026 14:03:11 +0800
Message-ID: <000001db3f2a$1c2b3d40$54619bc0$@it.example.cn>
MIME-Version: 1.0
X-Mailer: Microsoft Outlook 16.0
Content-Type: multipart/mixed;
\tboundary="----=_NextPart_000_0001_01DB3F2A.1C2B3D40"

This is a multi-part message in MIME format.

------=_NextPart_000_0001_01DB3F2A.1C2B3D40
Content-Type: multipart/alternative;
\tboundary="----=_NextPart_001_0002_01DB3F2A.1C2B3D40"

------=_NextPart_001_0002_01DB3F2A.1C2B3D40
Content-Type: text/plain;
\tcharset="utf-8"
Content-Transfer-Encoding: base64

{b64_lines(plain.encode("utf-8"))}

------=_NextPart_001_0002_01DB3F2A.1C2B3D40
Content-Type: text/html;
\tcharset="utf-8"
Content-Transfer-Encoding: base64

{b64_lines(html.encode("utf-8"))}

------=_NextPart_001_0002_01DB3F2A.1C2B3D40--

------=_NextPart_000_0001_01DB3F2A.1C2B3D40
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
Content-Disposition: attachment;
\tfilename*=utf-8''{rfc2231}
Content-Transfer-Encoding: base64

{b64_lines(xlsx)}

------=_NextPart_000_0001_01DB3F2A.1C2B3D40
Content-Type: image/png;
\tname="{rfc2047}"
Content-Disposition: attachment;
\tfilename="{rfc2047}"
Content-Transfer-Encoding: base64

{b64_lines(png)}

------=_NextPart_000_0001_01DB3F2A.1C2B3D40--
"""
    return crlf(text).encode("ascii")


def mail_reply() -> bytes:
    subject = "回复: Re: [INC-261123-7KQ2M] 财务系统无法登录"
    body = (
        "已经可以正常登录了，谢谢！\n\n"
        "王喆\n\n"
        "------------------ 原始邮件 ------------------\n"
        "发件人: IT服务台 <servicedesk@elink.example.cn>\n"
        "主题: Re: [INC-261123-7KQ2M] 财务系统无法登录\n\n"
        "> 您好，认证服务证书已更新，请再试一次。\n"
    )
    headers = (
        f'From: "{b_word("王喆", "gb18030")}" <wangzhe@fin.example.cn>\n'
        "To: =?utf-8?B?SVTmnI3liqHlj7A=?= <servicedesk@elink.example.cn>\n"
        f"Subject: {b_word(subject, 'utf-8')}\n"
        "Date: Mon, 23 Nov 2026 12:20:00 +0800\n"
        "Message-ID: <20261123122000.A1B2@fin.example.cn>\n"
        "In-Reply-To: <INC-261123-7KQ2M.e7@elink.example.cn>\n"
        "References: <202611231012454318806@fin.example.cn>\n"
        " <INC-261123-7KQ2M.e7@elink.example.cn>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8; format=flowed\n"
        "Content-Transfer-Encoding: 8bit\n"
    )
    return crlf(headers + "\n").encode("ascii") + crlf(body).encode("utf-8")


def mail_8bit_nocharset() -> bytes:
    # An old in-house system sending raw GBK: no MIME, no charset, an
    # unencoded 8-bit Subject and From name.
    headers = (
        "From: 机房巡检系统 <inspect@dc.example.cn>\n"
        "To: servicedesk@elink.example.cn\n"
        "Subject: 机房B区空调告警\n"
        "Date: 25 Nov 2026 03:10:00 -0000\n"
    )
    body = "巡检发现：B区2号精密空调回风温度 31℃，超过阈值 28℃。\n请值班工程师到场确认。\n"
    return crlf(headers + "\n" + body).encode("gb18030")


def mail_malformed_binary() -> bytes:
    # A ZIP-like blob handed to the mail command by mistake.
    return b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4


def mail_malformed_noheaders() -> bytes:
    return crlf("这不是一封邮件，只是复制粘贴的一段文字。\n没有发件人，也没有主题。\n").encode(
        "utf-8"
    )


SAMPLES = {
    "mail_gbk_qp.eml": mail_gbk_qp,
    "mail_utf8_html.eml": mail_utf8_html,
    "mail_multipart_attach.eml": mail_multipart_attach,
    "mail_reply.eml": mail_reply,
    "mail_8bit_nocharset.eml": mail_8bit_nocharset,
    "mail_malformed_binary.eml": mail_malformed_binary,
    "mail_malformed_noheaders.eml": mail_malformed_noheaders,
}


def main() -> None:
    for name, make in SAMPLES.items():
        (HERE / name).write_bytes(make())


if __name__ == "__main__":
    main()
