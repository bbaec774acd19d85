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


def _repr_str(dumper: Any, data: str) -> Any:
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


def load(text: str) -> Any:
    """Parse YAML text safely; raise `YamlError` with the line of the problem.

    Files in the subset our dumper writes take the fast path
    (`elinkctl.fastyaml`, ~5x faster); anything else goes to PyYAML.
    """
    from elinkctl import fastyaml

    try:
        return fastyaml.load(text)
    except fastyaml.Unsupported:
        pass
    yaml, Loader, _ = _yaml()
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(problem, line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0], None) from None


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
