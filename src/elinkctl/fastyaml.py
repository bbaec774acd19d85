"""A fast reader for the YAML that elinkctl itself writes.

PyYAML's C loader scans in C but builds every Python object in Python: about
2 ms for a ticket with a dozen events, 14 s for 100,000 tickets. Ticket files
are written by our own dumper (`yamlio.dump`) in a small, regular subset of
YAML: block mappings and sequences, plain, quoted and literal-block scalars,
empty flow collections. This module reads exactly that subset several times
faster, and gives up — raising `Unsupported` — on anything else (comments,
anchors, tags, flow collections with content, unusual block headers …), so
the caller falls back to PyYAML. A hand-edited file is therefore never
misread: either it is in the subset and means the same to both readers
(`tests/test_fastyaml.py` checks that with generated tickets), or PyYAML
reads it and reports errors with their lines.

Plain scalars are resolved with PyYAML's own resolver and constructors, so
``13800138000`` is an int, ``true`` a bool and ``2026-11-23T10:00:00+08:00``
a datetime exactly as PyYAML would have it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver


class Unsupported(Exception):
    """The text uses YAML beyond our subset: let PyYAML read it."""


_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"
_TS_TAG = "tag:yaml.org,2002:timestamp"
_OUR_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}:\d{2}$")
_KEY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.\- ]*):(?: (.*))?$")
_SPECIAL_START = frozenset("&*!|>%@`{[,#?'\"")


_PLAIN_CACHE: dict[str, Any] = {}

_MAX_NUMBER_CHARS = 64  # yamlio.MAX_NUMBER_CHARS (kept equal by tests/test_hostile_files.py)
_YEARS = (1900, 9000)  # yamlio.YEARS
_REFUSED_CHARS = ("\0", "\x85", "\u2028", "\u2029", "\ufeff")
"""Characters the fast reader leaves to PyYAML: NUL (refused with its
line), and the line and paragraph separators YAML treats as line breaks
(the fast reader splits lines at ``\\n`` only, so it would misread them)."""


def _plain(value: str) -> Any:
    """Resolve a plain scalar the way PyYAML does (memoised: tickets repeat
    the same names, types and statuses thousands of times)."""
    try:
        return _PLAIN_CACHE[value]
    except KeyError:
        pass
    if not value:
        return None
    if value[0] in _SPECIAL_START or " #" in value or value.endswith(":") or ": " in value:
        raise Unsupported(value)
    try:
        if value[0].isdigit() and _OUR_TS.match(value):
            # Our own timestamp format is a subset of YAML's timestamp pattern.
            result: Any = dt.datetime.fromisoformat(value)
        else:
            tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
            if tag == _STR_TAG:
                result = value
            else:
                result = _CONSTRUCTOR.construct_object(yaml.ScalarNode(tag, value))
    except (ValueError, OverflowError):
        raise Unsupported(value[:40]) from None  # PyYAML reports it with its line
    if isinstance(result, int | float) and len(value) > _MAX_NUMBER_CHARS:
        raise Unsupported("a long number")
    if isinstance(result, dt.date) and not _YEARS[0] <= result.year <= _YEARS[1]:
        raise Unsupported("a date out of range")
    if isinstance(result, str | int | bool | float | dt.datetime | dt.date) or result is None:
        if len(_PLAIN_CACHE) > 100_000:
            _PLAIN_CACHE.clear()
        _PLAIN_CACHE[value] = result
    return result


def _scalar(value: str) -> Any:
    """A one-line scalar: quoted, empty flow collection, or plain."""
    if not value:
        return None
    first = value[0]
    if first == "'":
        if len(value) < 2 or value[-1] != "'":
            raise Unsupported(value)
        inner = value[1:-1]
        if "'" in inner.replace("''", ""):
            raise Unsupported(value)
        return inner.replace("''", "'")
    if first == '"':
        # Rare in our files (strings with control characters); exactness matters
        # more than speed here.
        try:
            quoted = yaml.load(value, Loader=yaml.CSafeLoader)  # noqa: S506 - safe loader
        except yaml.YAMLError:
            raise Unsupported(value) from None
        if not isinstance(quoted, str) or "\0" in quoted:
            raise Unsupported(value)
        return quoted
    if value == "[]":
        return []
    if value == "{}":
        return {}
    return _plain(value)


class _Lines:
    """The document as (indent, content) pairs with a cursor, split once."""

    def __init__(self, text: str) -> None:
        raw = text.split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        self.raw = raw
        self.pos = 0
        self.items: list[tuple[int, str] | None] = []
        append = self.items.append
        for line in raw:
            content = line.lstrip(" ")
            # None marks a line the subset does not allow outside a literal
            # block (blank, comment, document marker); peek() refuses it.
            if (
                not content
                or content[0] == "#"
                or line.endswith(" ")  # PyYAML strips trailing spaces of plain scalars
                or line.startswith(("---", "...", "%"))
            ):
                append(None)
            else:
                append((len(line) - len(content), content))

    def peek(self) -> tuple[int, str] | None:
        if self.pos >= len(self.items):
            return None
        item = self.items[self.pos]
        if item is None:
            raise Unsupported(f"line {self.pos + 1}")
        return item


def _block_literal(lines: _Lines, header: str, parent_indent: int) -> str:
    """``|`` or ``|-`` literal block; other chomping/indent headers are unsupported."""
    if header not in ("|", "|-"):
        raise Unsupported(header)
    body: list[str] = []
    indent: int | None = None
    raw = lines.raw
    while lines.pos < len(raw):
        line = raw[lines.pos]
        if line.strip() == "":
            body.append("")
            lines.pos += 1
            continue
        current = len(line) - len(line.lstrip(" "))
        if indent is None:
            if current <= parent_indent:
                break
            indent = current
        if current < indent:
            break
        body.append(line[indent:])
        lines.pos += 1
    # Trailing blank lines belong to the block only for keep-chomping (unsupported).
    while body and body[-1] == "":
        body.pop()
        lines.pos -= 1
    if indent is None:
        raise Unsupported("empty literal block")
    text = "\n".join(body)
    return text if header == "|-" else text + "\n"


def _value_after_key(lines: _Lines, rest: str | None, indent: int) -> Any:
    """The value of ``key:`` whose inline part is ``rest``."""
    if rest is not None and rest != "":
        if rest[0] == "|":
            lines.pos += 1
            return _block_literal(lines, rest, indent)
        if rest[0] == ">":
            raise Unsupported(rest)
        lines.pos += 1
        return _scalar(rest)
    lines.pos += 1
    nxt = lines.peek()
    if nxt is None:
        return None
    child_indent, content = nxt
    if child_indent > indent:
        return _block(lines, child_indent)
    if child_indent == indent and content.startswith("- ") or content == "-":
        return _sequence(lines, indent)
    return None


def _mapping(lines: _Lines, indent: int, first: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    while True:
        if first is not None:
            content = first
            first = None
        else:
            nxt = lines.peek()
            if nxt is None:
                break
            current, content = nxt
            if current < indent:
                break
            if current > indent:
                raise Unsupported(f"line {lines.pos + 1}: unexpected indentation")
            if content.startswith("- ") or content == "-":
                break
        m = _KEY_RE.match(content)
        if not m:
            raise Unsupported(f"line {lines.pos + 1}")
        key = m.group(1)
        # `yes:` or `1:` would be a bool or int key to PyYAML: not our subset.
        if key in out or key != key.strip() or _plain(key) != key:
            raise Unsupported(f"line {lines.pos + 1}: key {key!r}")
        out[key] = _value_after_key(lines, m.group(2), indent)
    return out


def _sequence(lines: _Lines, indent: int) -> list[Any]:
    out: list[Any] = []
    while True:
        nxt = lines.peek()
        if nxt is None:
            break
        current, content = nxt
        if current != indent or not (content.startswith("- ") or content == "-"):
            if current > indent:
                raise Unsupported(f"line {lines.pos + 1}: unexpected indentation")
            break
        item = content[2:] if content != "-" else ""
        if item == "":
            raise Unsupported(f"line {lines.pos + 1}: nested block in a sequence")
        if item.startswith(("- ", "|", ">")):
            raise Unsupported(f"line {lines.pos + 1}")
        if _KEY_RE.match(item) and not item.startswith(("'", '"')):
            out.append(_mapping(lines, indent + 2, first=item))
        else:
            lines.pos += 1
            out.append(_scalar(item))
    return out


def _block(lines: _Lines, indent: int) -> Any:
    nxt = lines.peek()
    if nxt is None:
        return None
    _, content = nxt
    if content.startswith("- ") or content == "-":
        return _sequence(lines, indent)
    return _mapping(lines, indent)


def load(text: str) -> Any:
    """Parse our subset of YAML; raise `Unsupported` for anything else."""
    if "\t" in text or "\r" in text:
        raise Unsupported("tabs or carriage returns")
    for char in _REFUSED_CHARS:
        if char in text:
            raise Unsupported(f"U+{ord(char):04X}")
    lines = _Lines(text)
    if lines.peek() is None:
        raise Unsupported("empty document")
    nxt = lines.peek()
    assert nxt is not None
    if nxt[0] != 0:
        raise Unsupported("indented document")
    try:
        result = _block(lines, 0)
    except RecursionError:  # thousands of nested levels: PyYAML refuses them with a line
        raise Unsupported("nested too deeply") from None
    if lines.pos != len(lines.raw):
        raise Unsupported(f"line {lines.pos + 1}: trailing content")
    return result
