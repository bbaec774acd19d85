"""`print ID`: the 《技术服务单》 an engineer takes on site (procedure §5, 一线工程师)."""

from __future__ import annotations

import click

from elinkctl.cli.options import id_argument, output_option, pass_context
from elinkctl.cli.report import emit
from elinkctl.services.context import Context


@click.command(name="print")
@id_argument
@click.option("--html", "as_html", is_flag=True, help="Print-ready HTML (A4) instead of Markdown.")
@output_option()
@pass_context
def print_(ctx: Context, ticket_id: str, as_html: bool, output: str | None) -> None:
    """The service ticket form (技术服务单) to print before an on-site visit.

    Reporter and contact, location, system and module, description, the
    appointment, the engineer; blank lines for the work done, start and end
    times, the user's signature and the date. Printed again after `visit
    --done`, it shows what was recorded: start, end, work, signer.

    \b
    Example:
      elinkctl print 7KQ2M --html -o 7KQ2M.html   # then print it on A4
    """
    from elinkctl.render import html, markdown
    from elinkctl.services import documents
    from elinkctl.services.stats import sla_rules

    ticket = ctx.store.find(ticket_id)
    doc = documents.service_form(ticket, sla_rules(ctx.store.config), ctx.now)
    page = html.render_document(doc, html.FORM_CSS, paired=True) if as_html else None
    emit(page if page is not None else markdown.render(doc), output)
