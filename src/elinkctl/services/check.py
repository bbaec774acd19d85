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
   earlier failures are retried with back-off, nothing goes out twice.

Idempotence comes from the events, not from a timestamp of the last run: a
second run at the same moment finds every due level already fired, so it
records and sends nothing; a run after hours of missed runs finds each level
that became due meanwhile exactly once and records them oldest first.

SLA marks: each (kind, clock) fires once per incident *and priority* — a
re-prioritised incident has a new target, which is news. A breach found
together with its still-unsent warning (missed runs) is reported alone.
Pending stops the resolution clock and so its marks, never the response's.

Known limits (kept simple on purpose): the outbox is per clone, so run
`check` from cron on one host only; the few milliseconds between the commit
and queueing the notifications are not journalled (a crash there loses
those notices, never the record on the ticket).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from elinkctl.config import Config
from elinkctl.domain import lifecycle
from elinkctl.domain.calendar import Calendar
from elinkctl.domain.escalation import EscalationRules, Level, due_levels, escalation_data
from elinkctl.domain.model import OPEN_STATUSES, Ticket
from elinkctl.domain.sla import Clock, SlaRules, clocks
from elinkctl.errors import ConfigError, ElinkError, NotFound, TicketError
from elinkctl.services.validators import ASSIGNEE, holiday_gaps, locate, notify_roles
from elinkctl.store.store import Store, Write
from elinkctl.timeutil import format_duration, iso

ESCALATION = "escalation"
SLA_WARNING = "sla_warning"
SLA_BREACH = "sla_breach"
KINDS = (ESCALATION, SLA_WARNING, SLA_BREACH)
CHECK_ACTOR = "elinkctl-check"
IMMEDIATE_PRIORITIES = frozenset({"P1"})
"""Priorities whose due levels fire inside `new` instead of at the next `check`."""
CLOCK_ZH = {"response": "响应", "resolution": "解决"}
_STATUS_LINE = re.compile(r"^status: *([a-z_]+) *$", re.M)


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing `check` (or `new`) records on a ticket and tells people about."""

    kind: str  # escalation | sla_warning | sla_breach
    ticket: Ticket  # as it was before this run's events
    due_at: dt.datetime  # when it became due: orders the catch-up
    role: str = ""
    after: str = ""
    clock: str = ""
    deadline: dt.datetime | None = None
    target: str = ""
    roles: tuple[str, ...] = ()  # roles whose people are told
    people: tuple[str, ...] = ()  # extra people (the assignee for SLA marks)
    recipients: tuple[str, ...] = ()  # every person named, for the event and --json

    @property
    def event_key(self) -> str:
        """Names the finding once and for all (the outbox never sends a key twice)."""
        if self.kind == ESCALATION:
            return f"{self.ticket.id}/{ESCALATION}/{self.after}/{self.role}"
        return f"{self.ticket.id}/{self.kind}/{self.clock}/{self.ticket.priority}"

    def event_data(self) -> dict[str, Any]:
        if self.kind == ESCALATION:
            return escalation_data(Level(self.role, self.after, self.due_at), self.recipients)
        return {
            "clock": self.clock,
            "deadline": self.deadline,
            "priority": self.ticket.priority,
            "target": self.target,
            "recipients": list(self.recipients),
        }

    def describe(self) -> str:
        """The commit-body / summary wording."""
        t = self.ticket
        if self.kind == ESCALATION:
            from elinkctl.notify.message import ROLE_LABELS

            return f"{t.id} {t.priority} {self.after} → {ROLE_LABELS.get(self.role, self.role)}"
        assert self.deadline is not None
        return f"{t.id} {t.priority} {self.clock} {self.target} due {iso(self.deadline)}"

    def to_json(self) -> dict[str, Any]:
        """The item of ``check --json`` (DESIGN §8), plus a few helpful keys."""
        t = self.ticket
        base: dict[str, Any] = {"ticket": t.id, "priority": t.priority, "title": t.title}
        if self.kind == ESCALATION:
            base.update(role=self.role, after=self.after, due_at=iso(self.due_at))
        else:
            assert self.deadline is not None
            base.update(clock=self.clock, target=self.target, deadline=iso(self.deadline))
        base["recipients"] = list(self.recipients)
        return base

    def message(self, now: dt.datetime) -> Any:
        """The notification (an `elinkctl.notify.Message`), concise Chinese."""
        from elinkctl.notify import Kind, Message

        t = self.ticket
        reporter = t.fields.get("reporter") or {}
        note = ""
        if self.kind == ESCALATION:
            level = Message.level_for(self.after, self.role)
            if now - self.due_at > dt.timedelta(minutes=15):
                note = f"应于 {_local(self.due_at)} 升级，本次补发"
        else:
            level = f"{CLOCK_ZH.get(self.clock, self.clock)}时限 {self.target}"
        return Message(
            ticket=t.id,
            title=t.title,
            priority=t.priority,
            kind=Kind(self.kind),
            level=level,
            elapsed=format_duration(now - t.opened_at),
            status=str(t.status),
            assignee=t.state.assignee or "",
            deadline=_local(self.deadline) if self.deadline else "",
            reporter=str(reporter.get("name") or ""),
            department=str(reporter.get("department") or ""),
            note=note,
        )


def _local(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


@dataclasses.dataclass(frozen=True)
class Rules:
    """Both rule sets `check` needs, parsed once per run."""

    sla: SlaRules
    escalation: EscalationRules
    notify: Mapping[str, Any]  # the parsed escalation.yaml (roles, people, channels)


def load_rules(config: Config) -> Rules:
    """Parse sla.yaml and the matrix; ConfigError with file and line."""
    try:
        sla = SlaRules.from_mapping(config.sla.data, config.tz)
    except ConfigError as exc:
        raise ConfigError(locate(config.sla, str(exc))) from None
    try:
        esc = EscalationRules.from_mapping(config.escalation.data, sla.calendars, config.tz)
    except ConfigError as exc:
        raise ConfigError(locate(config.escalation, str(exc))) from None
    return Rules(sla, esc, config.escalation.data)


# --- finding (pure) ------------------------------------------------------------------


def _people(rules: Rules, roles: Sequence[str]) -> list[str]:
    from elinkctl.notify import people_for_roles

    return people_for_roles(rules.notify, [r for r in roles if r != ASSIGNEE])


def escalation_findings(ticket: Ticket, rules: Rules, now: dt.datetime) -> list[Finding]:
    """Due, unfired escalation levels of one ticket, oldest first."""
    out = []
    for level in due_levels(ticket, rules.escalation, now):
        recipients = tuple(_people(rules, [level.role]))
        out.append(
            Finding(
                ESCALATION,
                ticket,
                level.due_at,
                role=level.role,
                after=level.after,
                roles=(level.role,),
                recipients=recipients,
            )
        )
    return out


def _marked(ticket: Ticket, kind: str, clock: str) -> bool:
    return any(
        e.type == kind
        and e.get("clock") == clock
        and str(e.get("priority") or ticket.priority) == ticket.priority
        for e in ticket.events
    )


def sla_findings(ticket: Ticket, rules: Rules, now: dt.datetime) -> list[Finding]:
    """SLA warnings and breaches of one open ticket not yet recorded."""
    if not ticket.is_open:
        return []
    out = []
    for clock in clocks(ticket, rules.sla, now):
        found = _sla_mark(ticket, clock, now)
        if found is None:
            continue
        kind, due = found
        roles = notify_roles(rules.notify, kind)
        assignee = ticket.state.assignee
        people = (assignee,) if assignee and ASSIGNEE in roles else ()
        recipients = tuple(dict.fromkeys([*people, *_people(rules, roles)]))
        out.append(
            Finding(
                kind,
                ticket,
                due,
                clock=clock.name,
                deadline=clock.deadline,
                target=clock.target_text,
                roles=tuple(r for r in roles if r != ASSIGNEE),
                people=people,
                recipients=recipients,
            )
        )
    return out


def _sla_mark(ticket: Ticket, clock: Clock, now: dt.datetime) -> tuple[str, dt.datetime] | None:
    """(kind, when it became due) for a clock that needs a mark now, else None."""
    if clock.done_at is not None or clock.deadline is None:
        return None
    if now >= clock.deadline:
        if _marked(ticket, SLA_BREACH, clock.name):
            return None
        return SLA_BREACH, clock.deadline
    if clock.warn_from is not None and now >= clock.warn_from:
        if _marked(ticket, SLA_WARNING, clock.name) or _marked(ticket, SLA_BREACH, clock.name):
            return None
        return SLA_WARNING, clock.warn_from
    return None


def record_findings(
    ticket: Ticket, findings: Sequence[Finding], actor: str, now: dt.datetime
) -> Ticket:
    """The ticket with one event per finding, at ``now``, oldest due first."""
    for f in sorted(findings, key=lambda f: f.due_at):
        ticket = lifecycle.record(ticket, f.kind, actor, now, now, f.kind, **f.event_data()).ticket
    return ticket


def commit_message(findings: Sequence[Finding]) -> str:
    """``check: 3 escalations, 1 SLA breach`` and one body line per finding."""
    counts = {k: sum(1 for f in findings if f.kind == k) for k in KINDS}
    names = {
        ESCALATION: ("escalation", "escalations"),
        SLA_WARNING: ("SLA warning", "SLA warnings"),
        SLA_BREACH: ("SLA breach", "SLA breaches"),
    }
    parts = [f"{n} {names[k][n != 1]}" for k, n in counts.items() if n]
    body = "\n".join(f"- {f.kind}: {f.describe()}" for f in findings)
    return f"check: {', '.join(parts)}\n\n{body}"


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


def _candidate_tickets(store: Store, broken: list[str]) -> Iterator[Ticket]:
    """Open tickets; a broken file is reported in ``broken`` and skipped.

    Uses the index (``Store.summaries`` of open tickets) when the store has
    it; otherwise reads every file, skipping closed ones by their ``status:``
    line (written from the events on every save) before paying for a parse.
    """

    def load(path: Path) -> Ticket | None:
        try:
            ticket = store.load_path(path)
        except TicketError as exc:
            broken.append(str(exc))
            return None
        except NotFound:
            return None  # removed meanwhile
        return ticket if ticket.is_open else None

    summaries: Callable[..., Any] | None = getattr(store, "summaries", None)
    if callable(summaries):
        # The index (store/index.py) lists open tickets without parsing unchanged
        # files and reports the broken ones through on_error.
        from elinkctl.services.query import TicketFilter

        rows = summaries(TicketFilter(open_only=True), on_error=lambda exc: broken.append(str(exc)))
        for row in rows:
            found = load(store.root / str(row.path))
            if found is not None:
                yield found
        return
    open_names = {str(s) for s in OPEN_STATUSES}
    for path in store.ticket_paths():
        try:
            head = path.read_text(encoding="utf-8").split("\nevents:", 1)[0]
        except (OSError, UnicodeDecodeError):
            head = ""
        match = _STATUS_LINE.search(head)
        if match and match.group(1) not in open_names:
            continue
        found = load(path)
        if found is not None:
            yield found


def _scan(
    store: Store, rules: Rules, now: dt.datetime, report: CheckReport
) -> list[tuple[Ticket, list[Finding]]]:
    """Findings per open ticket; holiday gaps of the calendars used go to ``report``."""
    spans: dict[Calendar, tuple[dt.datetime, dt.datetime]] = {}

    def touch(cal: Calendar, start: dt.datetime, end: dt.datetime) -> None:
        lo, hi = spans.get(cal, (start, end))
        spans[cal] = (min(lo, start), max(hi, end))

    out = []
    for ticket in _candidate_tickets(store, report.broken):
        try:
            findings = escalation_findings(ticket, rules, now) + sla_findings(ticket, rules, now)
            target = rules.sla.targets.get(ticket.priority)
            if target is not None:
                ends = [now] + [c.deadline for c in clocks(ticket, rules.sla, now) if c.deadline]
                touch(target.calendar, ticket.opened_at, max(ends))
            for cell in rules.escalation.row(ticket.priority):
                touch(cell.calendar, ticket.opened_at, now)
        except (ElinkError, ValueError, TypeError) as exc:
            report.broken.append(f"{store.rel(store.path_of(ticket.id))}: {exc}")
            continue
        if findings:
            out.append((ticket, sorted(findings, key=lambda f: f.due_at)))
    report.warnings.extend(holiday_gaps(spans))
    return out


def run_check(
    store: Store,
    actor: str,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
) -> CheckReport:
    """One `check` run (see the module docstring). Raises ConfigError for broken rules."""
    from elinkctl.notify import plan_deliveries

    report = CheckReport(dry_run=dry_run)
    rules = load_rules(store.config)
    if dry_run:
        # No lock (it would also finish an interrupted commit): read, plan, write nothing.
        for ticket, findings in _scan(store, rules, now, report):
            del ticket
            for f in findings:
                report.findings.append(f)
                for d in plan_deliveries(rules.notify, f.roles, f.message(now), people=f.people):
                    report.planned.append((f, d))
        report.findings.sort(key=lambda f: (f.due_at, f.ticket.id))
        return report

    outbox = outbox_for(store)
    with store.locked(wait=False) as acquired:
        if not acquired:
            report.busy = True
            return report
        writes: list[Write] = []
        for ticket, findings in _scan(store, rules, now, report):
            try:
                updated = record_findings(ticket, findings, actor, now)
            except ElinkError as exc:
                report.broken.append(f"{store.rel(store.path_of(ticket.id))}: {exc}")
                continue
            writes.append(Write(updated))
            report.findings.extend(findings)
        report.findings.sort(key=lambda f: (f.due_at, f.ticket.id))
        if writes:
            report.commit = commit_message(report.findings)
            # Queue first: outbox keys are deterministic (ticket, level), so a
            # failed commit is re-recorded by the next run without a second
            # notice, and a crash between the two cannot lose one.
            queue(outbox, rules, report.findings, now)
            store.commit_writes(writes, report.commit, actor)
    report.notifications = flush(outbox, rules, now, env)
    return report


def queue(outbox: Any, rules: Rules, findings: Sequence[Finding], now: dt.datetime) -> int:
    """Queue each finding's deliveries; returns how many deliveries were planned."""
    from elinkctl.notify import queue_notifications

    count = 0
    for f in findings:
        plan = queue_notifications(
            outbox, rules.notify, f.roles, f.message(now), f.event_key, people=f.people
        )
        count += len(plan)
    return count


def flush(
    outbox: Any, rules: Rules, now: dt.datetime, env: Mapping[str, str] | None = None
) -> list[Any]:
    """Send what is due in the outbox; `DeliveryResult`s in queue order."""
    from elinkctl.notify import make_sender

    sender = make_sender(rules.notify, os.environ if env is None else env)
    results: list[Any] = outbox.flush(now, sender)
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
    from elinkctl.notify.message import ROLE_LABELS

    notes = []
    for f in findings:
        label = f"{f.after} → {ROLE_LABELS.get(f.role, f.role)} ({f.role})"
        if f.recipients:
            notes.append(f"escalation {label}: {', '.join(f.recipients)}")
        else:
            notes.append(
                f"escalation {label}: nobody is listed for {f.role} under roles: in escalation.yaml"
            )
    if queued:
        for r in flush(outbox_for(store), rules, now):
            if r.ok:
                notes.append(f"notified via {r.channel}: {', '.join(r.recipients)}")
            elif r.deferred:
                notes.append(
                    f"notification via {r.channel} deferred (rate limit); `elinkctl check` sends it"
                )
            else:
                notes.append(
                    f"notification via {r.channel} failed: {r.error}; kept in the "
                    "outbox, `elinkctl check` retries it"
                )
    return notes
