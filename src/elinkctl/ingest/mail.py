"""Parse a user's e-mail into the facts a ticket needs (``elinkctl ingest email``).

Users report incidents by mail (procedure source ``email``); replies to a
ticket's notification carry its ID in the subject and thread headers. This
module is the pure parsing layer: bytes in, a :class:`ParsedEmail` out, no
store and no git.

Chinese mail as it really arrives is messy, so decoding is deliberately
lenient where real clients are wrong and strict where the input is not mail
at all:

* Headers are decoded from RFC 2047 encoded words (``=?GB2312?B?…?=``,
  ``=?utf-8?Q?…?=``, several words and plain text mixed). Raw 8-bit header
  bytes (sent by some old clients without any encoding) are read in the
  charset the message's own parts declare (a Big5 mail's raw subject is
  Big5), then UTF-8, then GB18030.
* Body parts are decoded in the order of :mod:`elinkctl.ingest.charsets`:
  byte order mark, the declared label (GB2312/GBK read as GB18030, Windows'
  ``unicode``/``unicodebig`` as UTF-16, junk around the label ignored),
  for HTML its ``<meta charset>``, UTF-8, GB18030; replacement characters
  only as a last resort, and then with a note.
* A multipart whose boundary cannot be used keeps its text
  (:mod:`elinkctl.ingest.mimefix`), with a note; no text is dropped
  silently (:mod:`elinkctl.ingest.mailparts`).
* Attachment names may be RFC 2231 (``filename*=gb2312''%D4%C2…``), RFC
  2047 inside the quoted parameter (not allowed by the RFC, but what Outlook
  and Foxmail send) or raw 8-bit.
* ``multipart/alternative`` prefers ``text/plain``; HTML-only mail is turned
  into text by :func:`elinkctl.ingest.html.html_to_text`.

Input that is not a mail message (empty, binary garbage, no ``From`` and no
``Subject``) raises :class:`IngestError` with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.utils
import re
from dataclasses import dataclass, field

from elinkctl.domain.ids import is_valid, normalize_fragment
from elinkctl.ingest.automail import Automatic, classify
from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.limits import MAX_MIME_DEPTH, check_mail_shape
from elinkctl.ingest.mailparts import (
    SINGLE_BYTE_MARK,
    Walker,
    addresses,
    declared_charsets,
    decode_bytes,
    decode_header_value,
    get_header,
    header_text,
    message_ids,
    normalise_body,
    parse_date,
)
from elinkctl.ingest.mimefix import prefer_multipart_type, word_charsets

__all__ = [
    "TRUNCATION_NOTE",
    "ParsedEmail",
    "clean_subject",
    "decode_bytes",
    "decode_header_value",
    "find_ticket_ids",
    "parse_email",
]

#: Appended (after a blank line) to a body cut at ``max_body`` characters.
TRUNCATION_NOTE = "[…正文过长，已截断]"

# Incident IDs: INC-YYMMDD-XXXXX, X from Crockford base32 (no I, L, O, U).
# I, L and O are matched too because people retype IDs; like everywhere an
# ID is typed (elinkctl.domain.ids) they are read as 1, 1 and 0.
_TICKET_ID_RE = re.compile(
    r"(?<![0-9A-Za-z])INC-(\d{6})-([0-9A-TV-Z]{5})(?![0-9A-Za-z])", re.IGNORECASE
)

# Reply/forward markers of common clients, Chinese and English; a full-width
# colon (：) is as common as an ASCII one in Chinese mail. ``Re[2]:`` and
# ``RE：`` variants included. Repeated prefixes are all stripped.
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|回复|回覆|答复|转发|轉寄|转寄)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*"
    # The tags mail gateways put before external mail (Exchange, Coremail,
    # 腾讯企业邮 security gateways): where it came from, not what it is about.
    r"|[\[【(（]\s*(?:外部邮件|外部郵件|外部|external|ext|外来邮件|外部来信)\s*[\]】)）]\s*[:：]?\s*)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedEmail:
    """What a mail says, decoded to ``str``.

    ``body`` is plain text with ``\\n`` line ends; for HTML-only mail it is
    the readable text of the HTML. ``attachments`` are decoded file names
    in message order (parts without a name appear as ``unnamed (type/sub)``).
    ``date`` is aware; a missing or unparsable ``Date`` gives ``None`` so the
    caller uses the receive time instead.
    """

    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    from_name: str
    from_addr: str
    to: list[str]
    subject: str
    date: dt.datetime | None
    body: str
    attachments: list[str] = field(default_factory=list)
    truncated: bool = False
    cc: list[str] = field(default_factory=list)
    automatic: Automatic | None = None
    """Set for a bounce or an automatic reply (:mod:`elinkctl.ingest.automail`)."""
    notes: tuple[str, ...] = ()
    """What parsing had to guess or could not keep (for the desk, one line each)."""

    @property
    def ticket_ids(self) -> list[str]:
        """Incident IDs named in the subject (a reply to a notification)."""
        return find_ticket_ids(self.subject)

    @property
    def title(self) -> str:
        """The subject without reply/forward prefixes — a ticket title."""
        return clean_subject(self.subject)


# ---------------------------------------------------------------------------
# Subjects and IDs
# ---------------------------------------------------------------------------


def find_ticket_ids(subject: str) -> list[str]:
    """Incident IDs in ``subject``, upper-cased, in order, without repeats.

    Matching is case-insensitive because some clients and users lower-case
    subjects, and the look-alike letters I, L, O read as 1, 1, 0 (Crockford).
    The date part must be a real date so numbers that merely look alike
    (``INC-999999-…``) are not taken for a ticket.
    """
    found: list[str] = []
    for match in _TICKET_ID_RE.finditer(subject):
        try:
            dt.datetime.strptime(match.group(1), "%y%m%d")
        except ValueError:
            continue
        ticket_id = normalize_fragment(match.group(0))
        if is_valid(ticket_id) and ticket_id not in found:
            found.append(ticket_id)
    return found


def clean_subject(subject: str) -> str:
    """``subject`` without leading ``Re:``/``回复:``/``答复:``/``Fwd:``/``转发:`` …
    and mail gateways' ``[外部邮件]``/``[External]`` tags.

    Whitespace is collapsed. A ticket tag such as ``[INC-…]`` is kept: it
    is part of what the sender wrote and tells a reader where it came from.
    """
    text = " ".join(subject.split())
    return _PREFIX_RE.sub("", text).strip()


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _looks_binary(data: bytes) -> bool:
    head = data[:2048]
    if b"\x00" in head:
        return True
    # Mail headers are 7-bit text; lots of control bytes means it is not mail.
    # (ESC and form feed are legitimate: ISO-2022-JP text, printed forms.)
    controls = sum(1 for b in head if b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))
    return controls > len(head) // 20


def parse_email(data: bytes, *, max_body: int = 64_000) -> ParsedEmail:
    """Parse one RFC 5322 message.

    ``max_body`` caps the body in characters (a forwarded log dump must not
    become a megabyte ticket file); a cut body ends with
    :data:`TRUNCATION_NOTE` after a blank line and ``truncated`` is set.

    Raises :class:`IngestError` for empty input, binary data, or a message
    with neither ``From`` nor ``Subject``.
    """
    if not isinstance(data, bytes | bytearray):
        raise IngestError(f"email must be bytes, not {type(data).__name__}")
    if max_body < 1:
        raise IngestError(f"max_body must be positive, got {max_body}")
    if not data.strip():
        raise IngestError("email is empty")
    if _looks_binary(bytes(data)):
        raise IngestError("input is not an email message (binary data)")
    # compat32 gives us raw header text (with surrogate escapes for 8-bit
    # bytes) so that we, not the library, choose how to decode Chinese.
    check_mail_shape(bytes(data))
    data = prefer_multipart_type(bytes(data)) or data  # two Content-Types: the multipart
    try:
        msg = email.message_from_bytes(bytes(data))
    except RecursionError:
        raise IngestError(f"email: nested more than {MAX_MIME_DEPTH} levels deep") from None
    if msg.get("From") is None and msg.get("Subject") is None:
        raise IngestError("input is not an email message: no From or Subject header")

    charsets = declared_charsets(msg)
    walker = Walker(charsets)
    try:
        walker.walk(msg)
        walker.forwarded_text()
    except RecursionError:
        raise IngestError(f"email: nested more than {MAX_MIME_DEPTH} levels deep") from None
    body = normalise_body("\n\n".join(walker.texts))
    truncated = len(body) > max_body
    if truncated:
        body = body[:max_body].rstrip() + "\n\n" + TRUNCATION_NOTE

    # The charsets the headers' own encoded words name witness raw bytes too
    # (a Windows-1252 From beside a raw Latin-1 Subject).
    heads = [str(msg.get(name, "")) for name in ("From", "Subject", "To", "Cc")]
    charsets.extend(c for c in word_charsets(heads) if c not in charsets)
    if SINGLE_BYTE_MARK in walker.notes:
        charsets.append("")  # the body is single-byte text: so are raw headers
    raw_from = header_text(msg.get("From", ""), charsets)
    parsed = email.utils.getaddresses([raw_from])
    from_name, from_addr = parsed[0] if parsed else ("", "")
    from_name = decode_header_value(from_name, charsets).strip().strip('"').strip()
    from_addr = from_addr.strip()
    if not from_addr and "@" in raw_from:
        from_addr = raw_from.strip().strip("<>")

    own_ids = message_ids(get_header(msg, "Message-ID"))
    in_reply_to = message_ids(get_header(msg, "In-Reply-To"))
    subject_notes: list[str] = []
    raw_subject = get_header(msg, "Subject", charsets)
    subject = decode_header_value(raw_subject, charsets, subject_notes)
    notes = [n for n in dict.fromkeys(walker.notes) if n != SINGLE_BYTE_MARK]
    notes += [n.replace("a header's", "the subject's") for n in subject_notes]
    return ParsedEmail(
        message_id=own_ids[0] if own_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=message_ids(get_header(msg, "References")),
        from_name=from_name,
        from_addr=from_addr,
        to=addresses(msg, "To", charsets),
        subject=subject,
        date=parse_date(get_header(msg, "Date")),
        body=body,
        attachments=walker.attachments,
        truncated=truncated,
        cc=addresses(msg, "Cc", charsets),
        automatic=classify(msg, subject=subject, from_addr=from_addr),
        notes=tuple(notes),
    )
