"""HTML pages: self-contained, printable, no network and no JavaScript.

Everything variable goes through `esc`. Styles are inline in the page so the
file can be mailed or archived alone; ``@page`` sets A4 for printing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from elinkctl.render.doc import Blank, Block, Document, Fields, Para, Signatures, Table

FONTS = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", sans-serif'
)

BASE_CSS = f"""
@page {{ size: A4; margin: 15mm 14mm; }}
* {{ box-sizing: border-box; }}
body {{ font-family: {FONTS}; font-size: 10.5pt; color: #111; margin: 0 auto;
       max-width: 190mm; padding: 8mm 0; line-height: 1.45; }}
h1 {{ font-size: 17pt; text-align: center; margin: 0 0 2mm; letter-spacing: 1px; }}
h2 {{ font-size: 12pt; border-bottom: 1.5px solid #333; padding-bottom: 1mm;
      margin: 6mm 0 2mm; break-after: avoid; }}
p.sub {{ text-align: center; color: #444; margin: 0 0 4mm; }}
p.meta {{ display: flex; flex-wrap: wrap; gap: 2mm 8mm; justify-content: center;
          font-size: 9.5pt; margin: 0 0 4mm; }}
table {{ width: 100%; border-collapse: collapse; margin: 1mm 0 3mm; break-inside: auto; }}
th, td {{ border: 1px solid #777; padding: 1.5mm 2mm; vertical-align: top; text-align: left; }}
th {{ background: #eef1f5; font-weight: 600; }}
table.fields th {{ width: 28%; }}
tr {{ break-inside: avoid; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.fill {{ display: inline-block; min-width: 40mm; border-bottom: 1px solid #333;
         height: 1.2em; }}
.todo {{ color: #b00020; font-weight: 600; }}
.lines div {{ border-bottom: 1px solid #555; height: 8mm; }}
.signs {{ display: flex; gap: 10mm; margin-top: 6mm; break-inside: avoid; }}
.signs div {{ flex: 1; }}
.signs .fill {{ min-width: 35mm; }}
.below {{ color: #b00020; font-weight: 700; }}
.ok {{ color: #1b5e20; }}
.muted {{ color: #666; font-size: 9pt; }}
footer {{ margin-top: 6mm; font-size: 8.5pt; color: #666; border-top: 1px solid #aaa;
          padding-top: 2mm; }}
figure {{ margin: 2mm 0 5mm; break-inside: avoid; }}
figcaption {{ font-weight: 600; margin-bottom: 1mm; }}
svg text {{ font-family: {FONTS}; }}
@media print {{ body {{ padding: 0; }} a {{ color: inherit; text-decoration: none; }} }}
"""


def esc(value: object) -> str:
    """Escape text for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def text_html(text: str) -> str:
    """Escaped text with its line breaks kept."""
    return "<br>".join(esc(line) for line in text.splitlines())


def _value(text: str) -> str:
    return text_html(text) if text.strip() else '<span class="fill"></span>'


def _paired_rows(rows: Sequence[tuple[str, str]]) -> str:
    """Fields two to a row (label, value, label, value), a long value (a
    description, a solution) across the whole row: the 技术服务单 then fits
    on one A4 sheet with its signature block."""

    def wide(value: str) -> bool:
        return len(value) > 20 or "\n" in value

    out, pending = [], None
    for key, value in rows:
        if wide(value):
            if pending is not None:
                out.append(
                    f'<tr><th>{esc(pending[0])}</th><td colspan="3">{_value(pending[1])}</td></tr>'
                )
                pending = None
            out.append(f'<tr><th>{esc(key)}</th><td colspan="3">{_value(value)}</td></tr>')
        elif pending is None:
            pending = (key, value)
        else:
            out.append(
                f"<tr><th>{esc(pending[0])}</th><td>{_value(pending[1])}</td>"
                f"<th>{esc(key)}</th><td>{_value(value)}</td></tr>"
            )
            pending = None
    if pending is not None:
        out.append(f'<tr><th>{esc(pending[0])}</th><td colspan="3">{_value(pending[1])}</td></tr>')
    return "".join(out)


def block_html(block: Block, paired: bool = False) -> str:
    if isinstance(block, Para):
        cls = ' class="todo"' if block.placeholder else ""
        return f"<p{cls}>{text_html(block.text)}</p>"
    if isinstance(block, Fields):
        if paired:
            return f'<table class="fields">{_paired_rows(block.rows)}</table>'
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{_value(v)}</td></tr>" for k, v in block.rows)
        return f'<table class="fields">{rows}</table>'
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in block.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{text_html(c)}</td>" for c in row) + "</tr>"
            for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Blank):
        return '<div class="lines">' + "<div></div>" * block.lines + "</div>"
    if isinstance(block, Signatures):
        cells = "".join(
            f'<div>{esc(s)}签字：<span class="fill"></span><br><br>'
            f'日期：<span class="fill"></span></div>'
            for s in block.signers
        )
        return f'<div class="signs">{cells}</div>'
    raise TypeError(f"unknown block {block!r}")  # pragma: no cover


def page(title: str, body: str, extra_css: str = "") -> str:
    """A complete HTML document around ``body`` (already escaped HTML)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>{BASE_CSS}{extra_css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


FORM_CSS = """
@page { size: A4; margin: 10mm 12mm; }
body { font-size: 9.5pt; padding: 0; line-height: 1.3; }
h1 { font-size: 15pt; margin: 0 0 1mm; }
h2 { font-size: 10.5pt; margin: 2.5mm 0 1mm; padding-bottom: 0.5mm; }
p { margin: 0.8mm 0; }
p.sub, p.meta { margin: 0 0 1.5mm; }
table { margin: 0.5mm 0 1mm; }
th, td { padding: 0.8mm 1.5mm; }
table.fields th { width: 15%; }
table.fields td { width: 35%; }
.lines div { height: 6.5mm; }
.signs { margin-top: 3mm; }
footer { margin-top: 2mm; padding-top: 1mm; }
section:last-of-type { break-inside: avoid; }
"""
"""The 技术服务单 on one A4 sheet: tighter margins and spacing, and the user's
confirmation with the signature block never split from its heading."""


def render_document(doc: Document, extra_css: str = "", *, paired: bool = False) -> str:
    parts = [f"<h1>{esc(doc.title)}</h1>"]
    if doc.subtitle:
        parts.append(f'<p class="sub">{esc(doc.subtitle)}</p>')
    if doc.meta:
        parts.append(
            '<p class="meta">'
            + "".join(f"<span>{esc(k)}：{_value(v)}</span>" for k, v in doc.meta)
            + "</p>"
        )
    for section in doc.sections:
        parts.append(f"<section><h2>{esc(section.heading)}</h2>")
        parts += [block_html(b, paired) for b in section.blocks]
        parts.append("</section>")
    if doc.footer:
        parts.append(f"<footer>{esc(doc.footer)}</footer>")
    return page(doc.title, "\n".join(parts), extra_css)
