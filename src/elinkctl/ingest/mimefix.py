"""Broken MIME as real clients send it: what can be recovered, and how safely.

A multipart whose boundary the parser cannot use (no ``boundary=``
parameter; a boundary that never occurs in the body, e.g. folded or
mistyped) leaves Python's parser with one undivided string. Its text is the
sender's message and must not be lost. Two ways to keep it, the first only
when it is safe:

* The body itself shows its parts: a line ``--X`` directly followed by a
  ``Content-…:`` header. Then ``X`` *is* the boundary the header should have
  named, and the parts are read with it (:func:`repair_multipart`).
* Otherwise the body is kept as text, minus what is unambiguously MIME
  scaffolding: the "This is a multi-part message in MIME format." preamble
  (:func:`strip_scaffolding`). Nothing else is removed: a guess that cuts
  the sender's words is worse than a stray line.

Every repair re-parses the body once; :data:`MAX_REPAIRS` bounds how often
one message may ask for it, so nested broken multiparts stay cheap.

A header block with two ``Content-Type`` fields (a client's ``text/plain``
and a gateway's ``multipart/mixed``) is read with the multipart one when
its boundary occurs in the body (:func:`prefer_multipart_type`); otherwise
Python takes the first, and the parts' headers end up in the text.

Broken RFC 2047 encoded words are repaired here too: raw 8-bit bytes inside
a ``Q`` word (Eudora writes ``=?iso-8859-1?Q?Fr<0xF6>sche?=``) are the
word's own charset, so they become ``=F6`` (:func:`escape_raw_qwords`); a
word Python's decoder refuses (bad base64 padding) is decoded word by word
(:func:`lenient_words`); the charsets the words name are witnesses for raw
header bytes elsewhere in the mail (:func:`word_charsets`).
"""

from __future__ import annotations

import base64
import binascii
import email
import quopri
import re
from collections.abc import Iterable
from email.errors import MessageError
from email.message import Message

from elinkctl.ingest.charsets import codec_for, decode_text

__all__ = [
    "DATA_TEXT",
    "escape_raw_qwords",
    "lenient_words",
    "word_charsets",
    "MAX_REPAIRS",
    "MAX_REPAIR_BYTES",
    "find_boundary",
    "looks_like_html",
    "one_line_label",
    "prefer_multipart_type",
    "repair_multipart",
    "strip_scaffolding",
]

MAX_REPAIRS = 4
"""Broken multiparts one message may have re-parsed (each re-parse reads its body once)."""

MAX_REPAIR_BYTES = 4 * 1024 * 1024
"""A larger broken multipart is kept as text rather than re-parsed."""

DATA_TEXT = frozenset(
    {
        "text/calendar",
        "text/vcard",
        "text/x-vcard",
        "text/directory",
        "text/x-vcalendar",
        "text/csv",
        "text/tab-separated-values",
        "text/xml",
        "text/css",
        "text/javascript",
        "text/rtf",
        "text/rfc822-headers",
    }
)
"""Inline text parts that are data rather than prose (an invitation, a vCard,
a CSV): listed like attachments, ``unnamed (text/calendar)``, so they are on
record without becoming the description."""

# A boundary line: "--" and 1–70 characters of RFC 2046's set (plus the
# characters real clients use anyway), then a MIME header line.
_DELIMITER_RE = re.compile(
    rb"^--([^\s\"\\\\][^\r\n\"\\\\]{0,69}?)[ \t]*\r?\n(?:\r?\n)?content-[a-z-]+[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_PREAMBLE_RE = re.compile(
    r"\A\s*this is a multi-?part message in mime format\.?[^\n]*(?:\n|\Z)", re.IGNORECASE
)
_HTML_RE = re.compile(r"<(?:html|body|div|p|br|table|span|font)\b[^>]*>", re.IGNORECASE)
_LABEL_JUNK_RE = re.compile(r"[^\x20-\x7e]")
_CTYPE_RE = re.compile(r"\Amultipart/[a-z0-9.+-]{1,40}\Z")


def find_boundary(raw: bytes) -> bytes | None:
    """The boundary the body actually uses, or None if it shows none.

    Only a ``--X`` line followed by a ``Content-…:`` header counts: a
    line of dashes in the sender's text is not followed by one.
    """
    match = _DELIMITER_RE.search(raw)
    if match is None:
        return None
    boundary = match.group(1).rstrip()
    if boundary.endswith(b"--") and raw.count(b"--" + boundary[:-2]) > 1:
        boundary = boundary[:-2]
    return boundary or None


def repair_multipart(content_type: str, raw: bytes) -> Message | None:
    """The multipart re-read with the boundary its body uses, or None.

    ``content_type`` is the broken part's type (``multipart/mixed``, …);
    ``raw`` its undivided body. None when no boundary shows, when the body
    is too large to re-parse, or when the re-read finds no parts either.
    """
    if len(raw) > MAX_REPAIR_BYTES:
        return None
    boundary = find_boundary(raw)
    if boundary is None:
        return None
    try:
        token = boundary.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not _CTYPE_RE.match(content_type):
        content_type = "multipart/mixed"  # junk in the type: the parts are what matter
    header = f'Content-Type: {content_type}; boundary="{token}"\n\n'.encode("ascii")
    try:
        repaired = email.message_from_bytes(header + raw)
    except (RecursionError, ValueError, UnicodeError, MessageError):
        return None
    if not repaired.is_multipart():
        return None
    parts = repaired.get_payload()
    if not isinstance(parts, list) or not parts:
        return None
    return repaired


def strip_scaffolding(text: str) -> str:
    """``text`` without the standard multipart preamble line (nothing else)."""
    return _PREAMBLE_RE.sub("", text, count=1)


def looks_like_html(text: str) -> bool:
    """Whether undivided text is markup (then it is read as HTML, not shown as tags)."""
    head = text[:4096]
    return len(_HTML_RE.findall(head)) >= 2


def one_line_label(label: str) -> str:
    """A charset label as a note may quote it: printable ASCII, at most 40 characters."""
    text = _LABEL_JUNK_RE.sub("?", label.strip())
    return text if len(text) <= 40 else text[:39] + "…"


_RAW_QWORD = re.compile(rb"(=\?[A-Za-z0-9_.:*-]{1,40}\?[Qq]\?)([^?\s]*)(\?=)")
_WORD = re.compile(r"=\?([A-Za-z0-9_.:*-]{1,40})\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t]+(?==\?)")


def escape_raw_qwords(raw: bytes) -> bytes:
    """Raw 8-bit bytes inside ``Q`` encoded words written as ``=XX``.

    The word names its charset; a raw byte in it is a client's shortcut
    (Eudora), not a byte of some other charset.
    """

    def one(match: re.Match[bytes]) -> bytes:
        body = re.sub(rb"[\x80-\xff]", lambda b: b"=%02X" % b.group()[0], match.group(2))
        return match.group(1) + body + match.group(3)

    return _RAW_QWORD.sub(one, raw)


def word_charsets(values: Iterable[str]) -> list[str]:
    """The codecs the encoded words in ``values`` (raw header texts) name."""
    found: list[str] = []
    for value in values:
        for match in _WORD.finditer(value):
            codec = codec_for(match.group(1).split("*")[0])
            if codec is not None and codec not in found:
                found.append(codec)
    return found


def _b64(data: str) -> bytes | None:
    data = data.rstrip("=")
    if len(data) % 4 == 1:
        data = data[:-1]  # a lone sextet carries no whole byte
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None


def _word_readings(encoding: str, data: str) -> list[bytes]:
    """The byte strings an encoded word's payload may stand for.

    A ``B`` word whose base64 lost its first characters (a client cut the
    word) is read from each of the four alignments; the caller keeps the
    one that decodes best.
    """
    if encoding in "Qq":
        try:
            return [quopri.decodestring(data.encode("ascii"), header=True)]
        except (ValueError, UnicodeEncodeError):
            return []
    return [raw for k in range(min(4, len(data))) if (raw := _b64(data[k:])) is not None]


def _badness(text: str) -> int:
    return sum(1 for ch in text if ch == "\ufffd" or not ch.isprintable())


def lenient_words(text: str) -> tuple[str, int]:
    """Encoded words decoded one by one, for a header Python's decoder refused.

    Returns the text and how many characters could not be decoded (U+FFFD,
    or words kept as written): the caller says so in a note. A word that
    decodes to more junk than text is kept as written.
    """
    lost = 0

    def one(match: re.Match[str]) -> str:
        nonlocal lost
        label = match.group(1).split("*")[0]
        texts = [
            decode_text(raw, label).text for raw in _word_readings(match.group(2), match.group(3))
        ]
        best = min(texts, key=_badness, default="")
        bad = _badness(best)
        if not best or bad * 3 > len(best):
            lost += 1
            return match.group(0)
        lost += bad
        # A character cut at either end of the word is said in the note, not shown.
        return "".join(ch if ch.isprintable() else "\ufffd" for ch in best).strip("\ufffd")

    return _WORD.sub(one, _BETWEEN_WORDS.sub("", text)), lost


_HEAD_END = re.compile(rb"\r?\n\r?\n")
_FIELD_SPLIT = re.compile(rb"\r?\n(?![ \t])")
_MULTIPART_TYPE = re.compile(
    rb"\Acontent-type:\s*multipart/[a-z0-9.+-]{1,40}\s*;.*?boundary\s*=\s*\"?([^\"\r\n;]{1,70})",
    re.IGNORECASE | re.DOTALL,
)


def prefer_multipart_type(data: bytes) -> bytes | None:
    """The mail with only its multipart ``Content-Type``, or None if no change.

    Only when the top header block has two or more ``Content-Type`` fields
    and a multipart one names a boundary that the body uses; the other
    types and the top ``Content-Transfer-Encoding`` (a multipart's is
    always 7bit) are dropped.
    """
    end = _HEAD_END.search(data)
    if end is None or data[: end.start()].lower().count(b"content-type:") < 2:
        return None
    head, body = data[: end.start()], data[end.start() :]
    fields = _FIELD_SPLIT.split(head)
    types = [f for f in fields if f.lower().startswith(b"content-type:")]
    if len(types) < 2:
        return None
    for chosen in types:
        match = _MULTIPART_TYPE.match(chosen)
        if match is None or b"\n--" + match.group(1).strip() not in body:
            continue
        drop = (b"content-type:", b"content-transfer-encoding:")
        kept = [f for f in fields if f is chosen or not f.lower().startswith(drop)]
        return (b"\r\n" if b"\r\n" in head else b"\n").join(kept) + body
    return None
