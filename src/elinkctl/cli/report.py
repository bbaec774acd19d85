"""`report major ID`: the 《重大事件处理分析报告》 of a P1 (procedure, 重大事件)."""

from __future__ import annotations

import click

from elinkctl.cli.options import id_argument, output_option, pass_context, write_output
from elinkctl.cli.output import echo
from elinkctl.services.context import Context


def emit(text: str, output: str | None) -> None:
    """Write to ``-o FILE`` (saying so on stderr) or to stdout."""
    if output:
        write_output(output, text)
    else:
        echo(text, nl=False)


@click.group()
def report() -> None:
    """Documents of the procedure built from a ticket's history.

    \b
    Example:
      elinkctl report major 7KQ2M --html -o report.html
    """


@report.command()
@id_argument
@click.option("--html", "as_html", is_flag=True, help="Printable HTML instead of Markdown.")
@output_option()
@click.option("--force", is_flag=True, help="Write it for an incident that is not P1.")
@click.option(
    "--issue",
    is_flag=True,
    help="Issue it: store it under reports/ with a report_issued event, one commit.",
)
@click.option("--at", "at", metavar="TIME", help="When it was issued (with --issue).")
@pass_context
def major(
    ctx: Context,
    ticket_id: str,
    as_html: bool,
    output: str | None,
    force: bool,
    issue: bool,
    at: str | None,
) -> None:
    """The major incident report (重大事件处理分析报告) of a P1, for the PM.

    Filled from the events: summary, impact, the timeline (reported, PM
    notified, dispatched, escalations, vendor, resolved, confirmed,
    callback), response and resolution against target, cause and solution.
    Parts only the PM can write are marked 【待项目经理填写】.

    \b
    Without --issue it is a draft on stdout (or -o FILE). With --issue (事件
    审核确认, after the PM's `review --approve`) the report is stored as
    reports/YYYY/MM/<ID>-major.md and .html in the same commit as a
    report_issued event, so the report the customer received is in git.

    \b
    Example:
      elinkctl report major 7KQ2M > INC-7KQ2M-report.md
      elinkctl report major 7KQ2M --html -o report.html
      elinkctl report major 7KQ2M --issue
    """
    if issue:
        from elinkctl.services import procedure

        if output or as_html or force:
            raise click.UsageError("--issue stores both forms itself; drop -o, --html and --force")
        result = procedure.issue_report(ctx, ticket_id, ctx.parse_time(at))
        for line in result.notes:
            echo(line, err=True)
        echo(result.change.message, err=True)
        return
    if at:
        raise click.UsageError("--at goes with --issue")
    from elinkctl.render import html, markdown
    from elinkctl.services import documents
    from elinkctl.services.stats import sla_rules

    ticket = ctx.store.find(ticket_id)
    documents.check_major(ticket, force)
    doc = documents.major_report(ticket, sla_rules(ctx.store.config), ctx.now)
    emit(html.render_document(doc) if as_html else markdown.render(doc), output)
