"""The parts of a mail a ticket needs: headers decoded, body texts, attachment names.

The MIME walk and the header decoding behind
:func:`elinkctl.ingest.mail.parse_email`, kept apart so that each stays
readable: charsets are chosen by :mod:`elinkctl.ingest.charsets`, broken
multiparts repaired by :mod:`elinkctl.ingest.mimefix`, HTML read by
:mod:`elinkctl.ingest.html`. Whatever text cannot be used is said in a note
(``Walker.notes``), never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.utils
import re
from collections.abc import Sequence
from email.errors import MessageError
from email.message import Message

from elinkctl.ingest.charsets import codec_for, decode_header_bytes, decode_text, garbled_utf7
from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.html import html_to_text
from elinkctl.ingest.limits import MAX_MIME_DEPTH, YEARS
from elinkctl.ingest.mimefix import (
    DATA_TEXT,
    MAX_REPAIRS,
    escape_raw_qwords,
    lenient_words,
    looks_like_html,
    one_line_label,
    repair_multipart,
    strip_scaffolding,
)

__all__ = [
    "SINGLE_BYTE_MARK",
    "Walker",
    "addresses",
    "declared_charsets",
    "decode_bytes",
    "decode_header_value",
    "get_header",
    "header_text",
    "message_ids",
    "normalise_body",
    "parse_date",
]

_MSG_ID_RE = re.compile(r"<[^<>\s]+>")
_ENRICHED_RE = re.compile(r"<<|</?[A-Za-z][A-Za-z0-9-]{0,40}>")


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
    """Recover raw 8-bit header bytes the parser kept as surrogate escapes,
    and raw ISO-2022-JP (7-bit, but escape sequences, not encoded words:
    old Japanese clients)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        if "\x1b$" in text or "\x1b(" in text:
            try:
                return text.encode("ascii").decode("iso2022_jp_ext")
            except (UnicodeError, LookupError):
                return text
        return text
    return _raw_header(text.encode("ascii", "surrogateescape"), charsets)


def _raw_header(raw: bytes, charsets: Sequence[str]) -> str:
    # Raw bytes inside a Q encoded word are the word's charset: =XX them.
    raw = escape_raw_qwords(raw)
    if raw.isascii():
        return raw.decode("ascii")
    # "" in charsets: the body was read as a single-byte charset (see Walker).
    western = "" in charsets
    return decode_header_bytes(raw, [c for c in charsets if c], western=western)


def header_text(value: object, charsets: Sequence[str] = ()) -> str:
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


def decode_header_value(
    value: object, charsets: Sequence[str] = (), notes: list[str] | None = None
) -> str:
    """A header as text: RFC 2047 words decoded, folding removed.

    Python's decoder knows neither that GB2312 labels mean GB18030 nor how
    to survive a broken encoded word, so the decoding of each word's bytes
    is ours; an undecodable header is returned as written rather than lost.
    Raw 8-bit bytes are read in ``charsets`` (the message's declared
    charsets, as codecs) before the UTF-8 and GB18030 fallbacks.
    """
    if value is None:
        return ""
    text = header_text(value, charsets)
    # Unfold first: an encoded word split over two lines is still one word.
    text = re.sub(r"\r?\n[ \t]+", " ", text)
    if "=?" not in text:
        if "utf-7" in charsets and "+" in text:
            text = _UTF7_RUN.sub(_utf7, text)  # Netscape 4 wrote raw UTF-7 headers
        return " ".join(text.split())
    if text.isascii():
        decoded = _decode_words(text, notes)
    else:
        # Raw UTF-8/GBK text beside encoded words: Python's decoder would
        # turn the raw characters into literal "\\uXXXX" text, so only the
        # runs of encoded words go to it.
        decoded = _WORD_RUN.sub(lambda m: _decode_words(m.group(), notes), text)
    decoded = " ".join(decoded.split())
    # A broken word decodes to nothing; then the raw text is more useful.
    return decoded or " ".join(text.split())


_WORD = r"=\?[!->@-~]{1,40}\?[QqBb]\?[!->@-~]*\?="  # printable ASCII but "?"
_WORD_RUN = re.compile(rf"{_WORD}(?:[ \t]+{_WORD})*")


def _decode_words(text: str, notes: list[str] | None) -> str:
    """ASCII text with encoded words, decoded (GB2312 as GB18030, broken words leniently)."""
    try:
        parts = email.header.decode_header(text)
    except (MessageError, ValueError, LookupError):
        # A broken encoded word (bad base64): each word decoded as far as it goes.
        fixed, lost = lenient_words(text)
        if lost and notes is not None:
            notes.append(
                f"a header's encoded words are broken: {lost} piece(s) could not be decoded"
            )
        return fixed
    return "".join(
        chunk if isinstance(chunk, str) else decode_bytes(chunk, charset)
        for chunk, charset in parts
    )


_UTF7_RUN = re.compile(r"\+[A-Za-z0-9/+]{2,80}-")


def _utf7(match: re.Match[str]) -> str:
    try:
        text = match.group().encode("ascii").decode("utf-7")
    except UnicodeError:
        return match.group()
    return text if text.isprintable() else match.group()


def get_header(msg: Message, name: str, charsets: Sequence[str] = ()) -> str | None:
    """A raw header (encoded words kept), 8-bit bytes decoded; None if absent."""
    value = msg.get(name)
    return None if value is None else header_text(value, charsets)


def message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    return _MSG_ID_RE.findall(value)


def parse_date(value: str | None) -> dt.datetime | None:
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


def addresses(msg: Message, name: str, charsets: Sequence[str] = ()) -> list[str]:
    values = [header_text(v, charsets) for v in msg.get_all(name, [])]
    return [addr for _, addr in email.utils.getaddresses(values) if addr]


# ---------------------------------------------------------------------------
# Bodies and attachments
# ---------------------------------------------------------------------------


def _filename(part: Message, charsets: Sequence[str] = ()) -> str | None:
    """The decoded file name of a part, whichever way the client encoded it
    (raw 8-bit names read in the message's declared ``charsets``)."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        source = part
        if isinstance(part.get(header), email.header.Header):
            # Raw 8-bit parameter (an unencoded GBK name): re-read the
            # header from its decoded text so the bytes are not replaced.
            source = Message()
            source[header] = get_header(part, header, charsets) or ""
        raw = source.get_param(param, header=header)
        if raw is None:
            continue
        if isinstance(raw, tuple):
            # RFC 2231: (charset, language, text-with-one-char-per-byte).
            charset, _lang, text = raw
            value = decode_bytes(bytes(text, "raw-unicode-escape"), charset or None)
        else:
            value = email.utils.unquote(str(raw))
        value = decode_header_value(value, charsets)  # RFC 2047 inside quotes, raw 8-bit
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
            f"a {one_line_label(part.get_content_type())} part is not valid in its charset "
            f"({_label(part)}); it was read as Windows-1252"
        )
    elif decoded.mislabelled:
        notes.append(
            f"a {one_line_label(part.get_content_type())} part is not valid in its charset "
            f"({_label(part)}); it was read as {decoded.codec.upper()}"
        )
    elif decoded.how == "big5":
        notes.append(
            f"a {one_line_label(part.get_content_type())} part names no charset; it reads "
            "as Big5 (Traditional Chinese), not GB18030"
        )
    elif decoded.codec == "utf-7" and garbled_utf7(decoded.text):
        notes.append(
            f"a {one_line_label(part.get_content_type())} part's UTF-7 is garbled by its "
            "sender's encoder (characters of other scripts inside words); shown as sent"
        )
    if decoded.replaced and decoded.how != "single-byte":
        label = part.get_content_charset()
        what = f"valid {one_line_label(label)}" if label else "UTF-8 or GB18030 (no charset given)"
        notes.append(
            f"a {one_line_label(part.get_content_type())} part is not {what}: "
            f"{decoded.replaced} character(s) could not be decoded and show as U+FFFD"
        )
    text = decoded.text
    if html or _is_html_document(text):
        return html_to_text(text)
    if part.get_content_subtype() in ("enriched", "richtext"):
        # RFC 1896: formatting commands in <…>, "<<" for a literal "<".
        return _ENRICHED_RE.sub(lambda m: "<" if m.group() == "<<" else "", text)
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


class Walker:
    """Collect body texts, attachment names and notes from a MIME tree.

    ``charsets``: the codecs the message declares (:func:`declared_charsets`),
    for raw 8-bit file names.
    """

    def __init__(self, charsets: Sequence[str] = ()) -> None:
        self.charsets = tuple(charsets)
        self.texts: list[str] = []
        self.attachments: list[str] = []
        self.notes: list[str] = []
        self.forwarded: list[tuple[Message, int]] = []
        self.repairs = 0

    def walk(self, part: Message, depth: int = 0) -> None:
        if depth > MAX_MIME_DEPTH:
            raise IngestError(f"email: multiparts nested more than {MAX_MIME_DEPTH} levels deep")
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            # A forwarded mail is a document the sender attached, not prose
            # (its text is read only when the mail has none of its own).
            self.attachments.append(
                _filename(part, self.charsets) or _forwarded_name(part) or _unnamed(part)
            )
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                self.forwarded.append((inner[0], depth + 1))
            return
        if part.get_content_maintype() == "multipart" and not part.is_multipart():
            self._broken_multipart(part, depth)
            return
        if part.is_multipart():
            before = len(self.texts)
            self._multipart(part, ctype, depth)
            if len(self.texts) == before and depth == 0:
                self._preamble(part)
            return
        if _is_attachment(part):
            self.attachments.append(_filename(part, self.charsets) or _unnamed(part))
            return
        if ctype in DATA_TEXT:
            # An invitation, a vCard, a CSV: data, not prose. It is named
            # like an attachment so that it is on record, not lost.
            self.attachments.append(_unnamed(part))
            return
        text = _part_text(part, self.notes)
        if text.strip():
            self.texts.append(text)

    def _multipart(self, part: Message, ctype: str, depth: int) -> None:
        subparts = [p for p in part.get_payload() if isinstance(p, Message)]
        if ctype == "multipart/alternative":
            self._alternative(subparts, depth + 1)
        elif ctype == "multipart/related" and subparts:
            # One part is the document (RFC 2387: the ``start`` one, else
            # the first; some clients put an image first); the rest are its
            # inline images, which the sender did not attach as files.
            root = _related_root(part, subparts)
            self.walk(root, depth + 1)
            for sub in subparts:
                if sub is root:
                    continue
                if _is_attachment(sub) and _disposition(sub) == "attachment":
                    self.attachments.append(_filename(sub, self.charsets) or _unnamed(sub))
        else:
            for sub in subparts:
                self.walk(sub, depth + 1)

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
        # HTML (or a multipart/related wrapping it) when there is none, or
        # when the plain one could only be read with losses and the HTML
        # version reads cleanly (a wrong label on one part, e.g.).
        plain = [p for p in subparts if p.get_content_type() == "text/plain"]
        damaged: tuple[str, list[str]] | None = None
        for candidate in plain:
            notes: list[str] = []
            text = _part_text(candidate, notes)
            if text.strip():
                if not notes:
                    richer = self._richer(subparts, depth, len(text.strip()))
                    if richer is not None:
                        self._take(richer)
                    else:
                        self.texts.append(text)
                    return
                damaged = damaged or (text, notes)
        tried: list[Walker] = []
        for candidate in reversed(subparts):
            if candidate.get_content_type() != "text/plain":
                trial = Walker(self.charsets)
                trial.repairs = self.repairs
                trial.walk(candidate, depth)
                if trial.texts and (damaged is None or not trial.notes):
                    self._take(trial)
                    return
                tried.append(trial)
        if damaged is not None:
            self.texts.append(damaged[0])
            self.notes.extend(damaged[1])
        for trial in tried:  # no readable version: what they hold is still named
            if damaged is None:
                self._take(trial)
            else:
                self.attachments.extend(trial.attachments)

    def _richer(self, subparts: list[Message], depth: int, plain: int) -> Walker | None:
        """The HTML version when the plain one is only a stub.

        Notification systems put "此邮件为HTML格式，请使用支持HTML的客户端查看" (or
        nothing but a link) in text/plain and the message in HTML. A plain
        text of fewer than 200 characters is checked against the HTML one;
        HTML with three times the text (and 100 characters more) wins.
        """
        if plain >= 200:
            return None
        for candidate in reversed(subparts):
            if candidate.get_content_type() == "text/plain":
                continue
            trial = Walker(self.charsets)
            trial.repairs = self.repairs
            trial.walk(candidate, depth)
            if not trial.texts:
                continue
            size = sum(len(t.strip()) for t in trial.texts)
            if not trial.notes and size > max(3 * plain, plain + 100):
                return trial
            return None
        return None

    def forwarded_text(self) -> None:
        """A mail with no text of its own that forwards one (``message/rfc822``,
        "转发: 系统报错" with the original attached): the forwarded mail's text
        is the report, so it is kept — under a line naming it, with a note."""
        if self.texts or not self.forwarded:
            return
        inner, depth = self.forwarded[0]
        trial = Walker(self.charsets)
        trial.repairs = self.repairs
        trial.walk(inner, depth)
        if not trial.texts:
            return
        subject = decode_header_value(get_header(inner, "Subject", self.charsets))
        sender = decode_header_value(get_header(inner, "From", self.charsets))
        heading = "[转发的邮件] " + " / ".join(x for x in (sender, subject) if x)
        self.texts.append(heading.strip())
        self.texts.extend(trial.texts)
        self.notes.extend(trial.notes)
        self.notes.append(
            "the mail has no text of its own; the text of the mail it forwards was kept"
        )

    def _take(self, other: Walker) -> None:
        self.texts.extend(other.texts)
        self.attachments.extend(other.attachments)
        self.notes.extend(other.notes)
        self.repairs = max(self.repairs, other.repairs)

    def _preamble(self, part: Message) -> None:
        """Text put before the first part (some senders do) when the parts hold none."""
        preamble = part.preamble
        if not preamble or not preamble.strip():
            return
        raw = preamble.encode("ascii", "surrogateescape")
        text = strip_scaffolding(decode_text(raw, part.get_content_charset()).text)
        if text.strip():
            self.texts.append(text)
            self.notes.append(
                "the message's parts hold no text; the text written before its first part was kept"
            )


def _related_root(part: Message, subparts: list[Message]) -> Message:
    start = part.get_param("start")
    if isinstance(start, str) and start.strip():
        wanted = start.strip().strip("<>")
        for sub in subparts:
            if (get_header(sub, "Content-ID") or "").strip().strip("<>") == wanted:
                return sub
    if subparts[0].get_content_maintype() in ("text", "multipart"):
        return subparts[0]
    for sub in subparts:
        if sub.get_content_type() in ("text/html", "text/plain") or sub.is_multipart():
            if _disposition(sub) != "attachment":
                return sub
    return subparts[0]


def _disposition(part: Message) -> str:
    return (get_header(part, "Content-Disposition") or "").split(";", 1)[0].strip().lower()


def _forwarded_name(part: Message) -> str | None:
    if part.get_content_type() != "message/rfc822":
        return None
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        subject = decode_header_value(get_header(inner[0], "Subject"))
        return f"{subject or 'forwarded'}.eml"
    return None


def normalise_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def declared_charsets(msg: Message) -> list[str]:
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
