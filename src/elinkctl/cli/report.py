"""`report major ID`: the 《重大事件处理分析报告》 of a P1 (procedure, 重大事件)."""

from __future__ import annotations

import click

from elinkctl.cli.options import id_argument, pass_context, write_output
from elinkctl.services.context import Context


def emit(text: str, output: str | None) -> None:
    """Write to ``-o FILE`` (saying so on stderr) or to stdout."""
    if output:
        write_output(output, text)
    else:
        click.echo(text, nl=False)


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
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--force", is_flag=True, help="Write it for an incident that is not P1.")
@pass_context
def major(ctx: Context, ticket_id: str, as_html: bool, output: str | None, force: bool) -> None:
    """The major incident report (重大事件处理分析报告) of a P1, for the PM to complete.

    Filled from the events: summary, impact, the timeline (reported, PM
    notified, dispatched, escalations, vendor, resolved, confirmed,
    callback), response and resolution against target, cause and solution.
    Parts only the PM can write are marked 【待项目经理填写】.

    \b
    Example:
      elinkctl report major 7KQ2M > INC-7KQ2M-report.md
      elinkctl report major 7KQ2M --html -o report.html
    """
    from elinkctl.render import html, markdown
    from elinkctl.services import documents
    from elinkctl.services.stats import sla_rules

    ticket = ctx.store.find(ticket_id)
    documents.check_major(ticket, force)
    doc = documents.major_report(ticket, sla_rules(ctx.store.config), ctx.now)
    emit(html.render_document(doc) if as_html else markdown.render(doc), output)
