"""Knowledge-base articles: `knowledge/<KB-ID>.md`, YAML front matter + Markdown.

Articles are written and reviewed by people in pull requests, so the file is
Markdown first: Chinese as characters, a fixed front-matter key order that
diffs well, and four fixed body sections (现象, 原因, 解决方案, 临时措施)
that the desk reads on the phone. The body is kept verbatim; sections are
read out of it on demand, so whatever an author writes survives a
parse/render round trip.

Article IDs are `KB-` plus five random Crockford base32 characters: unique
across clones without a counter to coordinate (33 million values; a clash
needs two clones to draw the same ID before either sees the other's, and
then git shows it as an add/add conflict on the same path rather than
losing anything), short to read over the phone, and free of I/L/O/U.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from .. import yamlio
from ..domain.glossary import EVENTS, zh
from ..errors import ElinkError

__all__ = [
    "SECTIONS",
    "Article",
    "ArticleError",
    "article_solution_first_line",
    "draft_from_incident",
    "new_article_id",
    "normalize_article_id",
    "parse_article",
    "render_article",
]

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 5
ID_RE = re.compile(rf"^KB-[{CROCKFORD}]{{{ID_LENGTH}}}$")

SYMPTOM, CAUSE, SOLUTION, WORKAROUND = "现象", "原因", "解决方案", "临时措施"
#: The body sections every article has, in this order.
SECTIONS: tuple[str, ...] = (SYMPTOM, CAUSE, SOLUTION, WORKAROUND)
#: Written into a draft where the author still has to fill something in.
PLACEHOLDER = "（待补充）"

FRONT_MATTER_KEYS = (
    "id",
    "title",
    "systems",
    "modules",
    "keywords",
    "symptom",
    "incidents",
    "author",
    "created",
    "reviewed",
)
_LIST_KEYS = ("systems", "modules", "keywords", "incidents")
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_LIST_MARK = re.compile(r"^(?:[-*+]\s+|\d+[.)、]\s*|[（(]?\d+[)）]\s*)")


class ArticleError(ElinkError):
    """An article file is malformed; the message names the file and the line."""


@dataclass
class Article:
    """One knowledge-base article. `body` is the Markdown after the front matter.

    `extra` keeps front-matter keys this version does not know, so a newer
    elinkctl's or a hand-added field is never dropped by a rewrite.
    """

    id: str
    title: str
    systems: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    symptom: str = ""
    incidents: list[str] = field(default_factory=list)
    author: str = ""
    created: dt.date | None = None
    reviewed: dt.date | None = None
    body: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def sections(self) -> dict[str, str]:
        """`## ` sections of the body by heading, text stripped, in file order."""
        return split_sections(self.body)

    def section(self, name: str) -> str:
        """Text of one section ('' if absent)."""
        return self.sections().get(name, "")

    def missing_sections(self) -> list[str]:
        """Standard sections that are absent or still a placeholder, for a lint."""
        have = self.sections()
        return [s for s in SECTIONS if have.get(s, "").strip() in ("", PLACEHOLDER)]


def split_sections(body: str) -> dict[str, str]:
    """Split Markdown into `## heading` → text. Text before the first heading is dropped."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    fence = False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m:
            current = out.setdefault(m.group(1).strip(), [])
        elif current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


# -- IDs -----------------------------------------------------------------------


def new_article_id(existing: set[str], rng: random.Random) -> str:
    """A fresh `KB-XXXXX` not in `existing` (the IDs this clone already has)."""
    for _ in range(1000):
        candidate = "KB-" + "".join(rng.choice(CROCKFORD) for _ in range(ID_LENGTH))
        if candidate not in existing:
            return candidate
    raise ElinkError("cannot find a free knowledge-base ID")  # pragma: no cover


def normalize_article_id(text: str) -> str:
    """Read an ID as typed or heard: case-insensitive, 'KB' optional, O→0, I/L→1.

    Returns the canonical `KB-XXXXX` when the result is well formed,
    otherwise the upper-cased input (so a prefix can still be matched by
    the caller).
    """
    s = text.strip().upper().replace("_", "-")
    if s.startswith("KB"):
        s = s[2:].lstrip("-")
    s = s.translate(str.maketrans("OIL", "011"))
    candidate = "KB-" + s
    return candidate if ID_RE.match(candidate) else text.strip().upper()


# -- parse / render ------------------------------------------------------------


def _where(path: str | PurePath | None) -> str:
    return str(path) if path is not None else "<article>"


def parse_article(text: str, path: str | PurePath | None = None) -> Article:
    """Parse an article file; `ArticleError` names `path` and the 1-based line.

    When `path` looks like `…/KB-XXXXX.md`, the front-matter `id` must
    agree with it: the store finds articles by file name.
    """
    where = _where(path)

    def fail(line: int | None, message: str) -> ArticleError:
        return ArticleError(f"{where} line {line}: {message}" if line else f"{where}: {message}")

    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if not lines or lines[0].rstrip("\r ") != "---":
        raise fail(1, "expected '---' to open the YAML front matter")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r ") == "---"), None)
    if end is None:
        raise fail(1, "front matter opened by '---' is never closed by '---'")
    fm_text = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :]).lstrip("\n")
    try:
        data = yamlio.load(fm_text) if fm_text.strip() else {}
    except yamlio.YamlError as exc:
        raise fail(exc.line + 1 if exc.line else 1, str(exc)) from None
    if not isinstance(data, Mapping):
        raise fail(2, "front matter must be a mapping of keys to values")

    def line_of(key: str) -> int:
        found = yamlio.line_of_key(fm_text, [key])
        return found + 1 if found else 1

    def text_value(key: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                raise fail(end + 1, f"missing required key '{key}'")
            return ""
        if isinstance(value, (dict, list)):
            raise fail(line_of(key), f"'{key}' must be text, not a {type(value).__name__}")
        return str(value).strip()

    def list_value(key: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [value.strip()] if value.strip() else []
        if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
            raise fail(line_of(key), f"'{key}' must be a list of text")
        return [str(v).strip() for v in value if v is not None and str(v).strip()]

    def date_value(key: str) -> dt.date | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise fail(line_of(key), f"'{key}' must be a date like 2026-11-23") from None

    art_id = text_value("id", required=True)
    if not ID_RE.match(art_id):
        raise fail(line_of("id"), f"id {art_id!r} is not of the form KB-XXXXX")
    if path is not None:
        stem = PurePath(path).stem
        if stem.upper().startswith("KB-") and stem != art_id:
            raise fail(line_of("id"), f"id {art_id} does not match the file name {stem}.md")
    title = text_value("title", required=True)
    if not title:
        raise fail(line_of("title"), "title is empty")
    symptom = text_value("symptom")
    if "\n" in symptom:
        raise fail(line_of("symptom"), "symptom must be one line")
    return Article(
        id=art_id,
        title=title,
        systems=list_value("systems"),
        modules=list_value("modules"),
        keywords=list_value("keywords"),
        symptom=symptom,
        incidents=list_value("incidents"),
        author=text_value("author"),
        created=date_value("created"),
        reviewed=date_value("reviewed"),
        body=body,
        extra={str(k): v for k, v in data.items() if k not in FRONT_MATTER_KEYS},
    )


def render_article(a: Article) -> str:
    """The file text for `a`: front matter in the fixed key order, then the body."""
    front: dict[str, Any] = {
        "id": a.id,
        "title": a.title,
        "systems": list(a.systems),
        "modules": list(a.modules),
        "keywords": list(a.keywords),
        "symptom": a.symptom,
        "incidents": list(a.incidents),
        "author": a.author,
        "created": a.created,
        "reviewed": a.reviewed,
    }
    front.update(a.extra)
    # An unset date reads better as an empty value than as 'null'; both load as None.
    head = yamlio.dump(front)
    for key in ("created", "reviewed"):
        head = head.replace(f"\n{key}: null\n", f"\n{key}:\n")
    body = a.body.strip("\n")
    return "---\n" + head + "---\n\n" + (body + "\n" if body else "")


def article_solution_first_line(a: Article) -> str:
    """First line of the solution (else the workaround), without list markers.

    This is what `kb search` and a ticket's "resolved from KB" line show, so
    it skips blank lines, code fences and placeholders.
    """
    sections = a.sections()
    for name in (SOLUTION, WORKAROUND):
        for raw in sections.get(name, "").splitlines():
            line = raw.strip()
            if not line or line.startswith(("```", "~~~")) or line == PLACEHOLDER:
                continue
            line = _LIST_MARK.sub("", line, count=1).strip()
            if line:
                return line
    return ""


# -- drafts from incidents -----------------------------------------------------

# Event fields worth a word in the timeline, in this order.
_EVENT_DETAILS = ("to", "tier", "reason", "solution", "note", "message", "m")
TIMELINE = "处理经过"
MAX_TIMELINE = 12


def _fmt_time(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value or "").replace("T", " ")
    return text[:16]


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _one_line(text: str, limit: int = 80) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _timeline(events: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for ev in events:
        etype = str(ev.get("type", ""))
        label = zh(EVENTS, etype)
        details = [
            _one_line(str(ev[k]), 60) for k in _EVENT_DETAILS if k in ev and ev[k] not in (None, "")
        ]
        text = f"- {_fmt_time(ev.get('at'))} {ev.get('by', '')} {label}".rstrip()
        if details:
            text += "：" + "；".join(details)
        lines.append(text)
    if len(lines) > MAX_TIMELINE:
        # Keep the start and the end of the story; the middle is in the ticket.
        head = MAX_TIMELINE // 2
        tail = MAX_TIMELINE - head - 1
        lines = (
            lines[:head] + [f"- …（省略 {len(lines) - head - tail} 条，见事件单）"] + lines[-tail:]
        )
    return lines


def draft_from_incident(
    ticket: Mapping[str, Any],
    *,
    article_id: str = "",
    author: str | None = None,
    today: dt.date | None = None,
) -> Article:
    """A draft article from a resolved incident, for l2 to edit and commit.

    `ticket` is a plain dict (`id, title, system, module, description,
    solution, events`), so this module needs nothing from the ticket model.
    The solution falls back to the last `resolved` event's; the author to
    whoever resolved it; the dates to the day it was resolved (pure: no
    clock is read). The cause is left as a placeholder on purpose: only a
    person can say why it happened.
    """
    events: list[Mapping[str, Any]] = [
        e for e in ticket.get("events") or [] if isinstance(e, Mapping)
    ]
    resolved = [e for e in events if e.get("type") == "resolved"]
    last_resolved = resolved[-1] if resolved else None
    solution = str(ticket.get("solution") or "").strip()
    if not solution and last_resolved is not None:
        solution = str(last_resolved.get("solution") or "").strip()
    description = str(ticket.get("description") or "").strip()
    title = str(ticket.get("title") or "").strip() or PLACEHOLDER
    if author is None:
        author = str(last_resolved.get("by", "")) if last_resolved is not None else ""
    if today is None:
        stamp = last_resolved.get("at") if last_resolved is not None else None
        if stamp is None and events:
            stamp = events[-1].get("at")
        today = _as_date(stamp)
    system = str(ticket.get("system") or "").strip()
    module = str(ticket.get("module") or "").strip()
    parts = [
        f"## {SYMPTOM}\n\n{description or title}",
        f"## {CAUSE}\n\n{PLACEHOLDER}",
        f"## {SOLUTION}\n\n{solution or PLACEHOLDER}",
        f"## {WORKAROUND}\n\n{PLACEHOLDER}",
    ]
    timeline = _timeline(events)
    if timeline:
        source = str(ticket.get("id") or "")
        head = f"## {TIMELINE}\n\n" + (f"来源事件 {source}：\n\n" if source else "")
        parts.append(head + "\n".join(timeline))
    incident_id = str(ticket.get("id") or "").strip()
    return Article(
        id=article_id,
        title=title,
        systems=[system] if system else [],
        modules=[module] if module else [],
        keywords=[],
        symptom=_one_line(description) or title,
        incidents=[incident_id] if incident_id else [],
        author=author,
        created=today,
        reviewed=None,
        body="\n\n".join(parts) + "\n",
    )
