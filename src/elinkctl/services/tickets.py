"""Changing one incident: one command, one event, one commit (DESIGN §6).

Every lifecycle step (accept, assign, resolve, close …) and every edit is a
pure function of the ticket (`elinkctl.domain.lifecycle`); this runs it in
a `Store.transaction`, on the ticket as it is under the lock, so two people
acting at once never overwrite each other's events.
"""

from __future__ import annotations

from collections.abc import Callable

from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Ticket
from elinkctl.services.context import Context


def change(ctx: Context, given_id: str, step: Callable[[Ticket], Change]) -> Change:
    """Apply ``step`` to the ticket ``given_id`` names and commit it as the actor."""
    actor = ctx.actor  # resolved before the lock: a missing name fails at once
    with ctx.store.transaction(actor) as tx:
        result = step(tx.find(given_id))
        tx.put(result.ticket)
        tx.commit(result.message)
    return result
