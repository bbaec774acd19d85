"""`audit`: KPI integrity over history (DESIGN §8)."""

from __future__ import annotations

import json

import click

from elinkctl.cli.options import json_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.errors import TicketError, UsageProblem
from elinkctl.services.context import Context


@click.command()
@click.option("--since", metavar="DATE", help="Incidents reported on or after.")
@click.option(
    "--until", metavar="DATE", help="Incidents reported before (a date means the end of that day)."
)
@click.option(
    "--tolerance",
    metavar="DURATION",
    help="How much later than its time a step may be recorded before it counts as late "
    "(default: escalation.yaml verify.tolerance, else 1h).",
)
@json_option
@pass_context
def audit(
    ctx: Context, since: str | None, until: str | None, tolerance: str | None, json_: bool
) -> None:
    """KPI integrity over history: what makes the KPIs doubtful, per person and month.

    Reads the whole git history of the tickets once and lists: steps
    recorded long after the time they claim (even honestly with --at),
    above all those that make a late response or resolution look timely;
    event times edited after they were recorded; priority changes that
    turned a late incident timely; closes without the user's confirmation
    (forced ones included); callbacks by someone outside the desk. Late is
    judged with the SLA clocks `stats` counts with. Incidents belong to the
    month they were reported in. Exit 0 whatever it finds.

    \b
    Example:
      elinkctl audit
      elinkctl audit --since 2026-01 --until 2026-06 --json
      elinkctl audit --tolerance 4h
    """
    from elinkctl.domain.recorded import FLOOR
    from elinkctl.services import audit as svc
    from elinkctl.services.stats import sla_rules
    from elinkctl.timeutil import parse_duration

    allowed = None
    if tolerance is not None:
        try:
            allowed = parse_duration(tolerance)
        except UsageProblem as exc:
            raise UsageProblem(f"--tolerance: {exc}") from None
        if allowed < FLOOR:
            raise UsageProblem(
                "--tolerance: at least 1m (a step entered within a minute is on time)"
            )
    store = ctx.store
    rules = sla_rules(store.config)

    def warn(exc: TicketError) -> None:
        echo(f"warning: skipped {exc}", err=True)

    report = svc.audit_store(
        store,
        rules,
        ctx.now,
        since=ctx.parse_bound(since, "--since", end=False),
        until=ctx.parse_bound(until, "--until", end=True),
        tolerance=allowed,
        on_error=warn,
    )
    for note in report.skipped:
        echo(f"note: {note}", err=True)
    if json_:
        echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return
    from elinkctl.render.audit import text_report

    echo(text_report(report))
