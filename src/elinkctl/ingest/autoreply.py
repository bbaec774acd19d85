"""Automatic replies told from a person's mail, and the untrusted-text helpers.

Split from :mod:`elinkctl.ingest.automail` (which handles bounces and calls
:func:`auto_reply_reason`). The rule that shapes every signal here: a person's
mail must never be swallowed. Missing an odd automatic reply costs the desk a
second (it rejects the incident); swallowing a person's mail loses the
incident without anyone knowing. So (docs/intake.md, "How an automatic reply
is recognised"):

* decisive alone: ``Auto-Submitted: auto-replied`` (RFC 3834), the
  responders' own headers (``X-Autoreply``, ``X-Autorespond``,
  ``X-QQ-AUTO-REPLY: true``, ``X-Apple-Action: VACATION``), ``Precedence:
  auto_reply``, and a subject *starting* with a client's automatic-reply
  prefix and its colon (``自动回复:``, ``Automatic reply:`` and Outlook's
  localized forms: a person never starts a request with these);
* a holiday subject counts only in the shape responders write (the whole
  subject or its start: "外出", "休假中", "Out of Office until …", "I am on
  vacation"), never a word inside a request ("休假申请提交失败", "Vacation
  request form …", "外出出差时 VPN 连不上"); so does the body's out-of-office
  sentence ("我正在休假，将于…回复"). Either needs a responder's mark that
  people's mail does not carry: ``Auto-Submitted`` (other than ``no``) or
  ``Precedence: bulk/junk``;
* never a mark, alone or with a word: ``X-Auto-Response-Suppress`` (Outlook's
  request to others, on ordinary mail), ``X-MS-Exchange-Inbox-Rules-Loop``
  (every mail of a rule-forwarded mailbox) and ``Precedence: list`` (every
  mail through a list).
"""

from __future__ import annotations

import email.errors
import email.header
import re
from email.message import Message

from elinkctl.ingest.quotes import reply_text

__all__ = ["auto_reply_reason", "header_text", "is_forward", "safe_line"]

_MAX_FIELD = 160
"""Characters kept of a field taken from the message."""

# A prefix (and its colon) that only an automatic reply starts with: what
# responders and Outlook/Exchange write in each language (Exchange's
# "Automatic reply:" as localized, Outlook's older "Out of Office AutoReply:",
# QQ/网易's 自动回复). A person never starts a request with these.
_AUTO_PREFIX = re.compile(
    r"^\s*(?:自动回复|自动答复|自動回覆|自動回复|自動回復|自动应答|自動応答|自動返信|자동\s*회신|자동\s*응답|"
    r"automatic reply|auto[- ]?reply|auto[- ]?response|autorespons\w*|"
    r"out of (?:the )?office(?: auto ?reply)?|ooo|autosvar|automatisk svar|automatiskt svar|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|"
    r"respuesta autom[áa]tica|risposta automatica|resposta autom[áa]tica|automatisch antwoord|"
    r"automatyczna odpowied[źz]|automatick[áa] odpov[ěe]ď|automatick[áa] odpove[ďd]|"
    r"automatikus v[áa]lasz|r[ăa]spuns automat|automaattinen vastaus|otomatik yan[ıi]t|"
    r"automatski odgovor|samodejni odgovor|automatinis atsakymas|autom[āa]tisk[āa] atbilde|"
    r"automaatvastus|"
    r"автоматический ответ|автоматична відповідь|автоматичен отговор|"
    r"αυτόματη απάντηση|תשובה אוטומטית|מענה\s*['\"׳״]{0,2}\s*אני לא נמצא\s*['\"׳״]{0,2}|"
    r"رد تلقائي|vacation reply)\s*[:：]",
    re.IGNORECASE,
)
# A subject in the shape automatic replies use: the whole subject, or its
# start followed by a separator or a date ("外出", "休假中，12月5日返回",
# "Out of Office until Monday", "I am on vacation"). A holiday word inside a
# request ("休假申请提交失败", "Vacation request form …", "外出出差时 VPN
# 连不上") is a person writing about leave systems and trips: never counted.
_HOLIDAY_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|sv|回复|答复)\s*[:：]\s*)*"
    r"(?:(?:i am|i'm|i will be)\s+)?(?:currently\s+)?"
    r"(?:out of (?:the )?office|away from (?:the |my )?(?:office|desk)|"
    r"on (?:vacation|holiday|leave)|"
    r"vacation(?: (?:reply|notice|message|response|autoreply))?|holiday notice|"
    r"absence notice|out of office reply|"
    r"休假中|正在休假|休假自动回复|休假|外出中|外出|出差中|年假中|不在办公室|假期自动回复|"
    r"(?:邮件)?已收到|收到)"
    r"\s*(?:$|[:：\-–—|,，.。;；!！(（\[【/]|(?<=[a-z])\s+(?:until|till|from|through|thru|"
    r"back|returning|\d)|(?<=[^\x00-\x7f])\s*(?:至|到|期间|\d))",
    re.IGNORECASE,
)
# The sentence an out-of-office body is made of: "I am out of the office …
# will reply", "我正在休假，将于12月5日回复", "目前不在办公室". Read only with
# another responder's mark (Auto-Submitted, Precedence: bulk/junk).
_HOLIDAY_BODY = re.compile(
    r"(?:我|本人)?(?:正在|目前|现在|当前)(?:休假|外出|出差|不在办公室|请假)[^\n]{0,80}?"
    r"(?:将于|将在|回来后|返回后|回复|处理)|"
    r"这是来自[^\n]{0,10}(?:邮箱)?的(?:假期)?自动回复|"
    r"\bi (?:am|will be) (?:currently )?"
    r"(?:out of (?:the )?office|away|on (?:vacation|holiday|leave))"
    r"[^\n]{0,120}?\b(?:return|back|reply|respond|access)",
    re.IGNORECASE,
)
# What a person asking for help writes and an out-of-office notice does not:
# "休假中，VPN 连不上怎么办？" is a request from someone on leave.
_REQUEST = re.compile(
    r"[?？]|怎么|如何|无法|不能|连不上|打不开|登不上|报错|错误|失败|故障|异常|请帮|帮忙|求助|"
    r"\b(?:error|fail(?:s|ed|ure)?|cannot|can't|unable|broken|help|issue|problem)\b",
    re.IGNORECASE,
)
# Headers a mailing list puts on every member's mail (with Precedence: bulk).
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List", "X-Mailing-List")
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|回复|答复)\s*[:：]", re.IGNORECASE)
_FORWARD_PREFIX = re.compile(r"^\s*(?:fw|fwd|wg|tr|转发|轉寄|转寄)\s*[:：]", re.IGNORECASE)

_URL = re.compile(r"\b(?:https?|ftp)://([^/\s?#<>\"']+)[^\s<>\"']*", re.IGNORECASE)
# C0/C1 controls, and the invisible and bidirectional marks that can make a
# terminal line read differently from what it holds.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def safe_line(text: str, limit: int = _MAX_FIELD) -> str:
    """``text`` as one bounded line: controls removed, a URL reduced to its host
    (a bounce may quote links with tokens in their query)."""
    line = _URL.sub(lambda m: m.group(1), _CONTROL.sub(" ", str(text)))
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def header_text(msg: Message, name: str) -> str:
    """A header decoded (RFC 2047) and bounded; the raw value when it cannot be."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError, email.errors.MessageError):
        text = str(value)
    return text.encode("utf-8", "replace").decode("utf-8")[:2000]


def auto_reply_reason(msg: Message, subject: str, body: str) -> str | None:
    """Why ``msg`` is an automatic reply (see the module docstring), or None."""
    auto = header_text(msg, "Auto-Submitted").strip().lower()
    if auto.startswith("auto-replied"):
        return "Auto-Submitted: auto-replied"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autoreply-From"):
        value = header_text(msg, name).strip().lower()
        if value and value not in ("no", "false", "0"):
            return name
    if header_text(msg, "X-QQ-AUTO-REPLY").strip().lower() in ("true", "yes", "1"):
        return "X-QQ-AUTO-REPLY"  # QQ Mail's responder; its ordinary mail never carries it
    if "vacation" in header_text(msg, "X-Apple-Action").lower():
        return "X-Apple-Action: VACATION"
    precedence = (header_text(msg, "Precedence") + " " + header_text(msg, "X-Precedence")).lower()
    if "auto_reply" in precedence or "auto-reply" in precedence:
        return "Precedence: auto_reply"
    if _FORWARD_PREFIX.match(subject):
        return None  # a person forwarding something
    if _AUTO_PREFIX.match(subject):
        return "subject " + safe_line(re.split(r"[:：]", subject, maxsplit=1)[0], 30)
    # A responder's mark that is not a person's: Auto-Submitted other than
    # "no" (auto-generated: monitoring is intake, so only with a holiday
    # shape or as a reply), Precedence bulk/junk (not on a list's mail). Never a
    # subject or text that asks for help. X-Auto-Response-Suppress,
    # X-MS-Exchange-Inbox-Rules-Loop and Precedence: list never count: Outlook,
    # Exchange rules and mailing lists put them on people's ordinary mail.
    marks = []
    if auto and auto != "no":
        marks.append(f"Auto-Submitted: {safe_line(auto, 30)}")
    listed = any(msg.get(name) is not None for name in _LIST_HEADERS)
    if ("bulk" in precedence or "junk" in precedence) and not listed:
        marks.append("Precedence: " + safe_line(precedence, 20))
    if not marks:
        return None
    # A reply's subject echoes the mail it answers; its own words are above the quote.
    asking = bool(_REQUEST.search(subject)) and not _REPLY_PREFIX.match(subject)
    own = reply_text(body[:4000])
    if _HOLIDAY_SUBJECT.match(subject) and not asking:
        return " + ".join([*marks, "an out-of-office subject"])
    if _HOLIDAY_BODY.search(own) and not asking and not _REQUEST.search(own):
        return " + ".join([*marks, "an out-of-office text"])
    replying = bool(msg.get("In-Reply-To") or msg.get("References") or _REPLY_PREFIX.match(subject))
    if auto and auto != "no" and replying:
        return " + ".join([*marks, "a reply"])
    return None


def is_forward(subject: str) -> bool:
    """A person forwarding something (``Fwd:``, ``转发:``): the mail is theirs."""
    return bool(_FORWARD_PREFIX.match(subject))
