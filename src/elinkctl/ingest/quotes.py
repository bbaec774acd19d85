"""Where a reply's own words end and the quoted history begins.

A reply to one of the desk's notices usually quotes it below; only the new
text belongs on the incident as a comment or an answer, the quoted notice
is already on record. Recognised (each checked against real mail; see
tests/corpora/mail/SOURCES.md):

* Dashed separators: Outlook's ``-----Original Message-----`` and
  ``-----原始邮件-----``, Outlook (Chinese, older builds) ``-----邮件原件-----``,
  QQ Mail / 腾讯企业邮 / Foxmail ``------------------ 原始邮件
  ------------------`` (and ``------------------ Original ------------------``),
  网易邮箱大师 (Mail Master) ``---- 回复的原邮件 ----`` (English UI: ``----
  Replied Message ----``), forwarding markers
  (``---------- Forwarded message ---------``, ``转发邮件信息``, Lotus Notes
  ``----- 转发者 … -----``, ``----- 由 … 转发 -----``). Mid-line too: HTML
  mail often puts the separator and the quoted header table on one line.
* Attribution lines, also when the client wrapped them over two lines:
  ``On … wrote:``, NetEase's ``At 2019-07-04 11:20:38, "张三" <a@b.c>
  wrote:``, Thunderbird Chinese ``在 2023/5/16 9:57, 张三 写道:``, Gmail
  Chinese ``在2026年8月13日星期四 UTC+8 00:19:19<a@b.c> 写道：``, Apple Mail
  Chinese ``2019年7月2日 上午2:59，张三 <a@b.c> 写道：``, Foxmail/QQ/NetEase
  ``张三 于 2026-11-23 10:05 写道：``, old Foxmail's ``在 2002-02-19 22:09:00
  you wrote：``. A date (a digit) and a witness (an
  address, 在/于/年, On/At) must be in it, so "我在报告里写道：" in the
  sender's own words is not taken for one.
* A header block: ``发件人:``/``From:`` (also ``*发件人:*``, ``发件人 |``
  from HTML tables) followed within three lines by ``发送时间``/``日期``/
  ``收件人``/``主题``/``Sent``/``Date``/``To``/``Subject``; Outlook's
  Traditional Chinese ``寄件者:`` … ``傳送時間:``/``收件者:``/``主旨:`` and
  ``-----原始郵件-----`` alike.
* ``>`` quoted lines are dropped wherever they are. An attribution with
  nothing written above it starts an interleaved reply (answers between the
  quotes): it is dropped with the quotes, and the answers are kept.
"""

from __future__ import annotations

import re

__all__ = ["reply_text"]

_DASH = r"[-－—–_]"
_SEPARATOR_WORDS = (
    r"原始邮件|邮件原件|原邮件|回复的原邮件|回复的原始邮件|转发邮件信息|转发邮件|转发的邮件"
    r"|原始郵件|郵件原件|原郵件|轉寄郵件|轉寄的郵件|转寄邮件|邮件原文|郵件原文"
    r"|original message|replied message|original|forwarded message|forwarded by .{1,80}"
    r"|转发者.{0,80}"
    r"|由.{1,80}转发.{0,40}"
)
# A dashed separator, wherever it stands in a line. It starts where a run
# of dashes starts and takes the run whole (possessive): a line of 60,000
# dashes costs one pass, not 60,000.
_SEPARATOR_RE = re.compile(
    rf"(?<!{_DASH}){_DASH}{{2,}}+[ \t\xa0\u3000]*+(?:{_SEPARATOR_WORDS})"
    rf"[ \t\xa0\u3000]*{_DASH}{{2,}}",
    re.IGNORECASE,
)
_RULE_RE = re.compile(r"^[\s_\-－—–=*]*$")
_ZH_WROTE_RE = re.compile(r"(?:写道|寫道)\s*+[:：]?\s*+$")
_EN_WROTE_RE = re.compile(r"\bwrote\s*+[:：]\s*+$", re.IGNORECASE)
# What tells an attribution from a sentence that ends in 写道/wrote: the
# quoted sender (an address), or the clients' own words around the date.
_ZH_WITNESS_RE = re.compile(r"[在于於@<＜年]")
_EN_WITNESS_RE = re.compile(r"^(?:on|at|le|am|el)\s|[@<在于]", re.IGNORECASE)
_ATTRIBUTION_END_RE = re.compile(r"(?:wrote\s*+[:：]|写道|寫道)\s*+[:：]?\s*+$", re.IGNORECASE)
_MAX_ATTRIBUTION = 300
"""Characters of an attribution line (longer lines are not looked at: bounded work)."""
# Chinese labels may stand without a colon (Mail Master's table: "发件人 | …");
# English ones need it ("From now on …" is prose).
_HEADER_BLOCK_RE = re.compile(
    r"^[\s*|]*(?:(?:发件人|寄件者|寄件人|發件人)[\s*]*(?:[:：|]|\s)|from[\s*]*[:：|])",
    re.IGNORECASE,
)
_HEADER_NEXT_RE = re.compile(
    r"^[\s*|]*(?:(?:发送时间|发送日期|日期|时间|收件人|抄送|主题"
    r"|傳送時間|寄件日期|時間|收件者|收件人|副本|主旨|主題)[\s*]*(?:[:：|]|\s)"
    r"|(?:sent|date|to|cc|subject)[\s*]*[:：|])",
    re.IGNORECASE,
)


def _attribution(line: str) -> bool:
    """Whether ``line`` introduces a quote: "在 … 写道：", "… 于 … 写道：",
    "2019年7月2日 上午2:59，冯伟 <a@b.c> 写道：" (Apple Mail), "On … wrote:",
    "At 2019-07-04 11:20:38, "冯伟" <a@b.c> wrote:" (NetEase). A date (a
    digit) and a witness (an address, 在/于/年, On/At) must be in it."""
    text = line.strip()
    if len(text) > _MAX_ATTRIBUTION or not any(ch.isdigit() for ch in text):
        return False
    if _ZH_WROTE_RE.search(text):
        return bool(_ZH_WITNESS_RE.search(text))
    if _EN_WROTE_RE.search(text):
        return bool(_EN_WITNESS_RE.search(text))
    return False


def _is_attribution(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _attribution(line):
        return True
    # Gmail and Outlook wrap a long attribution: "On …, 张三 <" / "a@b.c> wrote:".
    following = lines[index + 1] if index + 1 < len(lines) else ""
    if len(following) <= _MAX_ATTRIBUTION and _ATTRIBUTION_END_RE.search(following):
        if not _ATTRIBUTION_END_RE.search(line):
            return _attribution(line.rstrip() + " " + lines[index + 1].strip())
    return False


def _is_header_block(lines: list[str], index: int) -> bool:
    if not _HEADER_BLOCK_RE.match(lines[index]):
        return False
    following = lines[index + 1 : index + 4]
    return any(_HEADER_NEXT_RE.match(line) for line in following)


def reply_text(body: str) -> str:
    """A reply's new text: cut at the quoted history, ``>`` lines dropped.

    Falls back to the whole body when nothing would be left (a reply that
    is all quote is still worth recording).
    """
    lines = body.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        separator = _SEPARATOR_RE.search(line)
        if separator:
            kept.append(line[: separator.start()])
            break
        if _is_attribution(lines, index):
            if any(k.strip() for k in kept):
                break
            # Nothing written above it: an interleaved reply (Thunderbird's
            # "在 … 写道:" then quotes and answers). Only the > lines go.
            continue
        if _is_header_block(lines, index):
            break
        kept.append(line)
    while kept and _RULE_RE.match(kept[-1]):
        kept.pop()  # Outlook's "______" rule above the quoted header block
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return text or body.strip()
