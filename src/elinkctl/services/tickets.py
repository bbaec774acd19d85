"""Changing one incident: one command, one event, one commit (DESIGN §6).

Every lifecycle step (accept, assign, resolve, close …) and every edit is a
pure function of the ticket (`elinkctl.domain.lifecycle`); this runs it in
a `Store.transaction`, on the ticket as it is under the lock, so two people
acting at once never overwrite each other's events. The notices of the
step (escalation.yaml ``notices:``) are queued in the same transaction
(`elinkctl.services.notices`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Ticket
from elinkctl.services.context import Context


def change(ctx: Context, given_id: str, step: Callable[[Ticket], Change]) -> Change:
    """Apply ``step`` to the ticket ``given_id`` names and commit it as the actor."""
    return change_with_notes(ctx, given_id, step)[0]


def change_with_notes(
    ctx: Context, given_id: str, step: Callable[[Ticket], Change]
) -> tuple[Change, list[str]]:
    """`change`, and what the desk should hear about the notices it queued."""
    from elinkctl.services import notices

    actor = ctx.actor  # resolved before the lock: a missing name fails at once
    with ctx.store.transaction(actor) as tx:
        before = tx.find(given_id)
        result = step(before)
        queued = notices.queue_step(ctx.store, before, result.ticket, ctx.now)
        if queued.ticket is not result.ticket:  # Message-IDs recorded on the event
            event = next(e for e in queued.ticket.events if e.id == result.event.id)
            result = dataclasses.replace(result, ticket=queued.ticket, event=event)
        tx.put(result.ticket)
        try:
            tx.commit(result.message)
        except BaseException:
            queued.forget()
            raise
    return result, queued.after_lock(ctx.now)
