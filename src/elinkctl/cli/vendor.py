"""`replied`: the vendor's answer to a vendor escalation (厂商回复)."""

from __future__ import annotations

import click

from elinkctl.cli.options import at_option, id_argument, note_option, pass_context, run_step
from elinkctl.services.context import Context


@click.command()
@id_argument
@note_option("text", required=True, help="What the vendor answered.")
@at_option
@pass_context
def replied(ctx: Context, ticket_id: str, text: str, at: str | None) -> None:
    """The vendor's reply arrived: stops the vendor clock of the escalation.

    Answers the vendor escalation in force at --at (`escalate --tier vendor
    --due`); refused when the incident was never escalated to a vendor or the
    reply is already recorded. `stats` counts the reply timely when it came by
    the due time.

    \b
    Example:
      elinkctl replied 7KQ2M -m '用友：补丁已提供，今晚安装'
      elinkctl replied 7KQ2M -m '厂商电话答复，需升级版本' --at '2026-11-24 11:30'
    """
    from elinkctl.domain import vendor

    when = ctx.parse_time(at)
    run_step(ctx, ticket_id, lambda t: vendor.replied(t, ctx.actor, when, ctx.now, text))
