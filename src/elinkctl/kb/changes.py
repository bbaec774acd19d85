"""Changes to an article: a new one from its fields, an edit, and what an edit changed.

`kb add` and `kb edit` describe an article by fields (title, lists, the
text of the standard sections); `ArticleChanges` holds what was given, and
`new_article` and `apply_changes` turn it into an `Article`. A section given
replaces only that section's text in the Markdown body (`set_section`):
the author's wording elsewhere is kept verbatim, so an edit from flags
shows as a small diff. Pure code: incident IDs arrive already resolved.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .article import FRONT_MATTER_KEYS, PLACEHOLDER, SECTIONS, SYMPTOM, Article, split_sections

__all__ = [
    "ArticleChanges",
    "apply_changes",
    "changed_fields",
    "distinct",
    "first_line",
    "new_article",
    "set_section",
]

_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class ArticleChanges:
    """Fields given for an article; None or empty means "not given".

    `sections` maps a standard section (现象, 原因, 解决方案, 临时措施) to
    its new text; the first line of 现象 is also the one-line `symptom`.
    `incidents` are full incident IDs (a new article's, or added to an
    existing article's).
    """

    title: str | None = None
    systems: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    sections: Mapping[str, str] = field(default_factory=dict)
    incidents: tuple[str, ...] = ()
    reviewed: dt.date | None = None


def distinct(values: Iterable[str]) -> tuple[str, ...]:
    """Non-blank values, stripped, first occurrence kept."""
    return tuple(dict.fromkeys(s.strip() for s in values if s.strip()))


def first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def new_article(article_id: str, changes: ArticleChanges, author: str, today: dt.date) -> Article:
    """A new article with every standard section present (a placeholder where
    none was given; 现象 defaults to the title). The caller checks that a
    title and a solution or workaround were given."""
    title = (changes.title or "").strip()
    sections = {
        name: (changes.sections.get(name) or "").strip() or PLACEHOLDER for name in SECTIONS
    }
    if sections[SYMPTOM] == PLACEHOLDER:
        sections[SYMPTOM] = title
    body = "\n\n".join(f"## {name}\n\n{sections[name]}" for name in SECTIONS) + "\n"
    return Article(
        id=article_id,
        title=title,
        systems=list(distinct(changes.systems)),
        modules=list(distinct(changes.modules)),
        keywords=list(distinct(changes.keywords)),
        symptom=first_line(sections[SYMPTOM]),
        incidents=list(changes.incidents),
        author=author,
        created=today,
        body=body,
    )


def apply_changes(article: Article, changes: ArticleChanges) -> Article:
    """`article` with the given fields replaced (lists given replace the old
    ones, incidents are added); the caller checks a given title is not blank."""
    out = article
    if changes.title is not None:
        out = replace(out, title=changes.title.strip())
    if changes.systems:
        out = replace(out, systems=list(distinct(changes.systems)))
    if changes.modules:
        out = replace(out, modules=list(distinct(changes.modules)))
    if changes.keywords:
        out = replace(out, keywords=list(distinct(changes.keywords)))
    if changes.incidents:
        added = distinct(changes.incidents)
        out = replace(out, incidents=list(dict.fromkeys([*out.incidents, *added])))
    for name in SECTIONS:
        text = changes.sections.get(name)
        if text is not None:
            out = replace(out, body=set_section(out.body, name, text))
    if changes.sections.get(SYMPTOM) is not None:
        out = replace(out, symptom=first_line(changes.sections[SYMPTOM]))
    if changes.reviewed is not None:
        out = replace(out, reviewed=changes.reviewed)
    return out


def changed_fields(before: Article, after: Article) -> list[str]:
    """Names of the front-matter fields and body sections that differ ("body"
    when the body changed outside any section)."""
    names = [k for k in FRONT_MATTER_KEYS if k != "id"] + ["extra"]
    out = [n for n in names if getattr(before, n) != getattr(after, n)]
    if before.body.strip() != after.body.strip():
        b, a = split_sections(before.body), split_sections(after.body)
        sections = [s for s in dict.fromkeys([*b, *a]) if b.get(s) != a.get(s)]
        out.extend(sections or ["body"])
    return out


def set_section(body: str, name: str, text: str) -> str:
    """Replace the text of `## name` in a Markdown body, or append the section.

    Everything else (other sections, the author's wording, fences) is kept
    verbatim.
    """
    lines = body.split("\n")
    start = None
    fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m and start is None and m.group(1).strip() == name:
            start = i
        elif m and start is not None:
            new = [*lines[: start + 1], "", text.strip(), "", *lines[i:]]
            return "\n".join(new)
    if start is not None:
        return "\n".join([*lines[: start + 1], "", text.strip(), ""])
    return body.rstrip("\n") + f"\n\n## {name}\n\n{text.strip()}\n"
