"""`audit`'s report as text for the terminal and as a section of the HTML KPI report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elinkctl.domain.audit import KINDS, Report
from elinkctl.domain.glossary import AUDIT_FINDINGS, en, zh
from elinkctl.timeutil import format_duration


def _label(kind: str) -> str:
    return f"{zh(AUDIT_FINDINGS, kind)} {en(AUDIT_FINDINGS, kind)}"


def _counts_line(row: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {row[kind]}" for kind in KINDS if row.get(kind))


def text_report(report: Report) -> str:
    """The summary, the counts per person and per month, then every finding."""
    tz = report.now.tzinfo
    totals = report.totals()
    scope = "all incidents"
    if report.since or report.until:
        since = report.since.strftime("%Y-%m-%d") if report.since else "…"
        until = report.until.strftime("%Y-%m-%d %H:%M") if report.until else "…"
        scope = f"incidents reported {since} – {until}"
    lines = [
        f"KPI integrity 指标可信度: {scope}; {report.incidents} incidents, "
        f"{report.commits} commits read, late means recorded more than "
        f"{format_duration(report.tolerance)} after the time claimed",
    ]
    from elinkctl.render.terminal import pad, wcwidth_len

    width = max(wcwidth_len(_label(kind)) for kind in KINDS)
    for kind in KINDS:
        lines.append(f"  {pad(_label(kind), width)}  {totals[kind]:>6}")
    doubtful = report.doubtful()
    lines.append(
        f"  timely only because of a finding: {doubtful['response']} response(s), "
        f"{doubtful['resolution']} resolution(s)"
    )
    for imp in report.imports:
        when = imp.date.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        lines.append(
            f"  import {imp.commit[:10]} ({when}, {imp.tickets} tickets): "
            "its events are not dated by the commit"
        )
    if report.findings:
        lines += ["", "By person:"]
        lines += [f"  {name}: {_counts_line(row)}" for name, row in report.by_person().items()]
        lines += ["", "By month reported:"]
        lines += [f"  {month}: {_counts_line(row)}" for month, row in report.by_month().items()]
        lines += ["", "Findings:"]
        for f in report.findings:
            lines.append(f"  {f.ticket} {f.kind} {f.by}: {f.detail}")
    return "\n".join(lines)


def html_section(data: Mapping[str, Any]) -> str:
    """The KPI report's integrity section from `Report.to_json` data: counts by
    kind, the incidents whose timeliness rests on a finding, and the people
    and months with the most findings."""
    from elinkctl.render.html import esc

    totals = data["totals"]
    rows = "".join(
        f'<tr><td>{esc(_label(kind))}</td><td class="num">{totals.get(kind, 0)}</td></tr>'
        for kind in KINDS
    )
    doubtful = data["doubtful"]
    parts = [
        "<h2>指标可信度 KPI integrity</h2>",
        f'<p class="muted">{esc(data["incidents"])} incidents, {esc(data["commits"])} commits '
        f"read by elinkctl audit; a step counts as recorded late more than "
        f"{esc(format_duration_s(data['tolerance_s']))} after the time it claims.</p>",
        f'<table><thead><tr><th>发现 finding</th><th class="num">count</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>",
        "<p>"
        + esc(
            f"仅因上述记录而计为及时 timely only because of a finding: "
            f"{doubtful['response']} response(s), {doubtful['resolution']} resolution(s)"
        )
        + "</p>",
    ]
    for title, key in (("按人员 by person", "by_person"), ("按月份 by month", "by_month")):
        groups = data.get(key) or {}
        if not groups:
            continue
        body = "".join(
            f"<tr><td>{esc(name)}</td><td>{esc(_counts_line(row))}</td>"
            f'<td class="num">{row["total"]}</td></tr>'
            for name, row in groups.items()
        )
        parts.append(
            f"<table><thead><tr><th>{esc(title)}</th><th>findings</th>"
            f'<th class="num">total</th></tr></thead><tbody>{body}</tbody></table>'
        )
    for note in data.get("skipped") or ():
        parts.append(f'<p class="muted">{esc(note)}</p>')
    return "\n".join(parts)


def format_duration_s(seconds: int) -> str:
    import datetime as dt

    return format_duration(dt.timedelta(seconds=seconds))
