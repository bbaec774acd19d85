"""Searchable documents: what the search indexes hold, made from articles and tickets.

An article is one document (its symptom and body as text, keywords as
meta); a resolved or closed incident is another (its description and every
solution recorded on it). `doc_to_json`/`doc_from_json` are the form the
caches keep them in. Pure code: the callers read the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .article import Article

__all__ = [
    "SEARCHABLE_STATUSES",
    "Doc",
    "check_kind",
    "doc_from_article",
    "doc_from_json",
    "doc_from_ticket",
    "doc_from_ticket_text",
    "doc_to_json",
]

Kind = Literal["kb", "ticket"]

SEARCHABLE_STATUSES = ("resolved", "closed")
"""Ticket statuses whose solution is worth finding again."""


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    return tuple(v for v in value if v and v.strip())


@dataclass(frozen=True)
class Doc:
    """One searchable document: a knowledge article or a resolved incident.

    `system` and `module` accept one name or several (an article may cover
    more than one system); they are kept as tuples.
    """

    id: str
    kind: Kind
    title: str
    text: str = ""
    system: str | tuple[str, ...] = ()
    module: str | tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "system", _as_tuple(self.system))
        object.__setattr__(self, "module", _as_tuple(self.module))
        object.__setattr__(self, "keywords", _as_tuple(self.keywords))

    @property
    def systems(self) -> tuple[str, ...]:
        """The document's systems as a tuple (never a bare string)."""
        return _as_tuple(self.system)

    @property
    def modules(self) -> tuple[str, ...]:
        """The document's modules as a tuple (never a bare string)."""
        return _as_tuple(self.module)


def check_kind(doc: Doc) -> None:
    if doc.kind not in ("kb", "ticket"):
        raise ValueError(f"{doc.id}: kind must be 'kb' or 'ticket', not {doc.kind!r}")


def doc_to_json(d: Doc) -> list[Any]:
    """A document as a JSON list (the caches' form); `doc_from_json` reads it back."""
    return [d.id, d.kind, d.title, d.text, list(d.systems), list(d.modules), list(d.keywords)]


def doc_from_json(v: list[Any]) -> Doc:
    return Doc(
        id=v[0],
        kind=v[1],
        title=v[2],
        text=v[3],
        system=tuple(v[4]),
        module=tuple(v[5]),
        keywords=tuple(v[6]),
    )


def doc_from_article(a: Article) -> Doc:
    """The searchable document of an article: symptom and body as text, keywords as meta."""
    return Doc(
        id=a.id,
        kind="kb",
        title=a.title,
        text=a.symptom + "\n" + a.body,
        system=tuple(a.systems),
        module=tuple(a.modules),
        keywords=tuple(a.keywords),
    )


def doc_from_ticket(ticket: Mapping[str, Any]) -> Doc:
    """The searchable document of a (resolved) incident given as a plain dict.

    Text is the description plus every solution recorded on it (the
    `solution` key and any `resolved` events'): a reopened ticket's first,
    wrong fix is still a useful hint.
    """
    solutions = [str(ticket.get("solution") or "")]
    for ev in ticket.get("events") or []:
        if isinstance(ev, Mapping) and ev.get("type") == "resolved" and ev.get("solution"):
            solutions.append(str(ev["solution"]))
    text = "\n".join([str(ticket.get("description") or ""), *dict.fromkeys(solutions)])
    return Doc(
        id=str(ticket.get("id", "")),
        kind="ticket",
        title=str(ticket.get("title") or ""),
        text=text,
        system=str(ticket.get("system") or ""),
        module=str(ticket.get("module") or ""),
    )


_STATUS_LINE = re.compile(r"^status:\s*(\S+)\s*$", re.MULTILINE)
_EVENT_ITEM = re.compile(r"^- ", re.MULTILINE)
_RESOLVED = re.compile(r"(?:^|[\s{,])type:\s*resolved\s*(?:$|[,}])", re.MULTILINE)


def doc_from_ticket_text(text: str) -> Doc | None:
    """The document of a resolved/closed ticket file's text, reading as little YAML as possible;
    None for any other ticket. `elinkctl.yamlio.YamlError` when the YAML is broken.

    Building the first index means reading every ticket, and YAML is the
    cost (10,000 files). The derived `status:` line says whether a file is
    worth reading at all; then only the fields above `events:` and the
    `resolved` events are parsed, not the whole history. Anything that does
    not split that way (a hand-written file) is parsed whole.
    """
    from elinkctl import yamlio

    head, sep, events_text = text.partition("\nevents:\n")
    m = _STATUS_LINE.search(head)
    if m is None or m.group(1) not in SEARCHABLE_STATUSES:
        return None
    data = yamlio.load(head + "\n") if sep else None
    if isinstance(data, dict) and "events" not in data:
        blocks = [b for b in _EVENT_ITEM.split(events_text) if _RESOLVED.search(b)]
        data["events"] = [e for b in blocks for e in yamlio.load("- " + b) or []]
    else:
        data = yamlio.load(text)
    if not isinstance(data, dict) or not data.get("id"):
        return None
    return doc_from_ticket(data)
