"""The vendor's reply deadline (厂商需要在规定的时间内给予回复), pure.

A vendor escalation (`escalate --tier vendor --to VENDOR [--due TIME]`)
starts a vendor clock; `replied` stops it. Each vendor escalation is
answered by the first ``replied`` event after it (in time order) and before
the next vendor escalation, so a ticket passed from one vendor to another,
or escalated to the same vendor again with a new deadline, is judged per
escalation.

Also here: deadlines a step sets for later (a vendor's ``--due``, the
customer's ``--promise``) must not already be past when the step happens;
who `stats --by assignee` credits once a vendor was involved; and the
per-vendor tally of reply timeliness (`stats`' ``vendors``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from elinkctl.domain import lifecycle
from elinkctl.domain.model import Event, Ticket, Tier, derive_state
from elinkctl.domain.sla import LATE, PENDING, TIMELY
from elinkctl.errors import ElinkError, TransitionError, UsageProblem

RULES = """\
Vendor reply timeliness (厂商回复及时率), per vendor (stats --json: vendors):
- Every escalation to a vendor (escalate --tier vendor --to VENDOR) counts
  once for that vendor; a ticket escalated to a vendor twice counts twice.
- An escalation with a reply deadline (--due) is timely when the vendor's
  reply (replied ID) was recorded by the due time, late when after it; with
  no reply yet it is pending, and late once the due time has passed (also
  when the incident was resolved without the vendor's answer). Escalations
  without --due are counted but never timely or late.
- The reply answers the latest vendor escalation before it; one per escalation.
- Rate = timely / (timely + late).
- --by assignee credits whoever resolved an incident a vendor worked on (or,
  while it is still with the vendor, whoever held it before), never the vendor.
"""

UNNAMED = "(none)"
"""The vendor of an escalation recorded without ``--to`` (older files)."""


@dataclasses.dataclass(frozen=True)
class VendorEscalation:
    """One vendor escalation and its answer, if any."""

    vendor: str
    at: dt.datetime
    due: dt.datetime | None
    replied_at: dt.datetime | None
    reply_id: str | None = None


def is_vendor_escalation(ev: Event) -> bool:
    return ev.type == "escalated" and ev.get("tier") == Tier.VENDOR


def escalations(events: Sequence[Event]) -> list[VendorEscalation]:
    """Every vendor escalation in ``events`` (time order), each with its reply."""
    out: list[VendorEscalation] = []
    for ev in events:
        if is_vendor_escalation(ev):
            out.append(VendorEscalation(str(ev.get("to") or UNNAMED), ev.at, ev.get("due"), None))
        elif ev.type == "replied" and out and out[-1].replied_at is None:
            out[-1] = dataclasses.replace(out[-1], replied_at=ev.at, reply_id=ev.id)
    return out


def not_past(option: str, due: dt.datetime | None, at: dt.datetime, step: str) -> None:
    """A deadline set by a step must not be before the step itself."""
    if due is not None and due < at:
        raise ElinkError(
            f"{option} {due.isoformat()} is in the past (the {step} is at {at.isoformat()})"
        )


def replied(
    ticket: Ticket, by: str, at: dt.datetime, now: dt.datetime, text: str
) -> lifecycle.Change:
    """Record the vendor's reply to the vendor escalation in force at ``at``.

    Refused when the ticket was never escalated to a vendor (before ``at``),
    or when that escalation's reply is already recorded.
    """
    text = text.strip()
    if not text:
        raise UsageProblem("-m: must not be empty")
    before = [ev for ev in ticket.events if ev.at <= at]
    current = escalations(before)
    if not current:
        later = escalations(ticket.events)
        if later:
            raise TransitionError(
                f"{ticket.id}: --at {at.isoformat()} is before the vendor escalation "
                f"({later[0].at.isoformat()}); nothing to reply to yet"
            )
        raise TransitionError(
            f"{ticket.id} was not escalated to a vendor: nothing to reply to "
            "(escalate --tier vendor --to VENDOR first)"
        )
    esc = current[-1]
    # Its answer may also have been recorded at a later time than ``at``.
    answer = escalations(ticket.events)[len(current) - 1]
    if answer.replied_at is not None:
        raise TransitionError(
            f"{ticket.id}: the reply of {esc.vendor} was already recorded "
            f"({answer.reply_id}, {answer.replied_at.isoformat()})"
        )
    message = f"reply from {esc.vendor} recorded"
    if esc.due is not None and at > esc.due:
        message += f", after its due time {esc.due.isoformat()}"
    return lifecycle.record(ticket, "replied", by, at, now, message, text=text)


# --- who is credited ------------------------------------------------------------------


def credited_assignee(ticket: Ticket) -> str | None:
    """The person a ticket counts for in ``stats --by assignee``.

    Without a vendor escalation: the assignee. After one, never the vendor
    (vendors are reported on their own, `VendorTally`): whoever resolved the
    incident (the last ``resolved`` event's ``by``); while it is unresolved
    and with the vendor, whoever held it before the vendor was called in.
    """
    s = ticket.state
    events = ticket.events
    if not any(is_vendor_escalation(ev) for ev in events):
        return s.assignee
    if s.resolved_at is not None:
        resolver = [ev.by for ev in events if ev.type == "resolved"]
        if resolver:
            return resolver[-1]
    if s.tier != Tier.VENDOR:
        return s.assignee
    holder: str | None = None
    for i, ev in enumerate(events):
        if is_vendor_escalation(ev):
            before = derive_state(events[:i])
            if before.tier != Tier.VENDOR:
                holder = before.assignee or ev.by
    return holder


# --- reply timeliness (stats) ---------------------------------------------------------


def facts(events: Sequence[Event], tz: dt.tzinfo) -> list[dict[str, Any]]:
    """The vendor escalations of a ticket as JSON facts (independent of "now")."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value is not None else None

    return [
        {"vendor": e.vendor, "at": iso(e.at), "due": iso(e.due), "replied_at": iso(e.replied_at)}
        for e in escalations(events)
    ]


def outcome(due: dt.datetime, replied_at: dt.datetime | None, now: dt.datetime) -> str:
    """Timely when the reply came by the due time, late after it; without a
    reply pending, and late once the due time has passed."""
    if replied_at is not None:
        return TIMELY if replied_at <= due else LATE
    return LATE if now >= due else PENDING


@dataclasses.dataclass
class VendorTally:
    """Per vendor: escalations, and of those with a due time, timely / late / pending replies."""

    escalations: Counter[str] = dataclasses.field(default_factory=Counter)
    timely: Counter[str] = dataclasses.field(default_factory=Counter)
    late: Counter[str] = dataclasses.field(default_factory=Counter)
    pending: Counter[str] = dataclasses.field(default_factory=Counter)

    def add(self, entries: Iterable[Mapping[str, Any]] | None, now: dt.datetime) -> None:
        for e in entries or ():
            name = str(e.get("vendor") or UNNAMED)
            self.escalations[name] += 1
            due = e.get("due")
            if not due:
                continue
            replied_at = e.get("replied_at")
            result = outcome(
                dt.datetime.fromisoformat(str(due)),
                dt.datetime.fromisoformat(str(replied_at)) if replied_at else None,
                now,
            )
            {TIMELY: self.timely, LATE: self.late, PENDING: self.pending}[result][name] += 1

    def merge(self, other: VendorTally) -> None:
        self.escalations.update(other.escalations)
        self.timely.update(other.timely)
        self.late.update(other.late)
        self.pending.update(other.pending)

    def to_json(self) -> list[dict[str, Any]]:
        """``stats --json`` ``vendors``: one entry per vendor, by name; the rate
        is timely / (timely + late), None while nothing is decided."""
        out = []
        for name in sorted(self.escalations):
            timely, late = self.timely[name], self.late[name]
            out.append(
                {
                    "vendor": name,
                    "escalations": self.escalations[name],
                    "timely": timely,
                    "late": late,
                    "pending": self.pending[name],
                    "rate": timely / (timely + late) if timely + late else None,
                }
            )
        return out
