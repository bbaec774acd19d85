"""The procedure's hand-offs that do more than record one event (issue 13).

- `resolve`: a P1 resolved before its management cell fired reaches
  management in the same commit (DESIGN §4), and is told so;
- `progress`: the report to management is recorded and sent to management;
- `issue_report`: the major incident report is stored under ``reports/``
  in the same commit as the ``report_issued`` event, so what the customer
  received is in git history;
- `step`: the other steps (major confirm, review, close, callback) with the
  store's procedure rules.

Notices are queued in the outbox before the commit (deterministic keys: a
failed commit is never announced twice) and sent after the lock, as `new`
does; a broken escalation.yaml never blocks the step, it comes back as a note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from elinkctl.config import Config
from elinkctl.domain import lifecycle, major
from elinkctl.domain.findings import Finding, record_findings, resolution_escalations
from elinkctl.domain.layout import REPORTS
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Ticket
from elinkctl.domain.procedure import ProcedureRules
from elinkctl.errors import ConfigError, ElinkError
from elinkctl.services.context import Context


@dataclasses.dataclass(frozen=True)
class Stepped:
    """A committed step and what the desk should hear about it."""

    change: Change
    notes: tuple[str, ...] = ()


def procedure_rules(config: Config) -> ProcedureRules:
    """sla.yaml ``procedure:`` (ConfigError with file and line when broken)."""
    from elinkctl.services.validators import locate, sla_rules

    calendars = sla_rules(config).calendars
    try:
        return ProcedureRules.from_mapping(config.sla.data.get("procedure"), calendars)
    except ConfigError as exc:
        raise ConfigError(locate(config.sla, str(exc))) from None


def step(ctx: Context, given_id: str, apply: Callable[[Ticket, ProcedureRules], Change]) -> Change:
    """One step that needs the procedure rules, in one transaction."""
    from elinkctl.services import tickets

    proc = procedure_rules(ctx.store.config)
    return tickets.change(ctx, given_id, lambda t: apply(t, proc))


def resolve(
    ctx: Context,
    given_id: str,
    at: dt.datetime,
    *,
    solution: str,
    cause: str | None,
    kb: str | None,
) -> Stepped:
    """Record the resolution; a P1 also reaches management now if it had not."""
    from elinkctl.services import check, notices

    actor, now, store = ctx.actor, ctx.now, ctx.store
    notes: list[str] = []
    rules: Any = None
    due: list[Finding] = []
    queued = 0
    with store.transaction(actor) as tx:
        before = tx.find(given_id)
        change = lifecycle.record(
            before, "resolved", actor, at, now, "resolved",
            solution=solution, cause=cause, kb=kb,
        )  # fmt: skip
        # The reporter is asked to confirm; a P1's resolution reaches management
        # (notices: resolved_major) unless its management level fires now.
        told = notices.queue_step(store, before, change.ticket, now)
        ticket = told.ticket
        change = dataclasses.replace(change, ticket=ticket)
        try:
            rules = check.load_rules(tx.config)
            due = resolution_escalations(ticket, rules, now)
        except ElinkError as exc:
            notes.append(f"escalation not checked: {exc}")
        if due:
            ticket = record_findings(ticket, due, check.CHECK_ACTOR, now)
            change = dataclasses.replace(
                change,
                ticket=ticket,
                message=f"{change.message} (escalation on resolution → management)",
            )
            queued = check.queue(check.outbox_for(store), rules, due, now)
            # management hears it from the escalation; the PM still gets the notice
            told.forget_notice("resolved_major", [p for f in due for p in f.recipients])
        tx.put(ticket)
        try:
            tx.commit(change.message)
        except BaseException:
            told.forget()
            raise
    if due:
        notes += check.registration_notes(store, rules, due, queued, now)
        told.send_now = False  # registration_notes flushed the outbox already
    notes += told.after_lock(now)
    return Stepped(change, tuple(notes))


def progress(ctx: Context, given_id: str, at: dt.datetime, text: str | None) -> Stepped:
    """Record a progress report on an open P1 and send it to management."""
    from elinkctl.services import check

    actor, now, store = ctx.actor, ctx.now, ctx.store
    notes: list[str] = []
    with store.transaction(actor) as tx:
        change = major.report_progress(tx.find(given_id), actor, at, now, text)
        queued = 0
        rules: Any = None
        try:
            rules = check.load_rules(tx.config)
            queued = _queue_progress(store, rules, change, now)
        except ElinkError as exc:
            notes.append(f"management not notified: {exc}")
        tx.put(change.ticket)
        tx.commit(change.message)
    if queued:
        from elinkctl.notify.records import delivery_notes

        results = check.flush(check.outbox_for(store), rules, now, store=store)
        notes += delivery_notes(results)
    elif rules is not None:
        notes.append("nobody is listed for management under roles: in escalation.yaml")
    return Stepped(change, tuple(notes))


def _queue_progress(store: Any, rules: Any, change: Change, now: dt.datetime) -> int:
    from elinkctl.notify import Kind, Message, queue_notifications
    from elinkctl.services import check

    t = change.ticket
    message = Message(
        ticket=t.id,
        title=t.title,
        priority=t.priority,
        kind=Kind.PROGRESS,
        level="向管理层汇报进展",
        elapsed="",
        status=str(t.status),
        assignee=t.state.assignee or "",
        note=str(change.event.get("text") or ""),
        security=bool(t.fields.get("security")),
    )
    key = f"{t.id}/progress/{change.event.id}"
    plan = queue_notifications(check.outbox_for(store), rules.notify, ("management",), message, key)
    return len(plan)


def report_paths(ticket: Ticket) -> tuple[str, str]:
    """Where an issued major incident report is stored (Markdown and HTML)."""
    from elinkctl.domain import ids

    year, month = ids.shard(ticket.id)
    base = f"{REPORTS}/{year}/{month}/{ticket.id}-major"
    return f"{base}.md", f"{base}.html"


def issue_report(ctx: Context, given_id: str, at: dt.datetime) -> Stepped:
    """Store the report under reports/ and record ``report_issued``, one commit."""
    from elinkctl.render import html, markdown
    from elinkctl.services import documents
    from elinkctl.services.stats import sla_rules

    actor, now, store = ctx.actor, ctx.now, ctx.store
    proc = procedure_rules(store.config)
    with store.transaction(actor) as tx:
        ticket = tx.find(given_id)
        documents.check_major(ticket, force=False)
        paths = report_paths(ticket)
        change = major.issue_report(ticket, actor, at, now, paths, proc)
        doc = documents.major_report(change.ticket, sla_rules(store.config), now)
        md_path, html_path = paths
        for rel, text in ((md_path, markdown.render(doc)), (html_path, html.render_document(doc))):
            tx.put_file(store.root / rel, text, is_new=not (store.root / rel).exists())
        tx.put(change.ticket)
        tx.commit(change.message)
    return Stepped(change, tuple(f"stored {p}" for p in paths))
