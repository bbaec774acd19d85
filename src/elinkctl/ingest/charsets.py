"""Bytes of a mail as text: which charset, in which order, and when to say so.

Real mail lies about its charset in every way: GBK labelled GB2312, Latin-1
labelled UTF-8, Windows' own labels (``unicode``, ``unicodebig``) that no
standard knows, labels with junk (``"utf-8\\"``, ``charset=gbk;``), a wrong
MIME label on HTML whose ``<meta charset>`` is right, no label at all but a
byte order mark. The order below is the one that gives the sender's text
whenever it can be decoded at all; replacement characters (U+FFFD) are the
last resort, and then the caller is told how many (it becomes a note for
the desk), never silent:

1. A byte order mark (UTF-8, UTF-16, UTF-32): it cannot be there by chance.
2. The declared label, if it decodes the bytes strictly — unless the bytes
   are valid UTF-8 with three or more non-ASCII characters, which no other
   multibyte charset produces by accident. A *single-byte*
   label (ISO-8859-x, Windows-125x, KOI8-R, …) is weak evidence — every
   byte sequence decodes — so bytes that are valid UTF-8 with non-ASCII
   text, or an HTML ``<meta>`` naming a multibyte charset that decodes
   them, win over it (Latin text is essentially never valid UTF-8 by
   accident). An ASCII label on 8-bit bytes is plainly wrong: no label.
3. For HTML, the charset its ``<meta>`` declares.
4. UTF-8, then GB18030 (a strict superset of GB2312 and GBK: the desk's
   senders are Chinese) — but only if its reading is plausible Chinese
   (:func:`plausible_gb`): Latin-1 text also decodes as GB18030 ("Det här
   är" as "Det h鋜 鋜"), into rare characters stuck inside Latin words;
   then Windows-1252. When the declared label failed, the caller is told
   (``mislabelled``) and says so in a note.
5. Nothing decodes strictly: the declared charset (else UTF-8) with
   replacement — unless not one non-ASCII character came out right, which
   means the bytes are in some single-byte charset; then Windows-1252 (the
   WHATWG reading of Latin-1), which is what such old Western clients send.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Decoded",
    "codec_for",
    "decode_header_bytes",
    "decode_text",
    "garbled_utf7",
    "meta_charset",
    "plausible_gb",
]

# Charset labels that mean "some GB encoding" — all decoded as GB18030.
_GB_LABELS = frozenset(
    {
        "gb2312",
        "gb_2312",
        "gb_2312-80",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "euc-cn",
        "euccn",
        "x-euc-cn",
        "csgb2312",
        "gb18030",
        "chinese",
    }
)
# Labels Python does not know, or knows as something narrower than what
# senders mean by them (the superset decodes everything the subset does).
_LABEL_ALIASES = {
    "utf8": "utf-8",
    "x-utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    # Windows / .NET names for UTF-16 (Outlook, Exchange, old IIS forms).
    "unicode": "utf-16-le",
    "unicodelittle": "utf-16-le",
    "unicode-1-1": "utf-16-le",
    "ucs-2": "utf-16-le",
    "ucs2": "utf-16-le",
    "iso-10646-ucs-2": "utf-16-be",
    "unicodebig": "utf-16-be",
    "unicodefffe": "utf-16-be",
    "unicodebigunmarked": "utf-16-be",
    "unicodelittleunmarked": "utf-16-le",
    "unicode-1-1-utf-8": "utf-8",
    "unicode-2-0-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "bigendianunicode": "utf-16-be",
    # Traditional Chinese: Big5 with the HKSCS extensions (a superset).
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "x-big5": "big5hkscs",
    "x-x-big5": "big5hkscs",  # Outlook Express
    # 7-bit Chinese of old Usenet and mail clients (HZ: RFC 1843; ISO-2022-CN:
    # RFC 1922, decoded by `_iso2022_cn` below as Python has no codec for it).
    "hz-gb-2312": "hz",
    "hz-gb": "hz",
    "iso-2022-cn": "iso2022_cn_gb",
    "iso-2022-cn-ext": "iso2022_cn_gb",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    # Korean and Japanese: Microsoft's supersets.
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "ksc5601": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-8859-8-i": "iso8859-8",
    # WHATWG: Latin-1 and ASCII labels mean Windows-1252 in practice
    # (Outlook puts curly quotes and € under an iso-8859-1 label).
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "windows-1252": "cp1252",
}
# Labels that name no charset: the same as no label.
# An ASCII label on 8-bit bytes is certainly wrong, so it says nothing either.
_NO_LABEL = frozenset(
    {
        "unknown-8bit",
        "x-unknown",
        "unknown",
        "default",
        "8bit",
        "binary",
        "us-ascii",
        "ascii",
        "ansi_x3.4-1968",
        "us",
        "iso-646-us",
    }
)
_CODEPAGE_RE = re.compile(r"\Acp\d+\Z")
_MULTIBYTE_CODEPAGES = frozenset({"cp932", "cp936", "cp949", "cp950", "cp1361"})
_LABEL_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]*")
_META_RE = re.compile(
    rb"<meta\b[^>]{0,300}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]{1,40})", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Decoded:
    """Decoded text and how it was got.

    ``how``: ``bom``, ``declared``, ``meta``, ``utf-8``, ``gb18030``,
    ``single-byte`` (a guess: Windows-1252) or ``replaced`` (the declared
    charset with ``replaced`` U+FFFD characters).
    """

    text: str
    codec: str
    how: str
    replaced: int = 0
    mislabelled: bool = False


_SO, _SI, _ESC = 0x0E, 0x0F, 0x1B


def _iso2022_cn(data: bytes, errors: str = "strict") -> tuple[str, int]:
    """ISO-2022-CN (RFC 1922) with its GB2312 designation ``ESC $ ) A``: after
    SO, byte pairs are GB2312 without their high bits, until SI or a line end.
    Other designations (CNS 11643) and 8-bit bytes are decoding errors, handled
    as ``errors`` says (``replace`` gives U+FFFD, as every codec does)."""
    out: list[str] = []
    shifted = False
    gb = False
    i = 0
    raw = bytes(data)

    def bad(why: str) -> None:
        if errors == "strict":
            raise UnicodeDecodeError("iso2022_cn_gb", raw, i, i + 1, why)
        if errors == "replace":
            out.append("\ufffd")

    while i < len(raw):
        byte = raw[i]
        if byte == _ESC and raw[i + 1 : i + 4] == b"$)A":
            gb, i = True, i + 4
            continue
        if byte == _SO and gb:
            shifted, i = True, i + 1
            continue
        if byte == _SI:
            shifted, i = False, i + 1
            continue
        if byte in (0x0A, 0x0D):
            shifted = False  # a designation and shift last one line
        if shifted and 0x21 <= byte <= 0x7E and i + 1 < len(raw):
            out.append(bytes((byte | 0x80, raw[i + 1] | 0x80)).decode("gb2312", errors))
            i += 2
            continue
        if byte == _ESC:
            bad("unsupported designation")
        elif byte > 0x7F:
            bad("8-bit byte in 7-bit text")
        else:
            out.append(chr(byte))
        i += 1
    return "".join(out), len(raw)


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != "iso2022_cn_gb":
        return None

    def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
        raise UnicodeError("iso2022_cn_gb: decoding only")

    decode: Any = _iso2022_cn  # typeshed wants a Buffer protocol; bytes is what comes
    return codecs.CodecInfo(encode, decode, name="iso2022_cn_gb")


codecs.register(_find_codec)


def codec_for(label: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None if it names none.

    Junk around the label (quotes, a trailing ``;``, a nested
    ``charset=``, spaces) is ignored: only its first token counts.
    """
    if not label:
        return None
    text = label.strip().strip("\"'").strip()
    if text.lower().startswith("charset="):
        text = text[8:].strip("\"' ")
    token = _LABEL_TOKEN.search(text)
    if token is None:
        return None
    name = token.group(0).lower().rstrip(".:")
    if name in _NO_LABEL:
        return None
    if name in _GB_LABELS or name.startswith("gb2312"):
        return "gb18030"
    name = _LABEL_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _single_byte(codec: str) -> bool:
    """Whether every byte sequence decodes in ``codec`` (no evidence in success)."""
    if _CODEPAGE_RE.match(codec):
        return codec not in _MULTIBYTE_CODEPAGES
    return codec.startswith(("iso8859", "latin", "ascii", "koi8", "mac", "tis", "hp-roman"))


def _wide(codec: str) -> bool:
    return codec.startswith(("utf-16", "utf-32", "utf_16", "utf_32"))


def _strict(raw: bytes, codec: str) -> str | None:
    try:
        return raw.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _non_ascii_utf8(raw: bytes) -> str | None:
    """``raw`` as UTF-8 if it is valid UTF-8 *and* holds non-ASCII text."""
    if raw.isascii():
        return None
    return _strict(raw, "utf-8")


def _surely_utf8(raw: bytes) -> str | None:
    """``raw`` as UTF-8 if it is valid UTF-8 with at least three non-ASCII characters.

    Text in another multibyte charset (GBK, Big5, Shift_JIS) is valid UTF-8
    only by accident, and the chance falls tenfold with every character:
    two (the famous "联通" in GBK) happen, three practically do not.
    """
    text = _non_ascii_utf8(raw)
    if text is None or sum(1 for ch in text if ord(ch) > 0x7F) < 3:
        return None
    return text


def meta_charset(raw: bytes) -> str | None:
    """The codec an HTML document's ``<meta charset>``/``http-equiv`` names."""
    match = _META_RE.search(raw[:8192])
    return codec_for(match.group(1).decode("ascii")) if match else None


def _bom(raw: bytes) -> str | None:
    for mark, codec in _BOMS:
        if raw.startswith(mark):
            return codec
    return None


def decode_text(raw: bytes, label: str | None = None, *, html: bool = False) -> Decoded:
    """Decode a part's bytes in the order this module's docstring gives."""
    bom = _bom(raw)
    if bom is not None:
        text = _strict(raw, bom)
        if text is not None:
            return Decoded(text, bom, "bom")
    codec = codec_for(label)
    meta = meta_charset(raw) if html else None
    if codec is not None and _wide(codec) and b"\x00" not in raw and not raw.isascii():
        # UTF-16 decodes nearly any even number of bytes; text that has no
        # NUL byte at all but is valid UTF-8 was mislabelled.
        if _strict(raw, "utf-8") is not None:
            codec = None
    if codec is not None and _wide(codec) and raw.isascii() and b"\x00" not in raw:
        codec = None  # ASCII under a UTF-16 label: a wrong label, not CJK
    if codec is not None and codec != "utf-8" and not _wide(codec):
        utf8 = _surely_utf8(raw)
        if utf8 is not None:  # e.g. a web form's UTF-8 under its page's gb2312
            return Decoded(utf8, "utf-8", "utf-8")
    if codec is not None:
        text = _strict(raw, codec)
        if text is not None:
            if not _single_byte(codec):
                return Decoded(text, codec, "declared")
            utf8 = _non_ascii_utf8(raw)
            if utf8 is not None and codec != "utf-8":
                return Decoded(utf8, "utf-8", "utf-8")
            if meta is not None and meta != codec and not _single_byte(meta):
                better = _strict(raw, meta)
                if better is not None:
                    return Decoded(better, meta, "meta")
            return Decoded(text, codec, "declared")
    if meta is not None and meta != codec:
        text = _strict(raw, meta)
        if text is not None:
            return Decoded(text, meta, "meta")
    for fallback in ("utf-8", "gb18030"):
        if fallback == codec:
            continue
        if fallback == "gb18030" and (traditional := big5_rather_than_gb(raw)) is not None:
            return Decoded(traditional, "big5hkscs", "big5", mislabelled=codec is not None)
        text = _strict(raw, fallback)
        if text is None:
            continue
        if fallback == "gb18030" and (not plausible_gb(text) or _mostly_utf8(raw, codec)):
            break  # Latin-1 bytes that GB18030 happens to accept, or UTF-8 with a flaw
        return Decoded(text, fallback, fallback, mislabelled=codec is not None)
    return _with_replacement(raw, codec)


def _mostly_utf8(raw: bytes, codec: str | None) -> bool:
    """Declared UTF-8 with a few bad bytes (a cut sequence), not another charset.

    GBK or Latin-1 bytes form valid UTF-8 sequences only here and there; a
    UTF-8 text with one broken byte is mostly valid sequences.
    """
    if codec != "utf-8":
        return False
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    return sum(1 for ch in text if ord(ch) > 0x7F) - bad > bad


def _with_replacement(raw: bytes, codec: str | None) -> Decoded:
    """Nothing decodes strictly: keep what can be kept, count what cannot."""
    if codec in (None, "utf-8"):
        text = raw.decode("utf-8", errors="replace")
        good = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
        if good == 0:
            # Not one multibyte sequence was valid: a single-byte charset.
            guess = raw.decode("cp1252", errors="replace")
            return Decoded(guess, "cp1252", "single-byte", guess.count("\ufffd"))
        return Decoded(text, "utf-8", "replaced", text.count("\ufffd"))
    text = raw.decode(codec, errors="replace")
    return Decoded(text, codec, "replaced", text.count("\ufffd"))


def _gb2312_rare(ch: str) -> bool:
    """Not among GB2312's 3,755 common (level-1) hanzi or its symbols."""
    try:
        lead = ch.encode("gb2312")[0]
    except UnicodeEncodeError:
        return True
    return lead >= 0xD8


def plausible_gb(text: str) -> bool:
    """Whether a GB18030 reading looks like Chinese rather than mojibake.

    Latin-1 text decodes as GB18030 too: an accented letter and the byte
    after it become one hanzi. Such a hanzi is rare (a lowercase accented
    letter is a lead byte of 0xE0 or more: GB2312's level 2, or GBK's
    extension when an ASCII letter follows) and stands alone in or next to
    a Latin word ("Fr鰏che", "Forma玢o", "h鋜 鋜"). Chinese, even with
    rare or traditional hanzi, comes in runs; a common hanzi beside a
    letter ("u盾", "c盘") is Chinese too. Suspicious: a rare hanzi alone or
    touching a letter, or any hanzi alone between two letters. More than
    half of the non-ASCII characters suspicious: mojibake.
    """
    wide = 0
    odd = 0
    for i, ch in enumerate(text):
        if ord(ch) < 0x80:
            continue
        wide += 1
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        alone = ord(before) < 0x80 and ord(after) < 0x80
        left = before.isascii() and before.isalpha()
        right = after.isascii() and after.isalpha()
        if (_gb2312_rare(ch) and (alone or left or right)) or (alone and left and right):
            odd += 1
    return odd * 2 <= wide


def _common_share(text: str, codec: str, first: int, last: int) -> float:
    """Share of the non-ASCII characters of ``text`` that are among the frequent
    hanzi of ``codec`` (lead byte ``first``…``last``: GB2312 level 1, Big5's
    frequent characters) or its punctuation (lead 0xA1…0xA3)."""
    wide = common = 0
    for ch in text:
        if ord(ch) < 0x80:
            continue
        wide += 1
        try:
            lead = ch.encode(codec)[0]
        except UnicodeEncodeError:
            continue
        common += first <= lead <= last or 0xA1 <= lead <= 0xA3
    return common / wide if wide else 0.0


def big5_rather_than_gb(raw: bytes) -> str | None:
    """``raw`` as Big5 when it is Traditional Chinese that GB18030 also decodes.

    Big5 bytes are nearly all valid GB18030, and unlabelled Big5 (or Outlook
    Express's odd labels) read as GB18030 gives kana, Cyrillic, private-use
    and rare hanzi. Read both ways, the right one has far more of its own
    charset's frequent characters.
    """
    big5 = _strict(raw, "big5hkscs")
    if big5 is None or raw.isascii():
        return None
    gb = _strict(raw, "gb18030")
    if gb is None:
        return big5 if _common_share(big5, "big5hkscs", 0xA4, 0xC6) > 0.6 else None
    big5_share = _common_share(big5, "big5hkscs", 0xA4, 0xC6)
    return big5 if big5_share > _common_share(gb, "gb2312", 0xB0, 0xD7) + 0.2 else None


def garbled_utf7(text: str) -> bool:
    """Whether UTF-7 text shows a broken encoder's output.

    Netscape 4's UTF-7 encoder wrote base64 runs that swallow the letters
    around an umlaut ("Fr+XKM-he" for "Frösche"): they decode, strictly,
    to CJK or Hangul characters between Latin letters. Two such are proof;
    the text cannot be recovered, but the desk must be told.
    """
    inside = 0
    for i in range(1, len(text) - 1):
        if ord(text[i]) >= 0x2E80 and text[i - 1].isascii() and text[i + 1].isascii():
            inside += text[i - 1].isalpha() and text[i + 1].isalpha()
    return inside >= 2


def decode_header_bytes(raw: bytes, declared: Iterable[str] = (), *, western: bool = False) -> str:
    """Raw 8-bit header bytes (sent with no RFC 2047 encoding) as text.

    A header carries no charset of its own; the best witnesses are the
    charsets the message itself declares (``declared``, codecs in message
    order: the parts' ``charset=`` and the charsets of the encoded words
    in its other headers): a Big5 mail's raw subject is Big5, not the
    GB18030 that also happens to decode it. The rule:

    1. valid UTF-8 with three or more non-ASCII characters: UTF-8;
    2. a declared multibyte charset that decodes the bytes;
    3. UTF-8 (valid with any non-ASCII text);
    4. GB18030, if its reading is plausible Chinese (:func:`plausible_gb`)
       — Chinese clients mislabel their mail ISO-8859-1, so a declared
       single-byte charset does not beat readable Chinese;
    5. the declared single-byte charset (else Windows-1252: the Latin-1
       that old Western clients write raw);
    6. GB18030 even if implausible, then replacement.

    ``western``: the body itself turned out to be in a single-byte
    charset (nothing multibyte decoded it): step 5 comes before step 4.
    """
    seen: list[str] = []
    single: list[str] = []
    for codec in declared:
        if codec in seen or codec in single or _wide(codec):
            continue  # a header line is never UTF-16: that label is the body's
        (single if _single_byte(codec) else seen).append(codec)
    if _surely_utf8(raw) is not None:
        return raw.decode("utf-8")
    for codec in [*seen, "utf-8"]:
        text = _strict(raw, codec)
        if text is not None:
            return text
    if western:  # the body is Western text: so are its raw headers
        single.append("cp1252")
    traditional = None if western else big5_rather_than_gb(raw)
    if traditional is not None:
        return traditional
    gb = None if western else _strict(raw, "gb18030")
    if gb is not None and plausible_gb(gb):
        return gb
    for codec in [*single, "cp1252"]:
        text = _strict(raw, codec)
        if text is not None:
            return text
    gb = gb or _strict(raw, "gb18030")
    if gb is not None:
        return gb
    return _with_replacement(raw, seen[0] if seen else None).text
