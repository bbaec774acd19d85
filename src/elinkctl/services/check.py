"""`elinkctl check`: the cron job. Due escalations and SLA marks → events, one commit, notices.

One run:

1. take the store lock *without waiting*; a run that finds it busy does
   nothing (another `check` or a desk command is writing; the next run will
   see everything, since nothing here depends on running at a given minute);
2. for every open incident, find the escalation levels that are due and not
   fired (`elinkctl.domain.escalation`) and the SLA clocks that reached
   their warning share or their deadline without an event saying so
   (`elinkctl.domain.sla`);
3. record each as an event — ``escalation {role, after, due_at, recipients}``,
   ``sla_warning`` / ``sla_breach {clock, deadline, priority, target}`` — and
   commit every changed ticket in **one** commit;
4. queue one notification per finding in the outbox (``<state_dir>/outbox``),
   keyed by ticket, kind and cell, release the lock, and flush the outbox:
   earlier failures are retried with back-off, nothing goes out twice. The
   flush also sends what the desk's steps queued (`elinkctl.services.notices`),
   one message per person and channel, robots' night posts held until
   morning, and drops a notice whose step was never committed.

Idempotence comes from the events, not from a timestamp of the last run: a
second run at the same moment finds every due level already fired, so it
records and sends nothing; a run after hours of missed runs finds each level
that became due meanwhile exactly once and records them oldest first.

What counts as due is pure domain (`elinkctl.domain.findings`); this module
runs it over the store, records, commits and notifies.

Known limits (kept simple on purpose): the outbox is per clone, so run
plain `check` from cron on one host only (several hosts: `check --sync`
under the check lease, `elinkctl.services.lease`); the few milliseconds between the commit
and queueing the notifications are not journalled (a crash there loses
those notices, never the record on the ticket).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from elinkctl.cache import index_failed
from elinkctl.config import Config
from elinkctl.domain import glossary, reminders
from elinkctl.domain.calendar import Calendar
from elinkctl.domain.escalation import EscalationRules
from elinkctl.domain.findings import (
    ESCALATION,
    IMMEDIATE_PRIORITIES,
    SLA_BREACH,
    SLA_WARNING,
    Finding,
    Rules,
    commit_message,
    escalation_findings,
    next_due,
    record_findings,
    reminder_findings,
    sla_findings,
)
from elinkctl.domain.model import Ticket
from elinkctl.domain.permissions import CRON_IDENTITY
from elinkctl.domain.procedure import ProcedureRules
from elinkctl.domain.sla import clocks
from elinkctl.errors import ConfigError, ElinkError, NotFound, StoreBusy, TicketError
from elinkctl.services.validators import holiday_gaps, locate, sla_rules
from elinkctl.store.store import Store
from elinkctl.timeutil import format_duration

if TYPE_CHECKING:
    from elinkctl.cache.plan import PlanCache

CHECK_ACTOR = CRON_IDENTITY


def notice(f: Finding, now: dt.datetime) -> Any:
    """The notification of a finding (an `elinkctl.notify.Message`), concise Chinese."""
    from elinkctl.notify import Kind, Message

    t = f.ticket
    reporter = t.fields.get("reporter") or {}
    note = ""
    if f.kind == ESCALATION:
        level = Message.level_for(f.after, f.role)
        if now - f.due_at > dt.timedelta(minutes=15):
            note = f"应于 {_local(f.due_at)} 升级，本次补发"
    elif f.is_reminder:
        level = glossary.zh(glossary.EVENTS, f.kind)
        note = f"应于 {_local(f.due_at)} 完成" if f.kind != "progress_due" else "请向管理层汇报进展"
    else:
        level = f"{glossary.zh(glossary.CLOCKS, f.clock)}时限 {f.target}"
    return Message(
        ticket=t.id,
        title=t.title,
        priority=t.priority,
        kind=Kind(f.kind),
        level=level,
        elapsed=format_duration(now - t.opened_at),
        status=str(t.status),
        assignee=t.state.assignee or "",
        deadline=_local(f.deadline) if f.deadline else "",
        reporter=str(reporter.get("name") or ""),
        department=str(reporter.get("department") or ""),
        note=note,
        security=bool(t.fields.get("security")),
    )


def _local(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def load_rules(config: Config) -> Rules:
    """Parse sla.yaml and the matrix; ConfigError with file and line."""
    sla = sla_rules(config)
    try:
        esc = EscalationRules.from_mapping(config.escalation.data, sla.calendars, config.tz)
    except ConfigError as exc:
        raise ConfigError(locate(config.escalation, str(exc))) from None
    try:
        procedure = ProcedureRules.from_mapping(config.sla.data.get("procedure"), sla.calendars)
    except ConfigError as exc:
        raise ConfigError(locate(config.sla, str(exc))) from None
    return Rules(sla, esc, config.escalation.data, _people_of(config.escalation.data), procedure)


def _people_of(data: Mapping[str, Any]) -> Callable[[Sequence[str]], list[str]]:
    """Roles -> people as escalation.yaml lists them (notify is imported only
    when someone must be told: a quiet cron run never needs it)."""

    def people(roles: Sequence[str]) -> list[str]:
        from elinkctl.notify import people_for_roles

        return people_for_roles(data, roles)

    return people


# --- the run -------------------------------------------------------------------------


@dataclasses.dataclass
class CheckReport:
    """What one run did (or, with ``dry_run``, would do)."""

    findings: list[Finding] = dataclasses.field(default_factory=list)
    notifications: list[Any] = dataclasses.field(default_factory=list)  # DeliveryResult
    planned: list[tuple[Finding, Any]] = dataclasses.field(default_factory=list)  # Delivery
    broken: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    busy: bool = False
    dry_run: bool = False
    commit: str | None = None

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def to_json(self) -> dict[str, Any]:
        """The ``check --json`` document (DESIGN §8)."""
        data: dict[str, Any] = {
            "escalations": [f.to_json() for f in self.of_kind(ESCALATION)],
            "sla_warnings": [f.to_json() for f in self.of_kind(SLA_WARNING)],
            "sla_breaches": [f.to_json() for f in self.of_kind(SLA_BREACH)],
            "reminders": [f.to_json() for f in self.findings if f.is_reminder],
            "notifications": [r.to_dict() for r in self.notifications],
            "broken": list(self.broken),
            "warnings": list(self.warnings),
            "dry_run": self.dry_run,
            "busy": self.busy,
        }
        if self.dry_run:
            data["planned_notifications"] = [
                {
                    "ticket": f.ticket.id,
                    "kind": f.kind,
                    "channel": d.channel,
                    "recipients": list(d.recipients),
                }
                for f, d in self.planned
            ]
        return data


def outbox_for(store: Store) -> Any:
    from elinkctl.notify import Outbox

    return Outbox(store.state_dir / "outbox")


def plan_cache(store: Store) -> PlanCache:
    """The store's check plan (`elinkctl.cache.plan`), valid while the code
    deciding what is due and the rules are unchanged."""
    from elinkctl.cache.plan import PLAN_FILE, PlanCache
    from elinkctl.cache.versions import code_digest, rules_digest
    from elinkctl.domain import calendar, escalation, findings, procedure, reminders, sla

    code = code_digest(
        sys.modules[__name__], findings, reminders, procedure, escalation, sla, calendar
    )
    return PlanCache(store.state_dir / PLAN_FILE, f"{code}-{rules_digest(store.root)}")


Touch = Callable[[str, dt.datetime, dt.datetime], None]


@dataclasses.dataclass(frozen=True)
class _Closed:
    """A recently closed ticket as `_candidate_tickets` needs it: its path."""

    path: str
    is_open: bool = False


def _candidate_tickets(
    store: Store,
    broken: list[str],
    plan: PlanCache,
    now: dt.datetime,
    touch: Touch,
    seen: set[str],
) -> Iterator[tuple[Ticket, str, str | None]]:
    """(ticket, path, content key) of open (and recently closed) tickets that
    may have something due.

    The index lists open tickets without parsing unchanged files and reports
    broken ones (``Store.summaries`` falls back to reading files when the
    index fails). A ticket whose cached plan says nothing is due before
    ``now`` is skipped unread; its calendar span still counts for the
    holiday-data warning.
    """
    from elinkctl.domain.selection import TicketFilter

    rows: list[Any] = store.summaries(
        TicketFilter(open_only=True), on_error=lambda e: broken.append(str(e))
    )
    # Closed incidents may still owe a knowledge-base decision (reminders):
    # only their paths; the plan cache says whether one must be read.
    rows += [_Closed(path) for path in store.recently_closed(now - reminders.KB_LOOKBACK)]
    keys: dict[str, str | None]
    try:
        keys = store.index().keys_of(str(row.path) for row in rows)
    except Exception as exc:
        if not index_failed(exc):
            raise
        keys = {}  # no index: no plan cache, read every open ticket
    for row in rows:
        path = str(row.path)
        seen.add(path)
        key = keys.get(path)
        cached = plan.get(path, key) if key is not None else None
        if cached is not None:
            due, horizon = cached
            if due is None or due > now:
                if row.is_open:
                    touch(row.priority, row.opened_at, max(horizon, now))
                continue
        try:
            ticket = store.load_path(store.root / path)
        except TicketError as exc:
            broken.append(str(exc))
            continue
        except NotFound:
            continue  # removed meanwhile
        yield ticket, path, key


def _findings_of_open_tickets(
    store: Store, rules: Rules, now: dt.datetime, report: CheckReport, *, save_plan: bool = True
) -> list[tuple[Ticket, list[Finding]]]:
    """Findings per open ticket; holiday gaps of the calendars used go to ``report``."""
    spans: dict[Calendar, tuple[dt.datetime, dt.datetime]] = {}

    def touch(cal: Calendar, start: dt.datetime, end: dt.datetime) -> None:
        lo, hi = spans.get(cal, (start, end))
        spans[cal] = (min(lo, start), max(hi, end))

    # Per priority, the earliest opening and the latest horizon: all the
    # calendars' spans need (touched once per priority at the end, not per ticket).
    extent: dict[str, tuple[dt.datetime, dt.datetime]] = {}

    def touch_all(priority: str, opened: dt.datetime, horizon: dt.datetime) -> None:
        lo, hi = extent.get(priority, (opened, horizon))
        extent[priority] = (min(lo, opened), max(hi, horizon))

    plan = plan_cache(store)
    seen: set[str] = set()
    out = []
    for ticket, path, key in _candidate_tickets(store, report.broken, plan, now, touch_all, seen):
        try:
            findings = reminder_findings(ticket, rules, now)
            horizon = now
            if ticket.is_open:
                findings = (
                    escalation_findings(ticket, rules, now)
                    + sla_findings(ticket, rules, now)
                    + findings
                )
                deadlines = [c.deadline for c in clocks(ticket, rules.sla, now) if c.deadline]
                horizon = max([now, *deadlines])
                touch_all(ticket.priority, ticket.opened_at, horizon)
            if key is not None and not findings:
                # With findings the ticket is about to change (new key): plan it next run.
                plan.put(path, key, next_due(ticket, rules, now), horizon)
        except (ElinkError, ValueError, TypeError) as exc:
            report.broken.append(f"{store.rel(store.path_of(ticket.id))}: {exc}")
            continue
        if findings:
            out.append((ticket, sorted(findings, key=lambda f: f.due_at)))
    for priority, (opened, horizon) in extent.items():
        target = rules.sla.targets.get(priority)
        if target is not None:
            touch(target.calendar, opened, horizon)
        for cell in rules.escalation.row(priority):
            touch(cell.calendar, opened, now)
    report.warnings.extend(holiday_gaps(spans))
    if save_plan:
        plan.save(seen)
    return out


def run_check(
    store: Store,
    actor: str,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    send: bool = True,
) -> CheckReport:
    """One `check` run (see the module docstring). Raises ConfigError for broken rules.

    ``send=False`` queues but does not flush: under the check lease the
    caller publishes the queue before sending (`elinkctl.services.lease`)."""
    report = CheckReport(dry_run=dry_run)
    rules = load_rules(store.config)
    if dry_run:
        from elinkctl.notify import plan_deliveries

        # No lock (it would also finish an interrupted commit): read, plan, write nothing.
        for ticket, findings in _findings_of_open_tickets(
            store, rules, now, report, save_plan=False
        ):
            del ticket
            for f in findings:
                report.findings.append(f)
                for d in plan_deliveries(rules.notify, f.roles, notice(f, now), people=f.people):
                    report.planned.append((f, d))
        report.findings.sort(key=lambda f: (f.due_at, f.ticket.id))
        return report

    try:
        with store.transaction(actor, wait=False) as tx:
            changed = 0
            for ticket, findings in _findings_of_open_tickets(store, rules, now, report):
                try:
                    updated = record_findings(ticket, findings, actor, now)
                    tx.put(updated, reserve=False)  # its events fit in the reserve
                except ElinkError as exc:
                    report.broken.append(f"{store.rel(store.path_of(ticket.id))}: {exc}")
                    continue
                changed += 1
                report.findings.extend(findings)
            report.findings.sort(key=lambda f: (f.due_at, f.ticket.id))
            if changed:
                report.commit = commit_message(report.findings)
                # Queue first: outbox keys are deterministic (ticket, level), so a
                # failed commit is re-recorded by the next run without a second
                # notice, and a crash between the two cannot lose one.
                queue(outbox_for(store), rules, report.findings, now)
                tx.commit(report.commit)
    except StoreBusy:
        report.busy = True
        return report
    if send and _outbox_has_pending(store):
        report.notifications = flush(outbox_for(store), rules, now, env, store=store)
    return report


def _outbox_has_pending(store: Store) -> bool:
    """Whether anything waits to be sent: a quiet run skips loading the notifier."""
    pending = store.state_dir / "outbox" / "pending"
    try:
        return any(pending.iterdir())
    except OSError:
        return False


def queue(outbox: Any, rules: Rules, findings: Sequence[Finding], now: dt.datetime) -> int:
    """Queue each finding's deliveries; returns how many deliveries were planned."""
    from elinkctl.notify import queue_notifications
    from elinkctl.services.notices import robot_hold

    count = 0
    for f in findings:
        plan = queue_notifications(
            outbox,
            rules.notify,
            f.roles,
            notice(f, now),
            f.event_key,
            people=f.people,
            # store time: a ticket's times carry the store's offset
            hold=robot_hold(
                rules.notify, str(f.ticket.priority), now.astimezone(f.ticket.opened_at.tzinfo)
            ),
        )
        count += len(plan)
    return count


def forget_queued(outbox: Any, rules: Rules, findings: Sequence[Finding]) -> None:
    """Take back what `queue` queued for ``findings`` (their commit failed)."""
    from elinkctl.notify import delivery_key

    channels = rules.notify.get("channels") or {}
    outbox.forget([delivery_key(f.event_key, str(c)) for f in findings for c in channels])


def flush(
    outbox: Any,
    rules: Rules,
    now: dt.datetime,
    env: Mapping[str, str] | None = None,
    *,
    store: Store | None = None,
    drop_uncommitted: bool = True,
) -> list[Any]:
    """Send what is due in the outbox; `DeliveryResult`s in queue order.

    With the ``store``, a question to the reporter the ticket already
    answers is not asked (`elinkctl.services.notices.answered`), and (unless
    ``drop_uncommitted`` is off: the check lease's imported items, whose
    events may still be on their way) a notice whose event was never
    committed (its command failed or was killed) is dropped instead of sent
    (`notices.committed`)."""
    from elinkctl.notify import make_sender

    committed = moot = None
    if store is not None:
        from elinkctl.services.notices import answered
        from elinkctl.services.notices import committed as committed_in

        moot = answered(store)
        committed = committed_in(store) if drop_uncommitted else None
    sender = make_sender(rules.notify, os.environ if env is None else env)
    results: list[Any] = outbox.flush(now, sender, committed=committed, moot=moot)
    return results


# --- used by `new` ---------------------------------------------------------------------


def registration_escalations(
    config: Config, ticket: Ticket, actor: str, now: dt.datetime
) -> tuple[Ticket, list[Finding], Rules | None, list[str]]:
    """Levels due at registration of a major incident, recorded on the new ticket.

    Only for `IMMEDIATE_PRIORITIES` (P1, DESIGN §4: "the desk notifies the PM
    at once"): its 0h level, and for a backfill every level already due.
    Lower priorities' 0h levels are left to the next `check` (minutes
    later), so an ordinary registration stays one event in one commit.
    Never raises for broken rules: registering an incident must not depend on
    escalation.yaml being right; the problem comes back as a note instead.
    """
    if ticket.priority not in IMMEDIATE_PRIORITIES:
        return ticket, [], None, []
    try:
        rules = load_rules(config)
        findings = escalation_findings(ticket, rules, now)
        updated = record_findings(ticket, findings, actor, now) if findings else ticket
    except ElinkError as exc:
        return ticket, [], None, [f"escalation not checked: {exc}"]
    return updated, findings, rules, []


def registration_notes(
    store: Store, rules: Rules, findings: Sequence[Finding], queued: int, now: dt.datetime
) -> list[str]:
    """Flush what `new` queued and say, on stderr, who was told (or why not).

    A failed send stays in the outbox; the next `check` retries it.
    """
    notes = []
    for f in findings:
        label = f"{f.after} → {glossary.zh(glossary.ROLES, f.role)} ({f.role})"
        if f.recipients:
            notes.append(f"escalation {label}: {', '.join(f.recipients)}")
        else:
            notes.append(
                f"escalation {label}: nobody is listed for {f.role} under roles: in escalation.yaml"
            )
    if queued:
        from elinkctl.notify.records import delivery_notes

        notes += delivery_notes(flush(outbox_for(store), rules, now, store=store))
    return notes
