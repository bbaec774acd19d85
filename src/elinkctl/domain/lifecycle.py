"""The process of DESIGN §3 as pure functions: a command becomes an event.

Every function takes the ticket, the acting user, when it really happened
(``at``) and the current time (``now``), and returns a `Change`: the new
ticket and the commit message. Nothing is written here; the store does that.

Transitions are checked by *replaying* the events in time order, because
``--at`` may place an event before others already recorded (an engineer
records a visit after cron has logged an escalation). A command whose event
would make the history impossible is refused and nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from elinkctl.domain.model import (
    DESCRIPTIVE_FIELDS,
    REASON_REQUIRED_FIELDS,
    REPORTER_FIELDS,
    SOURCES,
    Event,
    Grade,
    IncidentType,
    Priority,
    Status,
    Ticket,
    Tier,
    derive_state,
)
from elinkctl.errors import TransitionError, UsageProblem

# Which statuses each lifecycle event may follow. Events not listed
# (comments, complaints, edits, escalation levels, SLA marks, alerts) are
# allowed at any time: they record facts, they do not move the process.
ALLOWED: dict[str, frozenset[Status]] = {
    "accepted": frozenset({Status.NEW, Status.PM_REVIEW}),
    "rejected": frozenset({Status.NEW, Status.PM_REVIEW}),
    "redirected": frozenset({Status.NEW}),
    "transferred": frozenset({Status.NEW, Status.REJECTED}),
    "assigned": frozenset({Status.IN_PROGRESS, Status.PENDING}),
    "contacted": frozenset({Status.IN_PROGRESS, Status.PENDING}),
    "visit_scheduled": frozenset({Status.IN_PROGRESS, Status.PENDING}),
    "escalated": frozenset({Status.IN_PROGRESS, Status.PENDING}),
    "pended": frozenset({Status.IN_PROGRESS}),
    "resumed": frozenset({Status.PENDING}),
    "resolved": frozenset({Status.NEW, Status.IN_PROGRESS, Status.PENDING}),
    "reopened": frozenset({Status.RESOLVED}),
    "confirmed": frozenset({Status.RESOLVED}),
    "callback": frozenset({Status.RESOLVED, Status.CLOSED}),
    "closed": frozenset({Status.RESOLVED}),
    "reviewed": frozenset({Status.RESOLVED}),
    "report_issued": frozenset({Status.RESOLVED, Status.CLOSED}),
    "kb_decided": frozenset({Status.RESOLVED, Status.CLOSED}),
}
# The command a user types for each event, for error messages.
COMMAND_OF = {
    "accepted": "accept",
    "rejected": "reject",
    "redirected": "redirect",
    "transferred": "transfer",
    "assigned": "assign",
    "contacted": "contact",
    "visit_scheduled": "visit",
    "escalated": "escalate",
    "pended": "pend",
    "resumed": "resume",
    "resolved": "resolve",
    "reopened": "reopen",
    "confirmed": "confirm",
    "callback": "callback",
    "closed": "close",
    "reviewed": "review",
    "report_issued": "report major --issue",
    "kb_decided": "kb decide",
}
ALWAYS = ("comment", "complain", "edit")
LATE = dt.timedelta(minutes=1)
"""An event placed earlier than its recording by more than this (``--at``)
carries ``recorded_at``: when it was really entered, which `verify` matches
against the commit's date and `audit` reads as the delay."""


@dataclasses.dataclass(frozen=True)
class Change:
    """The result of a command: the ticket to write and what to say in the commit."""

    ticket: Ticket
    message: str
    event: Event


def allowed_commands(status: Status) -> list[str]:
    """Commands the process allows from ``status``, for the refusal message."""
    cmds = [COMMAND_OF[e] for e, sts in ALLOWED.items() if status in sts]
    return cmds + list(ALWAYS)


def check_history(events: tuple[Event, ...]) -> None:
    """Replay events in order; raise TransitionError at the first impossible step."""
    for i in range(1, len(events)):
        ev = events[i]
        allowed = ALLOWED.get(ev.type)
        if allowed is None:
            continue
        status = derive_state(events[:i]).status
        if status not in allowed:
            raise TransitionError(
                f"cannot {COMMAND_OF[ev.type]} a ticket that is {status} "
                f"at {ev.at.isoformat()}; allowed from {status}: "
                + ", ".join(allowed_commands(status))
            )


def _check_time(ticket: Ticket, at: dt.datetime, now: dt.datetime) -> None:
    if at > now:
        raise UsageProblem(f"--at {at.isoformat()} is in the future (now {now.isoformat()})")
    if at < ticket.opened_at:
        raise UsageProblem(
            f"--at {at.isoformat()} is before the incident was opened "
            f"({ticket.opened_at.isoformat()})"
        )


def record(
    ticket: Ticket,
    type_: str,
    by: str,
    at: dt.datetime,
    now: dt.datetime,
    message: str,
    **data: Any,
) -> Change:
    """Append one event (validated against the process) and describe it."""
    _check_time(ticket, at, now)
    clean = {k: v for k, v in data.items() if v is not None and v != ""}
    if now - at > LATE:
        clean["recorded_at"] = now
    event = Event(ticket.next_event_id(), at, by, type_, clean)
    if type_ in ALLOWED:
        current = ticket.state.status
        # The common case (event at the end) gets the short, familiar message.
        if (not ticket.events or ticket.events[-1].at <= at) and current not in ALLOWED[type_]:
            raise TransitionError(
                f"{ticket.id} is {current}: cannot {COMMAND_OF[type_]}; "
                f"allowed: {', '.join(allowed_commands(current))}"
            )
    updated = ticket.with_event(event)
    check_history(updated.events)
    return Change(updated, f"{ticket.id}: {message}", event)


# --- registration -----------------------------------------------------------


def priority_from_matrix(matrix: Mapping[str, Mapping[str, str]], urgency: str, impact: str) -> str:
    try:
        return str(matrix[urgency][impact])
    except KeyError:
        raise UsageProblem(
            f"priority_matrix has no entry for urgency {urgency!r} × impact {impact!r}"
        ) from None


def validate_choice(name: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise UsageProblem(f"{name}: {value!r} is not one of {', '.join(choices)}")


PRIORITIES = tuple(p.value for p in Priority)
TYPES = tuple(t.value for t in IncidentType)
GRADES = tuple(g.value for g in Grade)
TIERS = tuple(t.value for t in Tier)


def validate_fields(fields: Mapping[str, Any]) -> None:
    """Closed sets must hold known values; names the field on error."""
    validate_choice("type", fields.get("type"), TYPES)
    validate_choice("priority", fields.get("priority"), PRIORITIES)
    validate_choice("urgency", fields.get("urgency"), GRADES)
    validate_choice("impact", fields.get("impact"), GRADES)
    validate_choice("source", fields.get("source"), SOURCES)
    for key in ("title",):
        value = fields.get(key)
        if value is not None and not str(value).strip():
            raise UsageProblem(f"{key}: must not be empty")


def register(
    ticket_id: str,
    fields: Mapping[str, Any],
    by: str,
    opened_at: dt.datetime,
    recorded_at: dt.datetime,
    now: dt.datetime,
    *,
    backfill_reason: str | None = None,
    note: str | None = None,
) -> Change:
    """Create the ticket with its ``created`` event.

    A backfill (先处理后补单: handled first, recorded later) keeps the true
    start as the event time, so every clock runs from when the incident
    really began, and notes when it was recorded.
    """
    validate_fields(fields)
    if recorded_at > now or opened_at > now:
        raise UsageProblem("a ticket cannot be registered or opened in the future")
    if opened_at > recorded_at:
        raise UsageProblem("--opened-at must not be after the registration time")
    backfill = opened_at < recorded_at
    data: dict[str, Any] = {"priority": fields.get("priority"), "incident_type": fields.get("type")}
    late = now - recorded_at > LATE  # `new --at` earlier than now: says when it was entered
    if backfill:
        data["backfill"] = True
    if backfill or late:
        data["recorded_at"] = now if late else recorded_at
    if backfill and backfill_reason:
        data["reason"] = backfill_reason
    if note:
        data["note"] = note
    event = Event("e1", opened_at, by, "created", {k: v for k, v in data.items() if v is not None})
    ordered = {k: fields[k] for k in DESCRIPTIVE_FIELDS if fields.get(k) not in (None, "")}
    ticket = Ticket(ticket_id, ordered, (event,))
    what = "registered (backfill)" if backfill else "registered"
    return Change(
        ticket, f"{ticket_id}: {what} {fields.get('priority')} {fields.get('title')}", event
    )


# --- descriptive edits --------------------------------------------------------


def edit(
    ticket: Ticket,
    changes: Mapping[str, Any],
    by: str,
    at: dt.datetime,
    now: dt.datetime,
    reason: str | None = None,
) -> Change:
    """Change descriptive fields; a priority or type change needs a reason.

    The event records ``changes: {field: [old, new]}`` so the history shows
    who changed what, and the merge driver can tell concurrent edits apart.
    """
    validate_fields(changes)
    unknown = [k for k in changes if k not in DESCRIPTIVE_FIELDS and not k.startswith("reporter.")]
    if unknown:
        raise UsageProblem(f"cannot edit {unknown[0]!r}: not a descriptive field")
    new_fields = dict(ticket.fields)
    reporter = dict(new_fields.get("reporter") or {})
    diff: dict[str, list[Any]] = {}
    for key, value in changes.items():
        if key.startswith("reporter."):
            sub = key.split(".", 1)[1]
            if sub not in REPORTER_FIELDS:
                raise UsageProblem(f"cannot edit {key!r}")
            old = reporter.get(sub)
            if old != value:
                diff[key] = [old, value]
                reporter[sub] = value
            continue
        old = new_fields.get(key)
        if old != value:
            diff[key] = [old, value]
            new_fields[key] = value
    if not diff:
        raise UsageProblem("nothing to change: the values are already so")
    needs = sorted(REASON_REQUIRED_FIELDS & set(diff))
    if needs and not (reason and reason.strip()):
        raise UsageProblem(f"changing {', '.join(needs)} needs --reason")
    if reporter:
        new_fields["reporter"] = {k: reporter[k] for k in REPORTER_FIELDS if reporter.get(k)}
    for key in [k for k, v in new_fields.items() if v in (None, "")]:
        del new_fields[key]
    updated = dataclasses.replace(ticket, fields=new_fields)
    summary = ", ".join(f"{k} {_short(v[0])} → {_short(v[1])}" for k, v in diff.items())
    return record(updated, "edited", by, at, now, f"edited {summary}", changes=diff, reason=reason)


def _short(value: Any) -> str:
    text = "∅" if value in (None, "") else str(value)
    return text if len(text) <= 30 else text[:29] + "…"
