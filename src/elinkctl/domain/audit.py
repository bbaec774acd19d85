"""KPI integrity over history (issue 15): how far the KPIs can be trusted. Pure.

The KPIs (`elinkctl.domain.kpi`) believe the times events claim. `audit`
lists what in the history makes a claim doubtful, per incident:

- ``late_response`` / ``late_resolution``: a step recorded more than the
  tolerance after the time it claims (even declared honestly with ``--at``)
  that makes the response or resolution timely, where by the time it was
  recorded the incident would have been late;
- ``late_record``: any other step recorded that late (the SLA outcome does
  not depend on it, but the timeline was written after the fact);
- ``timestamp_edit``: an event already recorded whose time a later commit
  changed (never done by elinkctl: by hand, in the file);
- ``priority_edit``: a priority change that turned a late response or
  resolution timely (or pending), and any priority changed in the file
  without an ``edited`` event;
- ``close_unconfirmed``: a close with no ``confirmed`` since the last
  resolution (forced closes included: they say why);
- ``callback_outside_desk``: a callback (回访) by someone who does not hold
  role desk in escalation.yaml (checked only when someone does).

"Late" is as the SLA clocks of `elinkctl.domain.sla` judge it, as of
``now``, with the priority's own targets and calendar: the same clocks
`stats` counts with. An incident belongs to the month it was reported in,
as in `stats`. Counting is per finding; `Report.doubtful` counts the
incidents whose timely response or resolution rests on a finding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from elinkctl.domain.model import Event, Status, Ticket
from elinkctl.domain.permissions import Permissions
from elinkctl.domain.recorded import FLOOR, History, Late
from elinkctl.domain.sla import LATE, SlaRules, clocks
from elinkctl.timeutil import format_duration

KINDS: dict[str, str] = {
    "late_response": "late records that make a late response look timely",
    "late_resolution": "late records that make a late resolution look timely",
    "late_record": "steps recorded long after the time they claim (outcome unchanged)",
    "timestamp_edit": "recorded event times changed afterwards",
    "priority_edit": "priority changes that made a late incident timely, or made by hand",
    "close_unconfirmed": "closes without the user's confirmation",
    "callback_outside_desk": "callbacks by someone outside the desk",
}
"""Every kind of finding, in report order, with its one-line meaning."""

DEFAULT_TOLERANCE = dt.timedelta(hours=1)
"""How much later than its time a step may be recorded before it counts as late."""

FACTS_VERSION = 1
"""Bump when `ticket_facts` changes shape or meaning."""

_EXCLUDED = frozenset({Status.REJECTED, Status.REDIRECTED})
_CLOCKS = ("response", "resolution")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One doubtful record of one incident."""

    ticket: str
    kind: str
    by: str  # who made the record (the event's actor, or a hand edit's commit author)
    month: str  # the month the incident was reported in (YYYY-MM)
    at: dt.datetime  # the time the record claims (a hand edit: its commit's date)
    detail: str
    event: str | None = None
    commit: str | None = None
    recorded_at: dt.datetime | None = None
    effect: tuple[str, ...] = ()
    """The clocks ("response", "resolution") that look timely only because of it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "kind": self.kind,
            "by": self.by,
            "month": self.month,
            "at": self.at.isoformat(),
            "event": self.event,
            "commit": self.commit,
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "effect": list(self.effect),
            "detail": self.detail,
        }


# --- per-ticket facts (cached by the ticket file's content) ----------------------------


def ticket_facts(ticket: Ticket, tz: dt.tzinfo) -> dict[str, Any]:
    """What `audit` needs of every ticket without its history; JSON-able and
    independent of "now" and of the rules, so a cache keeps it per version of
    the file. Priority edits are listed by event so only those tickets are
    read again for the SLA clocks."""
    opened = ticket.state.opened_at.astimezone(tz)
    closes: list[list[Any]] = []
    callbacks: list[list[Any]] = []
    priority_edits: list[str] = []
    confirmed = False
    for ev in ticket.events:
        kind = ev.type
        if kind in ("resolved", "reopened") or (
            kind == "reviewed" and ev.get("verdict") == "returned"
        ):
            confirmed = False
        elif kind == "confirmed":
            confirmed = True
        elif kind == "closed" and not confirmed:
            reason = str(ev.get("reason") or "") or None
            closes.append([ev.id, ev.by, ev.at.isoformat(), bool(ev.get("forced")), reason])
        elif kind == "callback":
            callbacks.append([ev.id, ev.by, ev.at.isoformat()])
        elif kind == "edited" and "priority" in (ev.get("changes") or {}):
            priority_edits.append(ev.id)
    return {
        "v": FACTS_VERSION,
        "id": ticket.id,
        "opened_at": opened.isoformat(),
        "month": opened.strftime("%Y-%m"),
        "closes": closes,
        "callbacks": callbacks,
        "priority_edits": priority_edits,
    }


# --- what a record changes on the SLA clocks --------------------------------------------


def _outcomes(ticket: Ticket, rules: SlaRules, now: dt.datetime) -> tuple[str, str] | None:
    if ticket.state.status in _EXCLUDED:
        return None  # not counted by the KPIs
    response, resolution = clocks(ticket, rules, now)
    return response.outcome, resolution.outcome


def flattered(
    actual: Ticket, alternative: Ticket, rules: SlaRules, now: dt.datetime
) -> tuple[str, ...]:
    """The clocks that are late for ``alternative`` but not for ``actual``:
    what the record that makes the difference does for the KPI."""
    ours = _outcomes(actual, rules, now)
    other = _outcomes(alternative, rules, now)
    if ours is None or other is None:
        return ()
    return tuple(
        name for name, a, b in zip(_CLOCKS, ours, other, strict=True) if b == LATE and a != LATE
    )


def moved(ticket: Ticket, event_id: str, at: dt.datetime) -> Ticket | None:
    """``ticket`` with one event placed at ``at`` (after events at the same
    time; the registration stays first), or None when it has no such event."""
    events = list(ticket.events)
    index = next((i for i, e in enumerate(events) if e.id == event_id), None)
    if index is None:
        return None
    event = dataclasses.replace(events[index], at=at)
    if index == 0:
        events[0] = event
    else:
        del events[index]
        pos = len(events)
        while pos > 1 and events[pos - 1].at > at:
            pos -= 1
        events.insert(pos, event)
    return dataclasses.replace(ticket, events=tuple(events))


def with_priority(ticket: Ticket, priority: str) -> Ticket | None:
    """``ticket`` as if its priority were ``priority`` (None: not a priority)."""
    if priority not in ("P1", "P2", "P3", "P4"):
        return None
    return dataclasses.replace(ticket, fields={**ticket.fields, "priority": priority})


# --- the auditor ----------------------------------------------------------------------


class Auditor:
    """Turns one incident's facts, events and history into findings."""

    def __init__(
        self,
        rules: SlaRules,
        now: dt.datetime,
        permissions: Permissions | None = None,
        tolerance: dt.timedelta = DEFAULT_TOLERANCE,
    ) -> None:
        self.rules = rules
        self.now = now
        self.tz = rules.tz
        self.permissions = permissions
        self.tolerance = max(tolerance, FLOOR)
        roles = permissions.roles_of.values() if permissions else ()
        self.desk_checked = any("desk" in held for held in roles)
        """Whether anyone holds role desk: otherwise callbacks cannot be judged."""

    def person(self, name: str) -> str:
        """The listed person ``name`` is (by name or alias), else the name."""
        if self.permissions is None:
            return name
        return self.permissions.person(name) or name

    def _is_desk(self, name: str) -> bool:
        assert self.permissions is not None
        return "desk" in self.permissions.roles_of.get(self.person(name), frozenset())

    def _local(self, value: dt.datetime) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def from_facts(self, facts: dict[str, Any]) -> list[Finding]:
        """Closes without confirmation and callbacks outside the desk."""
        tid, month = str(facts["id"]), str(facts["month"])
        out: list[Finding] = []
        for event, by, at, forced, reason in facts.get("closes") or ():
            how = f"forced: {reason}" if forced else "not forced"
            out.append(
                Finding(
                    tid,
                    "close_unconfirmed",
                    self.person(by),
                    month,
                    dt.datetime.fromisoformat(at),
                    f"closed with no confirm since the last resolution ({how})",
                    event,
                )  # fmt: skip
            )
        if self.desk_checked:
            for event, by, at in facts.get("callbacks") or ():
                if not self._is_desk(by):
                    out.append(
                        Finding(
                            tid,
                            "callback_outside_desk",
                            self.person(by),
                            month,
                            dt.datetime.fromisoformat(at),
                            f"callback by {by}, who does not hold role desk",
                            event,
                        )  # fmt: skip
                    )
        return out

    def from_ticket(
        self, ticket: Ticket, month: str, history: History | None, priority_edits: Iterable[str]
    ) -> list[Finding]:
        """Late records, time edits and priority edits, judged on the SLA clocks."""
        out: list[Finding] = []
        if history is not None:
            out += self._late(ticket, month, history.late)
            out += self._time_edits(ticket, month, history)
            out += self._hand_priorities(ticket, month, history)
        wanted = set(priority_edits)
        for ev in ticket.events:
            if ev.id in wanted and ev.type == "edited":
                out += self._priority_edit(ticket, month, ev)
        return out

    def _effect_text(self, effect: tuple[str, ...], because: str) -> str:
        if not effect:
            return "the SLA outcome does not depend on it"
        return f"{because} the {' and the '.join(effect)} would be late"

    def _late(self, ticket: Ticket, month: str, records: list[Late]) -> list[Finding]:
        earliest: dict[str, Late] = {}
        for rec in records:  # a rebased or cherry-picked commit records it again later
            if rec.recorded - rec.at <= self.tolerance:
                continue
            kept = earliest.get(rec.event)
            if kept is None or rec.recorded < kept.recorded:
                earliest[rec.event] = rec
        out = []
        for rec in earliest.values():
            event = _find(ticket, rec)
            if event is None:
                continue  # no longer in the file (deleted or merged away)
            alternative = moved(ticket, event.id, rec.recorded)
            effect = flattered(ticket, alternative, self.rules, self.now) if alternative else ()
            source = "its recorded_at" if rec.declared else f"commit {rec.commit[:10]}"
            text = (
                f"{event.type} {event.id} claims {self._local(event.at)}, recorded "
                f"{self._local(rec.recorded)} ({format_duration(rec.recorded - event.at)} "
                f"later, by {source}); " + self._effect_text(effect, "by the recording time")
            )
            kinds = [f"late_{clock}" for clock in effect] or ["late_record"]
            for kind in kinds:
                out.append(
                    Finding(
                        ticket.id,
                        kind,
                        self.person(event.by),
                        month,
                        event.at,
                        text,
                        event.id,
                        rec.commit,
                        rec.recorded,
                        effect,
                    )  # fmt: skip
                )
        return out

    def _time_edits(self, ticket: Ticket, month: str, history: History) -> list[Finding]:
        out = []
        seen = set()
        for edit in history.time_edits:
            key = (edit.event, edit.old, edit.new)
            if key in seen:
                continue
            seen.add(key)
            alternative = moved(ticket, edit.event, edit.old)
            if alternative is None:
                continue
            effect = flattered(ticket, alternative, self.rules, self.now)
            text = (
                f"{edit.type} {edit.event} moved from {self._local(edit.old)} to "
                f"{self._local(edit.new)} by commit {edit.commit[:10]}; "
                + self._effect_text(effect, "at its recorded time")
            )
            out.append(
                Finding(
                    ticket.id,
                    "timestamp_edit",
                    self.person(edit.author),
                    month,
                    edit.date,
                    text,
                    edit.event,
                    edit.commit,
                    None,
                    effect,
                )  # fmt: skip
            )
        return out

    def _hand_priorities(self, ticket: Ticket, month: str, history: History) -> list[Finding]:
        out = []
        for edit in history.priority_edits:
            alternative = with_priority(ticket, edit.old)
            effect = flattered(ticket, alternative, self.rules, self.now) if alternative else ()
            text = (
                f"priority {edit.old} → {edit.new} changed in the file without an edit "
                f"event (commit {edit.commit[:10]}); "
                + self._effect_text(effect, f"with {edit.old}")
            )
            out.append(
                Finding(
                    ticket.id,
                    "priority_edit",
                    self.person(edit.author),
                    month,
                    edit.date,
                    text,
                    None,
                    edit.commit,
                    None,
                    effect,
                )  # fmt: skip
            )
        return out

    def _priority_edit(self, ticket: Ticket, month: str, event: Event) -> list[Finding]:
        change = (event.get("changes") or {}).get("priority")
        if not isinstance(change, list | tuple) or len(change) != 2:
            return []
        old, new = (str(v) if v is not None else "" for v in change)
        alternative = with_priority(ticket, old)
        if alternative is None:
            return []
        effect = flattered(ticket, alternative, self.rules, self.now)
        if not effect:
            return []  # a priority change that does not flatter the KPI is the desk's job
        reason = str(event.get("reason") or "no reason given")
        text = f"priority {old} → {new} ({reason}); " + self._effect_text(effect, f"with {old}")
        deadlines = dict(zip(_CLOCKS, clocks(alternative, self.rules, self.now), strict=True))
        passed = [c for c in effect if (d := deadlines[c].deadline) is not None and d < event.at]
        if passed:  # triage early is the desk's job; a downgrade after the fact is not
            text += (
                f", and the {old} {' and '.join(passed)} deadline had passed when it was changed"
            )
        return [
            Finding(
                ticket.id,
                "priority_edit",
                self.person(event.by),
                month,
                event.at,
                text,
                event.id,
                None,
                None,
                effect,
            )  # fmt: skip
        ]


def _find(ticket: Ticket, rec: Late) -> Event | None:
    """The event ``rec`` is about: by id, else by content (a merge may have
    renumbered it)."""
    for ev in ticket.events:
        if ev.id == rec.event and ev.type == rec.type and ev.at == rec.at:
            return ev
    for ev in ticket.events:
        if ev.type == rec.type and ev.at == rec.at and ev.by == rec.by:
            return ev
    for ev in ticket.events:  # its time edited since
        if ev.id == rec.event and ev.type == rec.type and ev.by == rec.by:
            return ev
    return None


# --- the report -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Import:
    """A commit that brought in many tickets at once: its date does not date them."""

    commit: str
    date: dt.datetime
    tickets: int


@dataclasses.dataclass
class Report:
    """`audit`'s answer: the findings and their counts."""

    now: dt.datetime
    tolerance: dt.timedelta
    incidents: int = 0
    commits: int = 0
    findings: list[Finding] = dataclasses.field(default_factory=list)
    imports: list[Import] = dataclasses.field(default_factory=list)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    skipped: list[str] = dataclasses.field(default_factory=list)
    """Checks that could not be made, and why."""

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (f.month, f.ticket, f.at, list(KINDS).index(f.kind)))

    def totals(self) -> dict[str, int]:
        counts = Counter(f.kind for f in self.findings)
        out = {kind: counts.get(kind, 0) for kind in KINDS}
        out["findings"] = len(self.findings)
        out["incidents"] = len({f.ticket for f in self.findings})
        return out

    def _grouped(self, key: str) -> dict[str, dict[str, int]]:
        groups: dict[str, Counter[str]] = {}
        for f in self.findings:
            groups.setdefault(str(getattr(f, key)), Counter())[f.kind] += 1
        out = {}
        for name in sorted(groups):
            counts = groups[name]
            row = {kind: counts[kind] for kind in KINDS if counts[kind]}
            row["total"] = sum(counts.values())
            out[name] = row
        return out

    def by_person(self) -> dict[str, dict[str, int]]:
        """Findings per person, by kind (only kinds they have) and in total."""
        return self._grouped("by")

    def by_month(self) -> dict[str, dict[str, int]]:
        """Findings per month reported, by kind and in total."""
        return self._grouped("month")

    def doubtful(self) -> dict[str, int]:
        """Incidents whose timely (or pending) response or resolution rests on a finding."""
        return {
            clock: len({f.ticket for f in self.findings if clock in f.effect}) for clock in _CLOCKS
        }

    def to_json(self) -> dict[str, Any]:
        """``audit --json``: the shape docs/manual.md documents."""
        return {
            "now": self.now.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "tolerance_s": int(self.tolerance.total_seconds()),
            "incidents": self.incidents,
            "commits": self.commits,
            "imports": [
                {"commit": i.commit, "date": i.date.isoformat(), "tickets": i.tickets}
                for i in self.imports
            ],
            "skipped": list(self.skipped),
            "totals": self.totals(),
            "doubtful": self.doubtful(),
            "by_person": self.by_person(),
            "by_month": self.by_month(),
            "findings": [f.to_json() for f in self.findings],
        }
