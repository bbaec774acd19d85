"""`Document` → Markdown (stdout of `report major` and `print`)."""

from __future__ import annotations

import re

from elinkctl.render.doc import Blank, Block, Document, Fields, Para, Signatures, Table

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
FILL_LINE = "____________________"


def escape(text: str) -> str:
    """Backslash-escape Markdown syntax so ticket text stays text (CommonMark)."""
    return _SPECIAL.sub(r"\\\1", text)


def _cell(text: str, fill: bool = True) -> str:
    """A table cell; empty is a line to write on (``fill``) or just empty."""
    if not text.strip():
        return FILL_LINE if fill else ""
    return "<br>".join(escape(line) for line in text.splitlines())


def _block(block: Block) -> list[str]:
    if isinstance(block, Para):
        lines = [escape(line) for line in block.text.splitlines()] or [""]
        if block.placeholder:
            lines = [f"**{line}**" for line in lines]
        return ["  \n".join(lines), ""]
    if isinstance(block, Fields):
        out = ["| 项目 | 内容 |", "|---|---|"]
        out += [f"| {escape(k)} | {_cell(v)} |" for k, v in block.rows]
        return [*out, ""]
    if isinstance(block, Table):
        out = [
            "| " + " | ".join(escape(h) for h in block.headers) + " |",
            "|" + "---|" * len(block.headers),
        ]
        out += ["| " + " | ".join(_cell(c, fill=False) for c in row) + " |" for row in block.rows]
        return [*out, ""]
    if isinstance(block, Blank):
        return [*(["_" * 60 + "  "] * block.lines), ""]
    if isinstance(block, Signatures):
        date = "______年____月____日"
        return [f"{escape(s)}签字：{FILL_LINE}　日期：{date}  " for s in block.signers] + [""]
    raise TypeError(f"unknown block {block!r}")  # pragma: no cover


def render(doc: Document) -> str:
    out = [f"# {escape(doc.title)}", ""]
    if doc.subtitle:
        out += [escape(doc.subtitle), ""]
    if doc.meta:
        out += ["　".join(f"{escape(k)}：{_cell(v)}" for k, v in doc.meta), ""]
    for section in doc.sections:
        out += [f"## {escape(section.heading)}", ""]
        for block in section.blocks:
            out += _block(block)
    if doc.footer:
        out += ["---", "", escape(doc.footer), ""]
    return "\n".join(out).rstrip() + "\n"
