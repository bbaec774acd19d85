"""`stats`: the procedure's KPIs from ticket history (DESIGN §5, §8)."""

from __future__ import annotations

import json
from typing import Any

import click

from elinkctl.cli.options import (
    filter_from_options,
    filter_options,
    json_option,
    output_option,
    pass_context,
    write_output,
)
from elinkctl.cli.output import columns, echo, page
from elinkctl.domain.kpi import DIMENSIONS
from elinkctl.errors import TicketError, UsageProblem
from elinkctl.services.context import Context


@click.command()
@filter_options
@click.option(
    "--by",
    "by",
    type=click.Choice(DIMENSIONS),
    help="Group by a dimension; --by month over a year is the trend series.",
)
@json_option
@click.option("csv_", "--csv", is_flag=True, help="CSV: one row per group or overall.")
@click.option(
    "--excel",
    is_flag=True,
    help="CSV for Excel: UTF-8 with a byte-order mark and CRLF line ends, so Excel "
    "on Chinese Windows opens it by double-click (implies --csv).",
)
@click.option(
    "--html",
    "html_file",
    metavar="[FILE]",
    is_flag=False,
    flag_value="-",
    default=None,
    help="A printable HTML report (KPI table, monthly charts) instead of the "
    "table; to -o FILE (or the old --html FILE), else stdout.",
)
@output_option(
    "Write the report (table, CSV, JSON or HTML) to FILE instead of stdout.", writable=True
)
@click.option("--explain", is_flag=True, help="Print how every KPI is counted, then exit.")
@pass_context
def stats(
    ctx: Context,
    by: str | None,
    json_: bool,
    csv_: bool,
    excel: bool,
    html_file: str | None,
    output: str | None,
    explain: bool,
    **filters: Any,
) -> None:
    """KPIs: timely response and resolution rates against their targets, and more.

    Each rate is timely / (timely + late), computed from the events with the
    SLA clocks `check` uses. Rejected and redirected incidents are excluded
    (and counted as such). Incidents belong to the period they were reported
    in; --since/--until select on that date. See --explain for every rule.

    \b
    Example:
      elinkctl stats --since 2026-01-01 --until 2026-12-31
      elinkctl stats --by priority --json
      elinkctl stats --by month --since 2026-01 --csv > trend.csv
      elinkctl stats --by system --excel -o 按系统统计.csv     # opens in Excel
      elinkctl stats --since 2026-01 --html -o kpi-2026.html
    """
    csv_ = csv_ or excel
    if json_ and csv_:
        raise UsageProblem("--json and --csv exclude each other")
    if html_file and (json_ or csv_) and (html_file == "-" or output):
        raise UsageProblem("--html with -o or on stdout excludes --json and --csv")
    if html_file == "-" and output:
        html_file = output
        output = None
    store = ctx.store
    if not explain:
        store.prefetch_index()  # git validates the index while we import and parse rules
    from elinkctl.services import stats as svc

    rules = svc.sla_rules(store.config)
    if explain:
        echo(svc.explain(rules))
        return
    flt = filter_from_options(ctx, filters)

    def warn(exc: TicketError) -> None:
        echo(f"warning: skipped {exc}", err=True)

    also = ("month",) if html_file else ()
    result = svc.stats_of_store(store, rules, flt, ctx.now, by=by, also=also, on_error=warn)
    for message in svc.calendar_warnings(rules, result.years):
        echo(f"warning: {message}", err=True)
    if html_file:
        from elinkctl.render.stats import html_report
        from elinkctl.services.audit import audit_store

        scope = _scope(filters, ctx)
        integrity = audit_store(  # how far the KPIs can be trusted; skipped tickets warned above
            store, rules, ctx.now, since=flt.since, until=flt.until, on_error=lambda _: None
        )
        html = html_report(
            result,
            title="事件管理KPI报告 Incident KPI report",
            scope=scope,
            rules_text=svc.explain(rules),
            integrity=integrity.to_json(),
        )
        if html_file == "-":
            echo(html, nl=False)
        else:
            write_output(html_file, html)
    text: str | None = None
    if json_:
        text = json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n"
    elif csv_:
        text = svc.to_csv(result)
        if excel:  # what Excel needs to read UTF-8 (else it assumes GBK: 乱码)
            text = "\ufeff" + text.replace("\n", "\r\n")
    elif not html_file:
        from elinkctl.render.stats import text_report

        if result.overall.total == 0:
            echo("no incidents match", err=True)
        text = text_report(result, columns()) + "\n"
    if text is None:
        return
    if output:
        write_output(output, text)
    elif json_ or csv_:
        echo(text, nl=False)
    else:
        page(text)


def _scope(filters: dict[str, Any], ctx: Context) -> str:
    """What the report covers, in words, for its subtitle."""
    shown = []
    for key, value in sorted(filters.items()):
        if value in (None, False, ()):
            continue
        name = key.rstrip("_").replace("_", "-")
        text = ",".join(value) if isinstance(value, tuple) else ("" if value is True else value)
        shown.append(f"--{name} {text}".rstrip())
    return f"as of {ctx.now.strftime('%Y-%m-%d %H:%M')} · " + (
        "filters: " + " ".join(shown) if shown else "all incidents"
    )
