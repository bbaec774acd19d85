"""Mail that no person wrote: bounces and automatic replies.

A desk's mailbox receives, besides people, delivery status notifications
(a notice of ours that could not be delivered) and automatic replies
(out-of-office, "收到", ticket systems answering ticket systems). Neither
may become an incident or a customer's comment: a bounce belongs to the
outbox (the delivery failed), an automatic reply to nothing.

:func:`classify` looks at a parsed message (``email.message.Message``, as
:func:`elinkctl.ingest.mail.parse_email` has it) and says which it is.

A person's mail must never be swallowed, so each signal is weighed
(docs/intake.md, "Mail that is not a person"):

* decisive alone: a ``multipart/report`` delivery-status (RFC 3464) or
  disposition-notification (a read receipt); a sender ``MAILER-DAEMON``;
  an empty envelope sender (``Return-Path: <>``, used only by
  notifications, RFC 5321 §4.5.5).
* needing a second signal: a sender ``postmaster`` or "Mail Delivery
  System" (a person may write as postmaster); a bounce subject
  (``Undeliverable:``, ``系统退信``: a person may write about bounces —
  an IT desk's daily work).
* automatic replies: :mod:`elinkctl.ingest.autoreply` (its docstring
  weighs each signal).

A mail forwarded by a person (``Fwd:``/``转发:``, the bounce attached as
``message/rfc822``) is the person's: only the top of the MIME tree is read.
Everything taken from the message is untrusted: one line, bounded, control
characters removed, URLs cut to their host.
"""

from __future__ import annotations

import email.errors
import email.header
import email.parser
import email.utils
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from elinkctl.ingest.autoreply import auto_reply_reason, is_forward, safe_line
from elinkctl.ingest.autoreply import header_text as _header
from elinkctl.ingest.charsets import decode_text
from elinkctl.ingest.html import html_to_text

__all__ = ["Automatic", "AutomaticKind", "classify", "safe_line"]

AutomaticKind = Literal["bounce", "delayed", "delivered", "auto-reply", "own-notice"]

_MAX_PARTS = 60
"""Parts looked at (a DSN has three; a hostile one thousands)."""
_MAX_TEXT = 64 * 1024
"""Characters of one part's text searched."""
_MAX_RECIPIENTS = 20

_DAEMONS = frozenset({"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "mdaemon"})
_POSTMASTER_NAMES = re.compile(
    r"mail delivery (?:system|subsystem|service)|mail administrator|system administrator|"
    r"postmaster|邮件系统|系统管理员",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|returned mail|return(?:ed|ing) (?:message )?to sender|"
    r"delivery (?:status notification|failure|has failed|failed)|mail delivery failed|"
    r"failure notice|non[- ]?delivery|could not be delivered|delivery notification|failed mail|"
    r"unzustellbar|nicht zugestellt|non remis|no se pudo entregar|"
    r"系统退信|退信|投递失败|无法投递|发送失败|递送失败|退回|配信できません|未配達|エラー通知",
    re.IGNORECASE,
)
# How servers begin a bounce's subject (a person writes about bounces in
# their own words: "退信了，请帮忙", "发不出去，附上退信").
_SERVER_SUBJECT = re.compile(
    r"^\s*(?:undeliverable|undelivered mail|returned mail|mail delivery failed|"
    r"delivery status notification|delivery notification|delivery failure|failure notice|"
    r"failure delivery|non[- ]?delivery|mail could not be delivered|permanent delivery failure|"
    r"mail delivery (?:failure|problem|error)|mail error|failed mail|"
    r"系统退信|退信通知|邮件退信|投递失败|邮件投递失败|无法投递|退回的邮件)",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(
    r"delivery status notification \(delay\)|delayed mail|delivery delayed|"
    r"warning: could not send message|still being retried|延迟投递|延迟发送",
    re.IGNORECASE,
)
# An RFC 3463 status, not a version ("Lotus SMTP MTA v4.6.1") nor part of an IP.
_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_HEADERISH = re.compile(
    r"^\s*(?:received|from|to|cc|subject|date|message-id|return-path|reply-to|references|"
    r"in-reply-to|mime-version|content-[a-z-]+|x-[a-z0-9-]+|dkim-signature)\s*:",
    re.IGNORECASE,
)
_SMTP_CODE = re.compile(r"(?<!\d)([45]\d\d)[ -](?=\S)")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'=-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
_MSG_ID = re.compile(r"<[^<>\s]{1,250}>")
_HEADER_LINE = re.compile(
    r"^[ \t]*(message-id|subject|x-elinkctl-ticket)[ \t]*:[ \t]*(.*)$", re.I | re.M
)
_RECIPIENT_LINE = re.compile(
    r"^\s*<("
    + _ADDRESS.pattern
    + r")>\s*:|^\s*(?:收件人|收信人|原收件人)\s*[:：]?[\s|]*("
    + _ADDRESS.pattern
    + r")|^\s*("
    + _ADDRESS.pattern
    + r")\s*(?:<mailto:[^>]*>)?\s*$",
    re.M,
)
_COPY_MARKERS = re.compile(
    r"below this line is a copy|this is a copy of the message|original message follows|"
    r"original message|message headers follow|original headers|returned message|"
    r"以下是原邮件|原邮件头",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Automatic:
    """A message sent by a machine, not a person.

    ``kind``: ``bounce`` (a delivery status notification: the message named
    by ``original_message_ids`` did not reach ``recipients``), ``delayed``
    (a delivery is only late, RFC 3464 ``Action: delayed``: not a failure),
    ``delivered`` (a DSN that reports success: delivered, relayed),
    ``own-notice`` (one of elinkctl's own notices came back to the intake:
    a mail loop, not news) or ``auto-reply`` (out-of-office, read receipts
    and other automatic answers). ``status``/``diagnostic`` are the DSN's status code and the
    remote server's words (bounded, one line); ``reason`` says in a few
    words how it was recognised (for the desk's note). ``original_ticket``
    is the ``X-Elinkctl-Ticket`` of the returned original (our notices
    carry it), when the bounce returned its headers.
    """

    kind: AutomaticKind
    reason: str
    original_message_ids: tuple[str, ...] = ()
    original_subject: str = ""
    recipients: tuple[str, ...] = ()
    status: str = ""
    diagnostic: str = ""
    original_ticket: str = ""


def _local_part(address: str) -> str:
    """``MAILER-DAEMON@host`` and a bare ``MAILER-DAEMON`` alike → ``mailer-daemon``."""
    text = address.strip().strip("<>").lower()
    return text.rpartition("@")[0] if "@" in text else text


def _decode(payload: bytes, charset: str | None) -> str:
    """A report part's text, read as a person's mail is (`charsets.decode_text`):
    a server's unlabelled Latin-1 reason ("Usuário Inválido") is not GB18030."""
    return decode_text(payload, charset).text


def _text_of(part: Message) -> str:
    """A leaf part's text (HTML as text), at most `_MAX_TEXT` characters."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError):
        charset = None
    text = _decode(payload[: _MAX_TEXT * 4], charset)[:_MAX_TEXT]
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [p for p in payload[:_MAX_PARTS] if isinstance(p, Message)]


class _Facts:
    """What the top of the MIME tree holds: the report parts and some text."""

    def __init__(self, msg: Message) -> None:
        self.report_type = ""
        self.dsn: Message | None = None
        # Every delivery-status part: some servers send a first one holding
        # prose ("<u@ci.com> has restricted SMS e-mail") and the fields in a
        # second one (rubymail's multipart_report_multiple_status).
        self.dsns: list[Message] = []
        self.original: Message | None = None
        self.texts: list[str] = []
        self._seen = 0
        self._walk(msg, 0)

    def _walk(self, part: Message, depth: int) -> None:
        self._seen += 1
        if self._seen > _MAX_PARTS or depth > 3:
            return
        ctype = part.get_content_type()
        if ctype == "multipart/report" and not self.report_type:
            self.report_type = str(part.get_param("report-type") or "").lower()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            self.dsn = self.dsn or part
            if len(self.dsns) < 5:
                self.dsns.append(part)
            return
        if ctype in ("message/rfc822", "message/global", "text/rfc822-headers"):
            if self.original is None and (depth > 0 or ctype == "text/rfc822-headers"):
                self.original = part
            return  # an attached mail is a document: never read as the notice
        if part.is_multipart():
            for sub in _subparts(part):
                self._walk(sub, depth + 1)
            return
        if part.get_content_maintype() == "text" and len(self.texts) < 3:
            self.texts.append(_text_of(part))


def _dsn_fields(part: Message) -> list[dict[str, str]]:
    """The per-recipient blocks of a ``message/delivery-status`` part."""
    payload = part.get_payload()
    blocks: list[Message] = []
    if isinstance(payload, list):
        blocks = [b for b in payload[:_MAX_PARTS] if isinstance(b, Message)]
    elif isinstance(payload, str):
        parser = email.parser.HeaderParser()
        for chunk in re.split(r"\r?\n\s*\r?\n", payload[:_MAX_TEXT])[:_MAX_PARTS]:
            blocks.append(parser.parsestr(chunk.strip() + "\n"))
    out: list[dict[str, str]] = []
    for block in blocks:
        fields = {k.lower(): str(v) for k, v in list(block.items())[:40]}
        if "action" in fields or "final-recipient" in fields or "status" in fields:
            out.append(fields)
    return out


def _report_prose(part: Message) -> str:
    """The text of a delivery-status part that holds prose, not fields (the
    parser splits it into header-less blocks at its blank lines)."""
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload[:_MAX_TEXT]
    if not isinstance(payload, list):
        return ""
    chunks = [b.get_payload() for b in payload[:_MAX_PARTS] if isinstance(b, Message)]
    return "\n".join(c for c in chunks if isinstance(c, str))[:_MAX_TEXT]


def _address_of(field: str) -> str:
    """``rfc822; a@b.c`` → ``a@b.c``."""
    value = field.partition(";")[2] if ";" in field else field
    match = _ADDRESS.search(value)
    return match.group(0).lower() if match else ""


def _original_headers(part: Message | None) -> Message | None:
    if part is None:
        return None
    if part.get_content_type() == "text/rfc822-headers":
        text = _text_of(part) if not part.is_multipart() else ""
        return email.parser.HeaderParser().parsestr(text[:_MAX_TEXT])
    inner = _subparts(part)
    return inner[0] if inner else None


def _status_of(text: str) -> str:
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else ""


def _diagnostic_line(text: str) -> str:
    """The line of a bounce's prose that carries the remote server's words:
    an SMTP reply with its status code first (``550 5.1.1 …``), else one of
    them, else a line that says why (``User unknown``, ``退信原因``)."""
    head = _COPY_MARKERS.split(text, maxsplit=1)[0].splitlines()[:300]
    lines = [line for line in head if not _HEADERISH.match(line)]  # a quoted original
    for test in (
        lambda line: _SMTP_CODE.search(line) and _STATUS.search(line),
        lambda line: _SMTP_CODE.search(line),
        lambda line: _STATUS.search(line) and "http" not in line.lower(),
        lambda line: _WHY.search(line),
    ):
        for line in lines:
            if test(line):
                return safe_line(line)
    return ""


_FAILED_LINE = re.compile(
    r"fail|undeliver|could not be delivered|not delivered|unknown|does not exist|no such|"
    r"rejected|restricted|mailbox (?:is )?full|quota|投递失败|无法投递|发送失败|不存在|退信",
    re.IGNORECASE,
)
_WHY = re.compile(
    r"unknown|does not exist|not found|not listed|no such|rejected|mailbox (?:is )?full|quota|"
    r"delivery failed|has restricted|"
    r"英文说明|不存在|已满|超时|拒绝",
    re.IGNORECASE,
)


def _from_text(text: str) -> tuple[tuple[str, ...], str, str, tuple[str, ...], str]:
    """(recipients, status, diagnostic, original Message-IDs, original subject)
    from a bounce's prose and its quoted original (qmail, Exim, Coremail …)."""
    recipients: list[str] = []
    head = _COPY_MARKERS.split(text, maxsplit=1)[0]
    for match in _RECIPIENT_LINE.finditer(head):
        address = next(g for g in match.groups() if g).lower()
        if address not in recipients and len(recipients) < _MAX_RECIPIENTS:
            recipients.append(address)
    if not recipients:
        # "Delivery failed 10 attempts: info@example.net", "<a@b.c> has
        # restricted SMS e-mail": an address on a line that says it failed.
        for line in head.splitlines()[:300]:
            if not _FAILED_LINE.search(line) or _HEADERISH.match(line):
                continue
            for address in _ADDRESS.findall(line):
                address = address.lower()
                if _local_part(address) in _DAEMONS or _local_part(address) == "postmaster":
                    continue
                if address not in recipients and len(recipients) < _MAX_RECIPIENTS:
                    recipients.append(address)
    ids: list[str] = []
    subject = ""
    for match in _HEADER_LINE.finditer(text):
        name, value = match.group(1).lower(), match.group(2)
        if name == "message-id":
            ids.extend(m for m in _MSG_ID.findall(value) if m not in ids)
        elif name == "subject" and not subject:
            subject = value
        if len(ids) >= 5:
            break
    if not subject:
        found = re.search(r"^\s*主\s*题\s*[:：]?[\s|]*(.+)$", text, re.M)
        subject = found.group(1) if found else ""
    return tuple(recipients), _status_of(head), _diagnostic_line(text), tuple(ids[:5]), subject


def _quotes_a_failure(text: str) -> bool:
    """A mail server's report: a status code before the returned message's headers."""
    parts = _COPY_MARKERS.split(text[:_MAX_TEXT], maxsplit=1)
    if len(parts) < 2 or not (_STATUS.search(parts[0]) or _SMTP_CODE.search(parts[0])):
        return False
    return bool(re.search(r"^(?:received|message-id|from|to|subject)\s*:", parts[1], re.I | re.M))


def _bounce(msg: Message, facts: _Facts, reason: str) -> Automatic:
    """The bounce's details: from the DSN when there is one, else from its prose."""
    recipients: list[str] = []
    status = diagnostic = ""
    failed = delayed = False
    blocks: list[dict[str, str]] = []
    prose: list[str] = []
    for part in facts.dsns:
        found = _dsn_fields(part)
        blocks.extend(found[: _MAX_PARTS - len(blocks)])
        if not found:
            prose.append(_report_prose(part))  # prose labelled as a report
    for fields in blocks:
        action = fields.get("action", "").strip().lower()
        code = _status_of(fields.get("status", ""))
        if action == "failed" or (not action and code.startswith("5")):
            failed = True
        elif action == "delayed":
            delayed = True
        else:
            continue  # delivered, relayed, expanded: not a problem
        address = _address_of(fields.get("final-recipient", "")) or _address_of(
            fields.get("original-recipient", "")
        )
        if address and address not in recipients and len(recipients) < _MAX_RECIPIENTS:
            recipients.append(address)
        status = status or code
        diagnostic = diagnostic or safe_line(fields.get("diagnostic-code", "").partition(";")[2])
    text = "\n".join([*facts.texts, *prose])
    t_recipients, t_status, t_diag, t_ids, t_subject = _from_text(text)
    failed_header = [
        a.lower() for a in _ADDRESS.findall(_header(msg, "X-Failed-Recipients"))[:_MAX_RECIPIENTS]
    ]
    if not recipients:
        recipients = failed_header or list(t_recipients)
    original = _original_headers(facts.original)
    ids: list[str] = []
    subject = ticket = ""
    if original is not None:
        ids = _MSG_ID.findall(_header(original, "Message-ID"))[:5]
        subject = _header(original, "Subject")
        ticket = _header(original, "X-Elinkctl-Ticket")
    if not ids:
        ids = list(t_ids)
    subject = subject or t_subject
    kind: AutomaticKind = "bounce"
    if blocks and not failed:
        kind = "delayed" if delayed else "delivered"
    elif facts.dsn is None and _DELAY_SUBJECT.search(_header(msg, "Subject")):
        kind = "delayed"
    return Automatic(
        kind=kind,
        reason=reason,
        original_message_ids=tuple(dict.fromkeys(ids)),
        original_subject=safe_line(subject),
        recipients=tuple(recipients),
        status=status or t_status,
        diagnostic=diagnostic or t_diag,
        original_ticket=safe_line(ticket, 40),
    )


def classify(msg: Message, *, subject: str, from_addr: str) -> Automatic | None:
    """What machine sent ``msg``, or None when a person may have."""
    try:
        return _classify(msg, subject, from_addr)
    except (
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
        IndexError,
        RecursionError,
        email.errors.MessageError,
    ):
        return None  # an unreadable corner of a report must not lose a person's mail


def _classify(msg: Message, subject: str, from_addr: str) -> Automatic | None:
    facts = _Facts(msg)
    local = _local_part(from_addr)
    from_name = email.utils.parseaddr(_header(msg, "From"))[0]
    return_path = _header(msg, "Return-Path").strip()
    null_sender = return_path in ("<>", "") and msg.get("Return-Path") is not None
    own = _header(msg, "X-Elinkctl-Ticket")
    if own and msg.get("X-Elinkctl-Kind") is not None:
        # Our notice, addressed to the mailbox piped into `ingest email`:
        # recording it would answer ourselves (a mail loop).
        return Automatic("own-notice", "X-Elinkctl-Kind", original_ticket=safe_line(own, 40))
    bounce_subject = bool(_BOUNCE_SUBJECT.search(subject) or _DELAY_SUBJECT.search(subject))
    person_forward = is_forward(subject)
    if facts.report_type in ("delivery-status", "global-delivery-status") or facts.dsn:
        return _bounce(msg, facts, "a delivery status notification (RFC 3464)")
    if facts.report_type == "disposition-notification":
        return Automatic("auto-reply", "a read receipt (RFC 8098)")
    if facts.report_type == "feedback-report":
        return Automatic("auto-reply", "an abuse feedback report (RFC 5965)")
    if local in _DAEMONS:
        return _bounce(msg, facts, f"sent by {local.upper()}")
    postmaster = local == "postmaster" or bool(_POSTMASTER_NAMES.search(from_name))
    if postmaster and null_sender and not person_forward:
        return _bounce(msg, facts, "a notification from the postmaster (empty sender)")
    if not person_forward and bounce_subject:
        if postmaster:
            return _bounce(msg, facts, "a bounce from the postmaster")
        if null_sender or msg.get("X-Failed-Recipients") is not None:
            return _bounce(msg, facts, "a bounce (empty envelope sender)")
        if _header(msg, "Auto-Submitted").strip().lower() not in ("", "no"):
            return _bounce(msg, facts, "a bounce (Auto-Submitted)")
        quoted = facts.original is not None or _quotes_a_failure("\n".join(facts.texts))
        if quoted and _SERVER_SUBJECT.match(subject):
            return _bounce(msg, facts, "a bounce (the failed message quoted)")
    reason = auto_reply_reason(msg, subject, "\n".join(facts.texts)[:4000])
    if reason is not None:
        return Automatic("auto-reply", reason)
    if null_sender:
        return Automatic("auto-reply", "an empty envelope sender (Return-Path: <>)")
    return None
