"""The only place that loads or dumps YAML.

Tickets and rules are for humans first: Chinese stays as characters
(``allow_unicode``), keys keep the order we give them (``sort_keys=False``),
multi-line text uses literal blocks, and datetimes are written as ISO 8601
with ``T`` and an explicit offset. Loading is always safe (C loader when
available), and YAML errors carry the line so callers can name it.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from typing import Any


@functools.cache
def _yaml() -> tuple[Any, Any, Any]:
    """PyYAML with our loader and dumper: (module, Loader, Dumper).

    Imported on first use only: a warm `list`, `stats` or `check` reads no
    YAML (rules come from `elinkctl.config`'s cache, tickets from the index),
    and PyYAML's import is a tenth of their start-up.
    """
    import yaml

    try:  # the C implementations are ~10x faster; fall back only if libyaml is missing
        from yaml import CSafeDumper as base_dumper
        from yaml import CSafeLoader as base_loader
    except ImportError:  # pragma: no cover
        from yaml import SafeDumper as base_dumper  # type: ignore[assignment]
        from yaml import SafeLoader as base_loader  # type: ignore[assignment]

    class Loader(base_loader):  # type: ignore[misc,valid-type]
        """Safe loader; timestamps come back as aware datetimes when they carry an offset."""

    class Dumper(base_dumper):  # type: ignore[misc,valid-type]
        """Block style, unicode, insertion order, literal blocks for multi-line text."""

        def ignore_aliases(self, data: Any) -> bool:
            # Never write &id001 anchors: the same datetime in two places must read
            # as two plain values to a human and to the merge driver.
            return True

    Dumper.add_representer(str, _repr_str)
    # Enum fields (`Priority`, `Tier` …) reach files through event data: written
    # as their plain value, the same bytes as the string.
    Dumper.add_multi_representer(enum.Enum, _repr_enum)
    Dumper.add_representer(dt.datetime, _repr_datetime)
    Dumper.add_representer(dt.date, _repr_date)
    return yaml, Loader, Dumper


_UNUSUAL = re.compile("[\0\x85\u2028\u2029\ud800-\udfff]")
"""Characters a string needs handled before it is written (one C-speed
search per string; almost every string has none)."""
_UNWRITABLE = re.compile("[\0\ud800-\udfff]")
_LINE_SEPARATORS = re.compile("[\x85\u2028\u2029]")


def _repr_str(dumper: Any, data: str) -> Any:
    if _UNUSUAL.search(data):
        # A NUL is no text (mail and alert JSON can carry one) and the readers
        # refuse it in a ticket file; a lone surrogate (a JSON "\ud800") cannot
        # be encoded as UTF-8, and the write would fail half-way through a
        # commit: both are written as U+FFFD.
        data = _UNWRITABLE.sub("\ufffd", data)
        if _LINE_SEPARATORS.search(data):
            # YAML reads these as line breaks: raw in a plain, quoted or literal
            # scalar they come back changed. Escaped (\N, \L, \P) they are exact.
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _repr_enum(dumper: Any, data: enum.Enum) -> Any:
    return dumper.represent_data(data.value)


def _repr_datetime(dumper: Any, data: dt.datetime) -> Any:
    # isoformat gives 2026-11-23T10:00:00+08:00; the implicit timestamp resolver
    # recognises it, so it is emitted plain (no quotes) and loads back as datetime.
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", data.isoformat())


def _repr_date(dumper: Any, data: dt.date) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", data.isoformat())


class YamlError(Exception):
    """A YAML syntax error with a 1-based line number (None when unknown)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class Refused(YamlError):
    """Valid YAML the readers do not accept (an alias bomb, a huge number, an
    impossible date, in a ticket a tag or a duplicate key); with its line."""


MAX_EXPANDED = 100_000
"""Values a document may expand to through aliases (``*name``) before it is
refused: a few lines of nested aliases (an "alias bomb") otherwise expand to
billions of values, and every reader that walks them hangs."""

MAX_NUMBER_CHARS = 64
"""Longest number (its text) a file may hold: Python refuses to print an int
of more than 4,300 digits, and no field of ours needs more than a phone
number."""

YEARS = (1900, 9000)
"""Years a date or time in a ticket must lie within: far enough from the
ends of Python's range (1–9999) that shifting it to another time zone or
adding an SLA target never overflows."""

_CORE = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(
    _CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


def load(text: str, *, strict: bool = False) -> Any:
    """Parse YAML text safely; raise `YamlError` with the line of the problem.

    Files in the subset our dumper writes take the fast path
    (`elinkctl.fastyaml`, ~5x faster); anything else goes to PyYAML, with
    aliases bounded (`MAX_EXPANDED`) and values Python cannot hold (a day
    31 of February, a year 10000, a number of 5,000 digits) reported.

    ``strict`` (ticket files): only what our dumper writes is accepted — no
    anchors or aliases, no tags beyond the core schema (``!!set``,
    ``!!binary``, merge keys …), no duplicate keys, no NUL characters,
    numbers of at most `MAX_NUMBER_CHARS` characters and dates within
    `YEARS`, each refused with its line.
    """
    from elinkctl import fastyaml

    try:
        return fastyaml.load(text)
    except fastyaml.Unsupported:
        pass
    nul = text.find("\0")
    if nul >= 0:
        raise Refused("a NUL character is not allowed", text.count("\n", 0, nul) + 1)
    yaml, Loader, _ = _yaml()
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(yaml, node, strict)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(problem, line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0], None) from None
    except (ValueError, OverflowError, TypeError) as exc:  # a constructor's own check
        raise Refused(f"a value cannot be read: {str(exc)[:200]}", None) from None
    except RecursionError:
        raise Refused("nested too deeply", None) from None
    finally:
        loader.dispose()


def _check_nodes(yaml: Any, root: Any, strict: bool) -> None:
    """Walk the composed nodes once (each node once: linear even for a bomb)
    and raise `YamlError` at the first thing the readers must not get."""
    sizes: dict[int, int] = {}  # id(node) -> values it expands to
    open_: set[int] = set()  # collections whose children are being walked
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        line = node.start_mark.line + 1
        if done:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(yaml, node))
            if sizes[key] > MAX_EXPANDED:
                raise Refused(f"aliases expand to more than {MAX_EXPANDED:,} values", line)
            continue
        if key in sizes or key in open_:
            if strict:
                raise Refused("anchors and aliases (&, *) are not allowed in a ticket file", line)
            if key in open_:
                raise Refused("an alias refers to a value that contains it", line)
            continue
        if strict:
            _check_strict(yaml, node, line)
        elif isinstance(node, yaml.MappingNode):
            _check_keys(yaml, node)
        if isinstance(node, yaml.ScalarNode):
            _check_scalar(node, line)
            sizes[key] = 1
            continue
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(_children(yaml, node)))  # in file order


def _children(yaml: Any, node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_scalar(node: Any, line: int) -> None:
    tag = node.tag
    if tag in (_CORE + "int", _CORE + "float") and len(node.value) > MAX_NUMBER_CHARS:
        raise Refused(
            f"number of {len(node.value):,} characters (at most {MAX_NUMBER_CHARS})", line
        )
    if tag in (_CORE + "int", _CORE + "float", _CORE + "bool"):
        from yaml.constructor import SafeConstructor

        try:  # an explicit tag on text that is no such value (``!!bool maybe``, ``!!int ''``)
            SafeConstructor().construct_object(node)  # type: ignore[no-untyped-call]
        except (ValueError, OverflowError, KeyError, IndexError):
            shown = f"{node.value[:40]!r} is not a valid !!{tag[len(_CORE) :]}"
            raise Refused(shown, line) from None
    if tag == _CORE + "timestamp":
        from yaml.constructor import SafeConstructor

        try:
            value = SafeConstructor().construct_yaml_timestamp(node)  # type: ignore[no-untyped-call]
        except (ValueError, OverflowError) as exc:
            raise Refused(f"impossible date {node.value!r}: {exc}", line) from None
        except AttributeError:  # ``!!timestamp`` on text that is no date: PyYAML's regex fails
            raise Refused(f"not a date: {node.value[:40]!r}", line) from None
        if not YEARS[0] <= value.year <= YEARS[1]:
            raise Refused(f"date {node.value!r} outside the years {YEARS[0]}–{YEARS[1]}", line)


def _check_strict(yaml: Any, node: Any, line: int) -> None:
    if node.tag not in _PLAIN_TAGS:
        shown = node.tag.replace(_CORE, "!!")
        raise Refused(f"the tag {shown} is not allowed in a ticket file", line)
    if isinstance(node, yaml.ScalarNode) and "\0" in node.value:
        raise Refused("a NUL character is not allowed in a ticket file", line)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, _ in node.value:
            if not isinstance(k, yaml.ScalarNode):
                # Never repr() it: the repr of a node walks every alias (a bomb as a key hung)
                raise Refused("a key that is a list or mapping", k.start_mark.line + 1)
            name = k.value
            if name in seen:
                raise Refused(f"duplicate key {name!r}", k.start_mark.line + 1)
            seen.add(name)


def _check_keys(yaml: Any, node: Any) -> None:
    """No key twice in one mapping of a rule file or an article: PyYAML keeps
    the last silently, so a second ``channels:`` pasted at the end of
    escalation.yaml would replace the first without a word. (A merge key
    ``<<`` is exempt: overriding merged keys is what it is for.)"""
    seen: dict[str, int] = {}
    for k, _ in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.tag == _CORE + "merge":
            continue
        line = k.start_mark.line + 1
        if k.value in seen:
            first = seen[k.value]
            raise Refused(f"duplicate key {k.value[:80]!r} (first on line {first})", line)
        seen[k.value] = line


def dump(data: Any) -> str:
    """Dump to block-style, unicode, order-preserving YAML text."""
    yaml, _, Dumper = _yaml()
    text: str = yaml.dump(
        data,
        Dumper=Dumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1_000_000,
    )
    return text


def line_of_key(text: str, path: list[str | int]) -> int | None:
    """Best-effort 1-based line of a key path in YAML text, for error messages.

    Walks the node tree (no construction), so it works for any valid YAML.
    """
    yaml, Loader, _ = _yaml()
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:
        return None
    best: int | None = None
    for key in path:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            found = None
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    best = k.start_mark.line + 1
                    found = v
                    break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if 0 <= key < len(node.value):
                node = node.value[key]
                best = node.start_mark.line + 1
            else:
                break
        else:
            break
    return best
