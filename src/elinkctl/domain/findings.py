"""What `check` finds on an open incident (pure): the escalation levels that
are due and not yet fired (`elinkctl.domain.escalation`) and the SLA clocks
that reached their warning share or their deadline without an event saying
so (`elinkctl.domain.sla`), and how they are recorded as events.

SLA marks: each (kind, clock) fires once per incident *and priority* — a
re-prioritised incident has a new target, which is news. A breach found
together with its still-unsent warning (missed runs) is reported alone.
Pending stops the resolution clock and so its marks, never the response's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from elinkctl.domain import glossary, lifecycle, reminders
from elinkctl.domain.escalation import (
    EscalationLevel,
    EscalationRules,
    due_levels,
    escalation_data,
    fired,
)
from elinkctl.domain.model import Status, Ticket
from elinkctl.domain.procedure import ProcedureRules
from elinkctl.domain.sla import Clock, SlaRules, clocks
from elinkctl.timeutil import iso

ESCALATION = "escalation"
SLA_WARNING = "sla_warning"
SLA_BREACH = "sla_breach"
KINDS = (ESCALATION, SLA_WARNING, SLA_BREACH)
IMMEDIATE_PRIORITIES = frozenset({"P1"})
"""Priorities whose due levels fire inside `new` instead of at the next `check`."""
ASSIGNEE = "assignee"
"""Pseudo-role in ``notify:``: the ticket's current assignee, if listed under people."""
DEFAULT_NOTIFY: dict[str, tuple[str, ...]] = {
    "sla_warning": (ASSIGNEE, "desk"),
    "sla_breach": (ASSIGNEE, "desk", "pm"),
    **reminders.DEFAULT_ROLES,
}
"""Who hears of SLA marks when escalation.yaml has no ``notify:`` section."""


def notify_roles(data: Mapping[str, Any], kind: str) -> tuple[str, ...]:
    """Roles (and ``assignee``) to tell about an SLA mark of ``kind``."""
    section = data.get("notify")
    if isinstance(section, Mapping) and isinstance(section.get(kind), list):
        return tuple(str(r) for r in section[kind])
    return DEFAULT_NOTIFY.get(kind, ())


@dataclasses.dataclass(frozen=True)
class Rules:
    """Both rule sets `check` needs, parsed once per run."""

    sla: SlaRules
    escalation: EscalationRules
    notify: Mapping[str, Any]  # the parsed escalation.yaml (roles, people, channels)
    people_of: Callable[[Sequence[str]], list[str]]  # roles -> their people, in order, each once
    procedure: ProcedureRules = ProcedureRules()  # sla.yaml procedure: (reminders, review)


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
    mark: str = ""  # a reminder: the moment or deadline it is about (once per mark)

    @property
    def is_reminder(self) -> bool:
        return self.kind in reminders.KINDS

    @property
    def event_key(self) -> str:
        """Names the finding once and for all (the outbox never sends a key twice)."""
        if self.kind == ESCALATION:
            return f"{self.ticket.id}/{ESCALATION}/{self.after}/{self.role}"
        if self.is_reminder:
            return f"{self.ticket.id}/{self.kind}/{self.mark}"
        return f"{self.ticket.id}/{self.kind}/{self.clock}/{self.ticket.priority}"

    def event_data(self) -> dict[str, Any]:
        if self.kind == ESCALATION:
            return escalation_data(
                EscalationLevel(self.role, self.after, self.due_at), self.recipients
            )
        if self.is_reminder:
            return {
                "mark": self.mark,
                "due_at": self.due_at,
                "recipients": list(self.recipients),
            }
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
            return f"{t.id} {t.priority} {self.after} → {glossary.zh(glossary.ROLES, self.role)}"
        if self.is_reminder:
            return f"{t.id} {t.priority} {glossary.zh(glossary.EVENTS, self.kind)} ({self.mark})"
        assert self.deadline is not None
        return f"{t.id} {t.priority} {self.clock} {self.target} due {iso(self.deadline)}"

    def to_json(self) -> dict[str, Any]:
        """The item of ``check --json`` (DESIGN §8), plus a few helpful keys."""
        t = self.ticket
        base: dict[str, Any] = {"ticket": t.id, "priority": t.priority, "title": t.title}
        if self.is_reminder:
            base.update(kind=self.kind, mark=self.mark, due_at=iso(self.due_at))
        elif self.kind == ESCALATION:
            base.update(role=self.role, after=self.after, due_at=iso(self.due_at))
        else:
            assert self.deadline is not None
            base.update(clock=self.clock, target=self.target, deadline=iso(self.deadline))
        base["recipients"] = list(self.recipients)
        return base


def _people(rules: Rules, roles: Sequence[str]) -> list[str]:
    return rules.people_of([r for r in roles if r != ASSIGNEE])


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


def resolution_escalations(ticket: Ticket, rules: Rules, now: dt.datetime) -> list[Finding]:
    """凡重大影响度的事件，都需要管理升级: a P1 resolved before its management
    cell fired still reaches management once, on resolution (DESIGN §4),
    unless escalation.yaml sets ``major_management_on_resolution: false``."""
    if str(ticket.priority) not in IMMEDIATE_PRIORITIES or ticket.status != Status.RESOLVED:
        return []
    if rules.notify.get("major_management_on_resolution", True) is False:
        return []
    done = fired(ticket)
    out = []
    for cell in rules.escalation.row(str(ticket.priority)):
        if cell.role != "management" or (cell.role, cell.after) in done:
            continue
        out.append(
            Finding(
                ESCALATION,
                ticket,
                now,
                role=cell.role,
                after=cell.after,
                roles=(cell.role,),
                recipients=tuple(_people(rules, [cell.role])),
            )
        )
    return out


def reminder_findings(ticket: Ticket, rules: Rules, now: dt.datetime) -> list[Finding]:
    """Reminders of the procedure's steps due at ``now`` and not yet recorded
    (`elinkctl.domain.reminders`), with the people to tell."""
    out = []
    for kind, mark, due in reminders.due_reminders(ticket, rules.procedure, now):
        roles = notify_roles(rules.notify, kind)
        people: list[str] = []
        if ASSIGNEE in roles and ticket.state.assignee:
            people.append(ticket.state.assignee)
        who_resolved = reminders.resolver(ticket)
        if reminders.RESOLVER in roles and who_resolved:
            people.append(who_resolved)
        named = [r for r in roles if r not in (ASSIGNEE, reminders.RESOLVER)]
        recipients = tuple(dict.fromkeys([*people, *_people(rules, named)]))
        out.append(
            Finding(
                kind,
                ticket,
                due,
                roles=tuple(named),
                people=tuple(dict.fromkeys(people)),
                recipients=recipients,
                mark=mark,
            )
        )
    return out


def next_due(ticket: Ticket, rules: Rules, now: dt.datetime | None = None) -> dt.datetime | None:
    """The earliest moment `check` could find anything on this ticket as it is
    now, or None when nothing can become due until the ticket changes.

    Escalation levels have fixed due times; a clock's warning and breach are
    due at ``warn_from`` and ``deadline`` unless already marked (a clock
    stopped by an open pause has no deadline). Any new event changes the
    file, and with it the cached plan, so the answer holds until then.
    """
    reminder = reminders.next_reminder(ticket, rules.procedure, now or ticket.opened_at)
    if not ticket.is_open:
        return reminder
    far = ticket.opened_at + dt.timedelta(days=36500)
    candidates = [level.due_at for level in due_levels(ticket, rules.escalation, far)]
    for clock in clocks(ticket, rules.sla, ticket.opened_at):
        if clock.done_at is not None or clock.deadline is None:
            continue
        if _marked(ticket, SLA_BREACH, clock.name):
            continue
        candidates.append(clock.deadline)
        if clock.warn_from is not None and not _marked(ticket, SLA_WARNING, clock.name):
            candidates.append(clock.warn_from)
    if reminder is not None:
        candidates.append(reminder)
    return min(candidates, default=None)


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
    nudges = sum(1 for f in findings if f.is_reminder)
    if nudges:
        parts.append(f"{nudges} reminder{'s' if nudges != 1 else ''}")
    body = "\n".join(f"- {f.kind}: {f.describe()}" for f in findings)
    return f"check: {', '.join(parts)}\n\n{body}"
