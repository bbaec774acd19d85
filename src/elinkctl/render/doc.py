"""A tiny document model, so one builder feeds both Markdown and HTML.

The two documents of the procedure (《重大事件处理分析报告》, 《技术服务单》)
are built once as a `Document`; `markdown.render` and `html.render_document`
turn it into text. Both outputs therefore always carry the same facts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

PM_FILL = "【待项目经理填写】"
"""Marks what the project manager must write before the report goes out."""


@dataclasses.dataclass(frozen=True)
class Para:
    """A paragraph; ``placeholder`` marks text someone still has to write."""

    text: str
    placeholder: bool = False


@dataclasses.dataclass(frozen=True)
class Fields:
    """Label / value rows. An empty value is a blank to fill in by hand."""

    rows: Sequence[tuple[str, str]]


@dataclasses.dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclasses.dataclass(frozen=True)
class Blank:
    """Ruled lines to write on (the printed form)."""

    lines: int = 3


@dataclasses.dataclass(frozen=True)
class Signatures:
    """Signature and date lines, one per signer (签字 / 日期)."""

    signers: Sequence[str]


Block = Para | Fields | Table | Blank | Signatures


@dataclasses.dataclass(frozen=True)
class Section:
    heading: str
    blocks: Sequence[Block]


@dataclasses.dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    meta: Sequence[tuple[str, str]]
    sections: Sequence[Section]
    footer: str = ""
