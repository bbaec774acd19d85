"""Tickets and events: the data model, and the fold that derives state.

A ticket file has two halves (DESIGN §6). Descriptive fields (title,
reporter, system …) are facts the desk records and may correct; they are
stored as written and every change is logged as an ``edited`` event. The
lifecycle state (status, tier, assignee and every timestamp) is never
trusted from the file: `derive_state` recomputes it from the append-only
``events`` list on every write, and `fsck` compares the two.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

SCHEMA = 1


class Status(StrEnum):
    NEW = "new"
    PM_REVIEW = "pm_review"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REDIRECTED = "redirected"


OPEN_STATUSES = frozenset({Status.NEW, Status.PM_REVIEW, Status.IN_PROGRESS, Status.PENDING})
"""Statuses in which the incident is not yet resolved: escalation and SLA clocks run."""


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Tier(StrEnum):
    DESK = "desk"
    L1 = "l1"
    L2 = "l2"
    VENDOR = "vendor"
    PM = "pm"  # 事件升级: l1 hands a (major) incident to the project manager


class IncidentType(StrEnum):
    FAILURE = "failure"
    REQUEST = "request"
    CONSULTATION = "consultation"


class Grade(StrEnum):
    """A grade of urgency (紧急程度) or impact (影响面): the inputs of the priority matrix."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


SOURCES = ("phone", "voicemail", "visit", "letter", "fax", "email", "inspection", "monitoring")
"""来源 of the procedure §5.1: user reports, engineer patrol, monitoring alerts."""

ROLES = ("desk", "l1", "l2", "vendor", "pm", "management")

# Descriptive fields in file order. `reporter` is a nested mapping.
DESCRIPTIVE_FIELDS = (
    "title",
    "type",
    "priority",
    "urgency",
    "impact",
    "key_user",
    "security",
    "reporter",
    "location",
    "contact",
    "system",
    "module",
    "source",
    "description",
)
REPORTER_FIELDS = ("name", "phone", "department")
# Fields whose change must carry a --reason (they move SLA targets and KPIs).
REASON_REQUIRED_FIELDS = frozenset({"priority", "type"})

EVENT_HEAD = ("id", "at", "by", "type")


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing that happened to a ticket. Immutable; the ``events`` list only grows."""

    id: str
    at: dt.datetime
    by: str
    type: str
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "at": self.at, "by": self.by, "type": self.type}
        out.update(self.data)
        return out

    @property
    def seq(self) -> int:
        """Numeric part of ``e12``; used to number the next event."""
        digits = "".join(ch for ch in self.id[1:] if ch.isdigit())
        return int(digits) if digits else 0


@dataclasses.dataclass(frozen=True)
class Escalation:
    """A level of the escalation matrix that has been reached (管理升级)."""

    role: str
    after: str
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class State:
    """Everything derived from events. Never edited by hand."""

    status: Status
    tier: Tier
    assignee: str | None
    opened_at: dt.datetime
    responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    escalations: tuple[Escalation, ...]
    pauses: tuple[tuple[dt.datetime, dt.datetime | None], ...]
    reopened: int
    vendor: str | None
    vendor_due: dt.datetime | None
    visit_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    callback_at: dt.datetime | None
    satisfaction: int | None
    complaints: int
    status_changes: tuple[tuple[dt.datetime, Status], ...] = ()
    """Every (time, new status): the SLA clocks find paused periods here."""
    major_confirmed_at: dt.datetime | None = None
    """The PM judged the incident major (事件判断)."""
    last_progress_at: dt.datetime | None = None
    """The latest progress report to management (向公司管理层汇报进展)."""
    review: str | None = None
    """The PM's verdict on the current resolution: None, "approved" or "returned"."""
    reviewed_at: dt.datetime | None = None
    report_issued_at: dt.datetime | None = None
    """The major incident report was issued for the current resolution."""
    vendor_replied_at: dt.datetime | None = None
    """The vendor of the current vendor escalation answered."""
    visit_done_at: dt.datetime | None = None
    """The booked on-site visit was recorded done."""
    promise_at: dt.datetime | None = None
    """The handling time agreed with the customer at acceptance."""
    kb_decision: str | None = None
    """l2's knowledge-base decision after close: an article ID or "none"."""
    kb_decided_at: dt.datetime | None = None
    ref: str | None = None
    """The change or requirement reference a redirected incident was sent to."""


@dataclasses.dataclass(frozen=True)
class Ticket:
    """An incident: descriptive fields plus its events, with state derived from them."""

    id: str
    fields: Mapping[str, Any]
    events: tuple[Event, ...]
    aliases: tuple[str, ...] = ()

    @property
    def state(self) -> State:
        cached = self.__dict__.get("_state")
        if cached is None:
            cached = derive_state(self.events)
            object.__setattr__(self, "_state", cached)
        return cached

    # Convenience accessors used everywhere in output code.
    @property
    def title(self) -> str:
        return str(self.fields.get("title", ""))

    @property
    def priority(self) -> Priority:
        """P1–P4; a loaded ticket always has one (`ticketfile` refuses others)."""
        return Priority(self.fields["priority"])

    @property
    def type(self) -> IncidentType:
        """failure, request or consultation; a loaded ticket always has one."""
        return IncidentType(self.fields["type"])

    @property
    def status(self) -> Status:
        return self.state.status

    @property
    def opened_at(self) -> dt.datetime:
        return self.state.opened_at

    @property
    def is_open(self) -> bool:
        return self.state.status in OPEN_STATUSES

    def next_event_id(self) -> str:
        return f"e{max((e.seq for e in self.events), default=0) + 1}"

    def with_event(self, event: Event) -> Ticket:
        """A new ticket with ``event`` placed in time order (after equal times)."""
        events = list(self.events)
        pos = len(events)
        while pos > 0 and events[pos - 1].at > event.at:
            pos -= 1
        events.insert(pos, event)
        return dataclasses.replace(self, events=tuple(events))


def status_intervals(
    state: State, where: Callable[[Status], bool]
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """Intervals during which the status satisfied ``where`` (an interval still
    running ends with None): paused SLA clocks, resolved spells for escalation."""
    out: list[tuple[dt.datetime, dt.datetime | None]] = []
    start: dt.datetime | None = None
    for at, status in state.status_changes:
        if where(status):
            if start is None:
                start = at
        elif start is not None:
            out.append((start, at))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def derive_state(events: Sequence[Event]) -> State:
    """Fold the events into the current state.

    Rules (why they are so):
    - the response is the first accept, contact or resolve (issue 3): the
      moment the desk or an engineer acted on the incident;
    - ``resolved_at`` is the *last* resolution, and only while the ticket is
      resolved or closed — a reopen makes the incident unresolved again;
    - pending intervals are collected so the SLA resolution clock can skip them.
    """
    if not events or events[0].type != "created":
        raise ValueError("the first event must be 'created'")
    created = events[0]
    status = Status.NEW
    tier = Tier(created.get("tier", Tier.DESK))
    assignee: str | None = created.get("assignee")
    responded_at = resolved_at = closed_at = None
    escalations: list[Escalation] = []
    pauses: list[tuple[dt.datetime, dt.datetime | None]] = []
    pause_start: dt.datetime | None = None
    reopened = 0
    vendor = None
    vendor_due = None
    visit_at = None
    confirmed_at = callback_at = None
    satisfaction = None
    complaints = 0
    major_confirmed_at = last_progress_at = reviewed_at = report_issued_at = None
    vendor_replied_at = visit_done_at = promise_at = kb_decided_at = None
    review: str | None = None
    kb_decision: str | None = None
    ref: str | None = None
    changes: list[tuple[dt.datetime, Status]] = [(created.at, Status.NEW)]
    for ev in events[1:]:
        kind = ev.type
        if kind in ("accepted", "contacted", "resolved") and responded_at is None:
            responded_at = ev.at
        if kind == "accepted":
            status = Status.IN_PROGRESS
            if assignee is None:
                assignee = ev.by
            if ev.get("promise") is not None:
                promise_at = ev.get("promise")
        elif kind == "rejected":
            status = Status.REJECTED
        elif kind == "redirected":
            status = Status.REDIRECTED
            ref = ev.get("ref") or ref
        elif kind == "transferred":
            status = Status.PM_REVIEW
        elif kind == "assigned":
            assignee = ev.get("to")
            tier = Tier(ev.get("tier") or tier)
        elif kind == "escalated":
            tier = Tier(ev.get("tier") or tier)
            if ev.get("to"):
                assignee = ev.get("to")
            if tier == Tier.VENDOR:
                vendor = ev.get("to")
                vendor_due = ev.get("due")
                vendor_replied_at = None
        elif kind == "replied":
            vendor_replied_at = ev.at
        elif kind == "visit_scheduled":
            visit_at = ev.get("visit_at")
            visit_done_at = None
        elif kind == "visit_done":
            visit_done_at = ev.at
        elif kind == "major_confirmed":
            major_confirmed_at = ev.at
        elif kind == "progress":
            last_progress_at = ev.at
        elif kind == "reviewed":
            reviewed_at = ev.at
            review = str(ev.get("verdict"))
            if review == "returned":
                # 退回: back to work, like a reopen; the resolution no longer stands.
                status = Status.IN_PROGRESS
                resolved_at = None
                confirmed_at = None
                report_issued_at = None
                reopened += 1
        elif kind == "report_issued":
            report_issued_at = ev.at
        elif kind == "kb_decided":
            kb_decided_at = ev.at
            kb_decision = str(ev.get("article") or ev.get("decision") or "none")
        elif kind == "pended":
            status = Status.PENDING
            pause_start = ev.at
        elif kind == "resumed":
            status = Status.IN_PROGRESS
        elif kind == "resolved":
            status = Status.RESOLVED
            resolved_at = ev.at
            review = None  # a new resolution needs its own review
        elif kind == "reopened":
            status = Status.IN_PROGRESS
            resolved_at = None
            closed_at = None
            confirmed_at = None
            report_issued_at = None
            review = None
            reopened += 1
        elif kind == "confirmed":
            confirmed_at = ev.at
        elif kind == "callback":
            callback_at = ev.at
            if ev.get("satisfaction") is not None:
                satisfaction = int(ev.get("satisfaction"))
        elif kind == "closed":
            status = Status.CLOSED
            closed_at = ev.at
        elif kind == "complained":
            complaints += 1
        elif kind == "escalation":
            escalations.append(Escalation(str(ev.get("role")), str(ev.get("after")), ev.at))
        if status != changes[-1][1]:
            changes.append((ev.at, status))
        # A pause ends whenever the status leaves pending, whatever the event.
        if pause_start is not None and status != Status.PENDING:
            pauses.append((pause_start, ev.at))
            pause_start = None
    if pause_start is not None:
        pauses.append((pause_start, None))
    return State(
        status=status,
        tier=tier,
        assignee=assignee,
        opened_at=created.at,
        responded_at=responded_at,
        resolved_at=resolved_at,
        closed_at=closed_at,
        escalations=tuple(escalations),
        pauses=tuple(pauses),
        reopened=reopened,
        vendor=vendor,
        vendor_due=vendor_due,
        visit_at=visit_at,
        confirmed_at=confirmed_at,
        callback_at=callback_at,
        satisfaction=satisfaction,
        complaints=complaints,
        status_changes=tuple(changes),
        major_confirmed_at=major_confirmed_at,
        last_progress_at=last_progress_at,
        review=review,
        reviewed_at=reviewed_at,
        report_issued_at=report_issued_at,
        vendor_replied_at=vendor_replied_at,
        visit_done_at=visit_done_at,
        promise_at=promise_at,
        kb_decision=kb_decision,
        kb_decided_at=kb_decided_at,
        ref=ref,
    )
