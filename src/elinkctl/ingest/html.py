"""HTML mail bodies as readable plain text.

Many Chinese mail clients (Foxmail, the QQ/163 web mail, Outlook) send
HTML-only messages. A ticket description is plain text that reviewers read
in ``git diff``, so markup must never reach it: scripts, styles and the
``<head>`` are dropped, block elements become line breaks, entities are
unescaped, and runs of layout whitespace collapse to one space. This is a
reader for humans, not a renderer — tables become cells separated by
``" | "``, list items get a ``"- "`` bullet.

Broken HTML must not cost the text: like a browser, an unclosed ``<head>``
ends at ``<body>`` or at the first tag or text that belongs in a body, and
a ``<title>``, ``<style>`` or ``<script>`` that is never closed ends at the
next tag (a browser would show nothing after it; the desk needs the words).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

# Content of these elements is never text a person wrote in the mail.
_SKIP = frozenset({"script", "style", "title", "template", "noscript", "object", "svg"})
# What may stand in <head>; any other tag (or text) means the body has begun.
_HEAD_CONTENT = frozenset(
    {
        "meta",
        "link",
        "base",
        "title",
        "style",
        "script",
        "noscript",
        "template",
        "basefont",
        "bgsound",
    }
)
# Elements whose missing end tag would swallow the rest of the document.
_UNCLOSED_RE = re.compile(r"<(script|style|title|textarea|xmp)\b[^<>]*>", re.IGNORECASE)
_ANGLE_RE = re.compile(r"[<>]")
_CUT_MARKUP_RE = re.compile(r"<[A-Za-z][\w:-]*\s+[\w:-]+\s*=")
_NEXT_TAG_RE = re.compile(r"<[A-Za-z/!]")
_WHOLE_TAG_RE = re.compile(r"<[A-Za-z/!][^<>]*>")
_CUT_TAG_RE = re.compile(r"<[A-Za-z/!][^>]*\Z")
# Elements that start and end on their own line.
_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    }
)
# Blocks that stand apart from their neighbours by a blank line.
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl", "hr"}
)
_CELL = frozenset({"td", "th"})
_VOID_BREAK = frozenset({"br"})


class _TextExtractor(HTMLParser):
    """Collect text, turning structure into newlines.

    ``convert_charrefs=True`` makes the parser hand us already-unescaped
    text, so ``&nbsp;``/``&#20013;``/``&amp;`` come out as characters.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip_depth = 0
        self.closing = False
        self.tail: list[str] = []
        self._in_head = False
        self._pre_depth = 0
        self._row_has_cell = False

    # -- helpers -------------------------------------------------------
    def _break(self, lines: int = 1) -> None:
        """End the current line; ``lines=2`` also leaves one blank line.

        Nested blocks (``<div><p>…``) must not pile up empty lines, so this
        only adds the newlines that are not already there.
        """
        while self._out and self._out[-1].strip(" \t") == "" and "\n" not in self._out[-1]:
            self._out.pop()
        if not self._out:
            return  # nothing written yet: no leading blank lines
        self._out[-1] = self._out[-1].rstrip(" \t")
        tail = "".join(self._out[-4:])
        have = len(tail) - len(tail.rstrip("\n"))
        if have < lines:
            self._out.append("\n" * (lines - have))

    # -- HTMLParser callbacks -----------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
            return
        if self._in_head and tag not in _HEAD_CONTENT:
            self._in_head = False  # <body>, or a body tag with no <body> before it
        if tag in ("html", "body"):
            return
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag in _VOID_BREAK:
            self._out.append("\n")  # <br> always breaks, even twice in a row
        elif tag in _BLOCK:
            self._break(2 if tag in _PARAGRAPH else 1)
            if tag == "li":
                self._out.append("- ")
            elif tag == "pre":
                self._pre_depth += 1
            elif tag == "tr":
                self._row_has_cell = False
        elif tag in _CELL:
            if self._row_has_cell:
                self._out.append(" | ")
            self._row_has_cell = True
        elif tag == "img":
            # An inline image carries meaning only through its alt text.
            alt = dict(attrs).get("alt")
            if alt:
                self._out.append(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <img/>: never opens a skipped region.
        if tag in _SKIP:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
            return
        if tag in _SKIP:
            if self._skip_depth:
                self._skip_depth -= 1
            return
        if self._skip_depth:
            return
        if tag in _BLOCK:
            if tag == "pre" and self._pre_depth:
                self._pre_depth -= 1
            self._break(2 if tag in _PARAGRAPH else 1)

    def handle_data(self, data: str) -> None:
        if self.closing:
            self.tail.append(data)  # read once whole, by finish()
            return
        if self._skip_depth:
            return
        if self._in_head:
            if not data.strip():
                return
            self._in_head = False  # text in <head> begins the body (HTML5)
        if self._pre_depth:
            self._out.append(data.replace("\r\n", "\n"))
        else:
            # Source line breaks in HTML are layout, not content.
            self._out.append(re.sub(r"[ \t\r\n\f\v]+", " ", data))

    def finish(self) -> None:
        """What the parser could not read as markup by the end, as text: a tag
        cut off ('<a href="http://…' of a truncated mail) is not text."""
        self.closing = False
        rest = "".join(self.tail)
        if rest:
            self.handle_data(_CUT_TAG_RE.sub("", _WHOLE_TAG_RE.sub("", rest)))

    def text(self) -> str:
        return "".join(self._out)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML document or fragment; never contains tags.

    Blank-line runs are squeezed to one blank line and every line is
    stripped, so the result diffs cleanly in a ticket file.
    """
    parser = _TextExtractor()
    parser.feed(_close_unclosed(_escape_cut_tags(markup)))
    parser.closing = True
    parser.close()
    parser.finish()
    raw = parser.text().replace("\xa0", " ").replace("\u200b", "")
    lines = [line.strip() for line in raw.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _escape_cut_tags(markup: str) -> str:
    """``markup`` with every tag that never ends (no ``>`` before the next
    ``<``) made harmless.

    Python's HTMLParser rescans the rest of the document for each such
    tag, so a hostile ``<p <p <p …`` costs quadratic time (10,000 of them
    took seconds); without them its work is linear. A cut tag that has
    attributes (``<a href="http://…`` of a truncated quoted-printable
    line) is markup and is dropped up to the next tag; anything else
    (``if a<b then``) is text and is escaped. One pass over the brackets.
    """
    if markup.count("<") < 2:
        return markup
    angles = [(m.start(), m.group()) for m in _ANGLE_RE.finditer(markup)]
    pieces: list[str] = []
    done = 0
    for index, (pos, char) in enumerate(angles):
        if char != "<" or pos + 1 >= len(markup) or pos < done:
            continue
        if not (markup[pos + 1].isalpha() or markup[pos + 1] in "/!?"):
            continue
        following = angles[index + 1] if index + 1 < len(angles) else (len(markup), "")
        if following[1] == ">":
            continue
        pieces.append(markup[done:pos])
        if _CUT_MARKUP_RE.match(markup, pos, min(following[0], pos + 200)):
            done = following[0]  # drop the cut tag up to the next one
        else:
            pieces.append("&lt;")
            done = pos + 1
    if not pieces:
        return markup
    pieces.append(markup[done:])
    return "".join(pieces)


def _close_unclosed(markup: str) -> str:
    """Close a ``<script>``/``<style>``/``<title>`` that is never closed.

    The end tag is put before the next tag, so only what a browser would
    have taken for code or a title is dropped, not the rest of the mail.
    One pass over the text: the last end tag of each kind is found once.
    """
    lowered = markup.lower()
    last_close: dict[str, int] = {}
    pieces: list[str] = []
    done = 0
    for match in _UNCLOSED_RE.finditer(markup):
        name = match.group(1).lower()
        if match.start() < done:
            continue
        if name not in last_close:
            last_close[name] = lowered.rfind("</" + name)
        if last_close[name] > match.end():
            continue
        following = _NEXT_TAG_RE.search(markup, match.end())
        cut = following.start() if following else len(markup)
        pieces.append(markup[done:cut])
        pieces.append(f"</{name}>")
        done = cut
    if not pieces:
        return markup
    pieces.append(markup[done:])
    return "".join(pieces)
