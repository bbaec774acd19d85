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
"""

from __future__ import annotations

import email
import re
from email.errors import MessageError
from email.message import Message

__all__ = [
    "DATA_TEXT",
    "MAX_REPAIRS",
    "MAX_REPAIR_BYTES",
    "find_boundary",
    "looks_like_html",
    "one_line_label",
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
    r"\A\s*this is a multi-?part message in mime format\.?[^\n]*\n", re.IGNORECASE
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
