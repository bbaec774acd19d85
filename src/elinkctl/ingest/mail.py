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
  bytes (sent by some old clients without any encoding) are read as UTF-8,
  then GB18030.
* Every GB2312/GBK/CP936/EUC-CN label is decoded as GB18030: it is a strict
  superset, and clients routinely label GBK text (e.g. 镕, 喆, 堃) as
  GB2312. A declared charset that does not decode the bytes falls back to
  UTF-8, then GB18030, and only then to the declared one with U+FFFD
  replacement — a body is never lost to one bad byte.
* A part without a charset is tried as UTF-8, then GB18030.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.errors import MessageError
from email.message import Message

from elinkctl.domain.ids import is_valid, normalize_fragment
from elinkctl.ingest.automail import Automatic, classify
from elinkctl.ingest.charsets import codec_for, decode_header_bytes, decode_text
from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.html import html_to_text
from elinkctl.ingest.limits import MAX_MIME_DEPTH, YEARS, check_mail_shape
from elinkctl.ingest.mimefix import (
    DATA_TEXT,
    MAX_REPAIRS,
    looks_like_html,
    one_line_label,
    repair_multipart,
    strip_scaffolding,
)

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
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|回复|回覆|答复|转发|轉寄|转寄)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)

_MSG_ID_RE = re.compile(r"<[^<>\s]+>")


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

    Whitespace is collapsed. A ticket tag such as ``[INC-…]`` is kept: it
    is part of what the sender wrote and tells a reader where it came from.
    """
    text = " ".join(subject.split())
    return _PREFIX_RE.sub("", text).strip()


# ---------------------------------------------------------------------------
# Charsets and headers
# ---------------------------------------------------------------------------


def decode_bytes(raw: bytes, label: str | None = None) -> str:
    """Decode ``raw`` using its declared charset, falling back sensibly.

    The order (BOM, the label, UTF-8, GB18030, replacement) is
    :func:`elinkctl.ingest.charsets.decode_text`'s.
    """
    return decode_text(raw, label).text


def _unescape_raw(text: str, charsets: Sequence[str] = ()) -> str:
    """Recover raw 8-bit header bytes the parser kept as surrogate escapes."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return _raw_header(text.encode("ascii", "surrogateescape"), charsets)


def _raw_header(raw: bytes, charsets: Sequence[str]) -> str:
    # "" in charsets: the body was read as a single-byte charset (see _Walker).
    western = "" in charsets
    return decode_header_bytes(raw, [c for c in charsets if c], western=western)


def _header_text(value: object, charsets: Sequence[str] = ()) -> str:
    """A header's text with raw 8-bit bytes decoded; encoded words left as is.

    The compat32 parser hands back an ``email.header.Header`` (charset
    ``unknown-8bit``) for a header that contains raw bytes, and its
    ``str()`` would replace every such byte by U+FFFD — so take its chunks.
    Raw bytes are read in the charsets the message declares (``charsets``).
    """
    if isinstance(value, email.header.Header):
        chunks = email.header.decode_header(value)
        return "".join(
            _raw_header(chunk, charsets) if isinstance(chunk, bytes) else chunk
            for chunk, _cs in chunks
        )
    return _unescape_raw(str(value), charsets)


def decode_header_value(value: object, charsets: Sequence[str] = ()) -> str:
    """A header as text: RFC 2047 words decoded, folding removed.

    Python's decoder knows neither that GB2312 labels mean GB18030 nor how
    to survive a broken encoded word, so the decoding of each word's bytes
    is ours; an undecodable header is returned as written rather than lost.
    Raw 8-bit bytes are read in ``charsets`` (the message's declared
    charsets, as codecs) before the UTF-8 and GB18030 fallbacks.
    """
    if value is None:
        return ""
    text = _header_text(value, charsets)
    # Unfold first: an encoded word split over two lines is still one word.
    text = re.sub(r"\r?\n[ \t]+", " ", text)
    if "=?" not in text:
        return " ".join(text.split())
    try:
        parts = email.header.decode_header(text)
    except (MessageError, ValueError, LookupError):
        # A broken encoded word (junk in its charset, bad base64): as written.
        return " ".join(text.split())
    pieces: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            pieces.append(chunk)
        else:
            pieces.append(decode_bytes(chunk, charset))
    decoded = " ".join("".join(pieces).split())
    # A broken word decodes to nothing; then the raw text is more useful.
    return decoded or " ".join(text.split())


def _get(msg: Message, name: str, charsets: Sequence[str] = ()) -> str | None:
    """A raw header (encoded words kept), 8-bit bytes decoded; None if absent."""
    value = msg.get(name)
    return None if value is None else _header_text(value, charsets)


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    return _MSG_ID_RE.findall(value)


def _parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # a hostile Date (a year of twenty digits) is ignored, like a bad one
    if when is None:  # pragma: no cover - typeshed says it may be
        return None
    if when.tzinfo is None:
        # "-0000" means "UTC, local zone unknown" (RFC 5322 §3.3).
        when = when.replace(tzinfo=dt.UTC)
    if not YEARS[0] <= when.year <= YEARS[1]:
        return None  # informative only: an impossible Date is ignored
    return when


def _addresses(msg: Message, name: str, charsets: Sequence[str] = ()) -> list[str]:
    values = [_header_text(v, charsets) for v in msg.get_all(name, [])]
    return [addr for _, addr in email.utils.getaddresses(values) if addr]


# ---------------------------------------------------------------------------
# Bodies and attachments
# ---------------------------------------------------------------------------


def _filename(part: Message) -> str | None:
    """The decoded file name of a part, whichever way the client encoded it."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        source = part
        if isinstance(part.get(header), email.header.Header):
            # Raw 8-bit parameter (an unencoded GBK name): re-read the
            # header from its decoded text so the bytes are not replaced.
            source = Message()
            source[header] = _get(part, header) or ""
        raw = source.get_param(param, header=header)
        if raw is None:
            continue
        if isinstance(raw, tuple):
            # RFC 2231: (charset, language, text-with-one-char-per-byte).
            charset, _lang, text = raw
            value = decode_bytes(bytes(text, "raw-unicode-escape"), charset or None)
        else:
            value = email.utils.unquote(str(raw))
        value = decode_header_value(value)  # RFC 2047 inside quotes, raw 8-bit
        # Windows clients send full paths now and then; the name is enough.
        value = value.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if value:
            return value
    return None


def _is_attachment(part: Message) -> bool:
    if _disposition(part) == "attachment":
        return True
    if part.get_content_maintype() == "text":
        # Apple Mail sends attached .txt/.log files as *inline* parts with a
        # file name; body text never has one. A log must not become the body.
        return _filename(part) is not None
    return part.get_content_maintype() != "multipart"


SINGLE_BYTE_MARK = ""
"""Put in a walker's notes (and dropped from the mail's) when a body part had
to be read as Windows-1252: a witness for decoding raw 8-bit headers."""


def _part_text(part: Message, notes: list[str]) -> str:
    """A text part's readable text; how its bytes were read goes to ``notes``."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    html = part.get_content_subtype() == "html"
    decoded = decode_text(payload, part.get_content_charset(), html=html)
    if decoded.how == "single-byte":
        notes.append(SINGLE_BYTE_MARK)
        notes.append(
            f"a {part.get_content_type()} part is not valid in its charset "
            f"({_label(part)}); it was read as Windows-1252"
        )
    elif decoded.replaced:
        notes.append(
            f"a {part.get_content_type()} part is not valid {_label(part)}: "
            f"{decoded.replaced} character(s) could not be decoded and show as \ufffd"
        )
    text = decoded.text
    if html or _is_html_document(text):
        return html_to_text(text)
    return text


def _label(part: Message) -> str:
    label = part.get_content_charset()
    if not label or not label.strip():
        return "no charset given"
    return one_line_label(label)


def _is_html_document(text: str) -> bool:
    """Some web forms and ticket bridges send a whole HTML page as text/plain."""
    head = text.lstrip()[:15].lower()
    return head.startswith(("<!doctype html", "<html"))


def _unnamed(part: Message) -> str:
    return f"unnamed ({part.get_content_type()})"


class _Walker:
    """Collect body texts, attachment names and notes from a MIME tree."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.attachments: list[str] = []
        self.notes: list[str] = []
        self.repairs = 0

    def walk(self, part: Message, depth: int = 0) -> None:
        if depth > MAX_MIME_DEPTH:
            raise IngestError(f"email: multiparts nested more than {MAX_MIME_DEPTH} levels deep")
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            # A forwarded mail is a document the sender attached, not prose.
            self.attachments.append(_filename(part) or _forwarded_name(part) or _unnamed(part))
            return
        if part.get_content_maintype() == "multipart" and not part.is_multipart():
            self._broken_multipart(part, depth)
            return
        if part.is_multipart():
            subparts = [p for p in part.get_payload() if isinstance(p, Message)]
            if ctype == "multipart/alternative":
                self._alternative(subparts, depth + 1)
            elif ctype == "multipart/related" and subparts:
                # The first part is the document; the rest are its inline
                # images, which the sender did not attach as files.
                self.walk(subparts[0], depth + 1)
                for sub in subparts[1:]:
                    if _is_attachment(sub) and _disposition(sub) == "attachment":
                        self.attachments.append(_filename(sub) or _unnamed(sub))
            else:
                for sub in subparts:
                    self.walk(sub, depth + 1)
            return
        if _is_attachment(part):
            self.attachments.append(_filename(part) or _unnamed(part))
            return
        if ctype in DATA_TEXT:
            # An invitation, a vCard, a CSV: data, not prose. It is named
            # like an attachment so that it is on record, not lost.
            self.attachments.append(_unnamed(part))
            return
        text = _part_text(part, self.notes)
        if text.strip():
            self.texts.append(text)

    def _broken_multipart(self, part: Message, depth: int) -> None:
        """A multipart the parser could not split: recover its parts or keep its text."""
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        why = "no boundary" if part.get_boundary() is None else "its boundary never occurs"
        if self.repairs < MAX_REPAIRS:
            self.repairs += 1
            repaired = repair_multipart(part.get_content_type(), raw)
            if repaired is not None:
                self.notes.append(
                    f"the message's multipart structure is broken ({why}): "
                    "its parts were read at the boundary found in the text"
                )
                self.walk(repaired, depth + 1)
                return
        decoded = decode_text(raw, part.get_content_charset())
        text = strip_scaffolding(decoded.text)
        if _is_html_document(text) or looks_like_html(text):
            text = html_to_text(text)
        if text.strip():
            self.texts.append(text)
            self.notes.append(
                f"the message's multipart structure is broken ({why}): its text was kept as sent"
            )
        elif raw.strip():
            self.notes.append(
                f"the message's multipart structure is broken ({why}) and holds no readable text"
            )

    def _alternative(self, subparts: list[Message], depth: int) -> None:
        # Prefer the plain version the sender's client wrote; fall back to
        # HTML (or a multipart/related wrapping it) only if there is none.
        plain = [p for p in subparts if p.get_content_type() == "text/plain"]
        for candidate in plain:
            notes: list[str] = []
            text = _part_text(candidate, notes)
            if text.strip():
                self.texts.append(text)
                self.notes.extend(notes)
                return
        for candidate in reversed(subparts):
            if candidate.get_content_type() != "text/plain":
                before = len(self.texts)
                self.walk(candidate, depth)
                if len(self.texts) > before:
                    return


def _disposition(part: Message) -> str:
    return (_get(part, "Content-Disposition") or "").split(";", 1)[0].strip().lower()


def _forwarded_name(part: Message) -> str | None:
    if part.get_content_type() != "message/rfc822":
        return None
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        subject = decode_header_value(_get(inner[0], "Subject"))
        return f"{subject or 'forwarded'}.eml"
    return None


def _normalise_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


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
    try:
        msg = email.message_from_bytes(bytes(data))
    except RecursionError:
        raise IngestError(f"email: nested more than {MAX_MIME_DEPTH} levels deep") from None
    if msg.get("From") is None and msg.get("Subject") is None:
        raise IngestError("input is not an email message: no From or Subject header")

    walker = _Walker()
    try:
        walker.walk(msg)
    except RecursionError:
        raise IngestError(f"email: nested more than {MAX_MIME_DEPTH} levels deep") from None
    body = _normalise_body("\n\n".join(walker.texts))
    truncated = len(body) > max_body
    if truncated:
        body = body[:max_body].rstrip() + "\n\n" + TRUNCATION_NOTE

    charsets = _declared_charsets(msg)
    if SINGLE_BYTE_MARK in walker.notes:
        charsets.append("")  # the body is single-byte text: so are raw headers
    raw_from = _header_text(msg.get("From", ""), charsets)
    parsed = email.utils.getaddresses([raw_from])
    from_name, from_addr = parsed[0] if parsed else ("", "")
    from_name = decode_header_value(from_name, charsets).strip().strip('"').strip()
    from_addr = from_addr.strip()
    if not from_addr and "@" in raw_from:
        from_addr = raw_from.strip().strip("<>")

    message_ids = _message_ids(_get(msg, "Message-ID"))
    in_reply_to = _message_ids(_get(msg, "In-Reply-To"))
    subject = decode_header_value(_get(msg, "Subject", charsets), charsets)
    notes = [n for n in dict.fromkeys(walker.notes) if n != SINGLE_BYTE_MARK]
    return ParsedEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_message_ids(_get(msg, "References")),
        from_name=from_name,
        from_addr=from_addr,
        to=_addresses(msg, "To", charsets),
        subject=subject,
        date=_parse_date(_get(msg, "Date")),
        body=body,
        attachments=walker.attachments,
        truncated=truncated,
        cc=_addresses(msg, "Cc", charsets),
        automatic=classify(msg, subject=subject, from_addr=from_addr),
        notes=tuple(notes),
    )


def _declared_charsets(msg: Message) -> list[str]:
    """The codecs the message's parts declare (``charset=``), in message order.

    Raw 8-bit header bytes carry no charset of their own; the body's is the
    best witness. Iterative and bounded (the part count was checked before
    parsing; the depth is cut at :data:`MAX_MIME_DEPTH`).
    """
    found: list[str] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        codec = codec_for(part.get_content_charset())
        if codec is not None and codec not in found:
            found.append(codec)
        if depth < MAX_MIME_DEPTH and part.is_multipart():
            subparts = [p for p in part.get_payload() if isinstance(p, Message)]
            stack.extend((sub, depth + 1) for sub in reversed(subparts))
    return found
