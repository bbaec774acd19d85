"""Where a reply's own words end and the quoted history begins.

A reply to one of the desk's notices usually quotes it below (Outlook's
"-----原始邮件-----", Gmail's "On … wrote:", a header block "发件人: … 发送时间:
…", ``>`` lines). Only the new text belongs on the incident as a comment or
an answer; the quoted notice is already on record.
"""

from __future__ import annotations

import re

__all__ = ["reply_text"]

# Where a reply's quoted history starts (common Chinese and English clients).
_SEPARATOR_RE = re.compile(
    r"^\s*-{2,}\s*(原始邮件|original message|forwarded message|转发邮件|转发的邮件)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_RE = re.compile(r"^\s*(on\s.+\swrote|在\s*.+写道)\s*[:：]?\s*$", re.IGNORECASE)
_HEADER_BLOCK_RE = re.compile(r"^\s*(发件人|from)\s*[:：]", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\s*(发送时间|日期|收件人|主题|sent|date|to|subject)\s*[:：]", re.IGNORECASE
)


def reply_text(body: str) -> str:
    """A reply's new text: cut at the quoted history, ``>`` lines dropped.

    Falls back to the whole body when nothing would be left (a reply that
    is all quote is still worth recording).
    """
    lines = body.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _SEPARATOR_RE.match(line) or _ATTRIBUTION_RE.match(line):
            break
        if _HEADER_BLOCK_RE.match(line) and any(
            _HEADER_NEXT_RE.match(following) for following in lines[index + 1 : index + 4]
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return text or body.strip()
