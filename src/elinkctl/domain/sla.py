"""SLA clocks: response and resolution deadlines of one incident (issue 3, §5).

Pure: the rules come from sla.yaml, ``now`` is an argument. The same clocks
serve `check` (warnings and breaches as they happen) and `stats` (timely or
late after the fact), so the two can never disagree.

Rules, and why:
- both clocks start when the incident was reported (``opened_at``; for a
  backfill its true start, so recording late never hides lateness);
- the response is the first accept, contact or resolve — the moment someone
  acted; it never pauses (a customer being away does not delay answering);
- the resolution is the *last* resolve while the ticket is resolved or
  closed: a reopened incident is measured to its last resolution, and the
  time it spent looking resolved counts (it was not really resolved);
- the resolution clock pauses while the status is in ``pause_statuses``
  (default: pending, i.e. waiting on the customer or a vendor);
- each priority's targets are measured on its calendar (24x7 or business).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from elinkctl.domain.calendar import Calendar, Pause, calendar_from_config, resolve_duration
from elinkctl.domain.model import Status, Ticket, status_intervals
from elinkctl.errors import ConfigError, UsageProblem

TIMELY = "timely"
LATE = "late"
PENDING = "pending"


@dataclasses.dataclass(frozen=True)
class Target:
    response: dt.timedelta
    resolution: dt.timedelta
    response_text: str
    resolution_text: str
    calendar: Calendar


@dataclasses.dataclass(frozen=True)
class SlaRules:
    """The parts of sla.yaml the clocks need, parsed and validated once."""

    tz: dt.tzinfo
    calendars: Mapping[str, Calendar]
    targets: Mapping[str, Target]
    warn_at: float
    pause_statuses: frozenset[str]
    kpi_response: float
    kpi_resolution: float

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], tz: dt.tzinfo) -> SlaRules:
        """Raise ConfigError naming the field (the caller adds file and line)."""
        raw_cals = data.get("calendars") or {}
        if not isinstance(raw_cals, Mapping):
            raise ConfigError("calendars: must be a mapping")
        calendars: dict[str, Calendar] = {"24x7": Calendar(name="24x7", kind="24x7", tz=tz)}
        for name, mapping in raw_cals.items():
            calendars[str(name)] = calendar_from_config(str(name), mapping, tz)
        targets: dict[str, Target] = {}
        raw_targets = data.get("targets") or {}
        if not isinstance(raw_targets, Mapping):
            raise ConfigError("targets: must be a mapping")
        for prio in ("P1", "P2", "P3", "P4"):
            row = raw_targets.get(prio)
            if not isinstance(row, Mapping):
                raise ConfigError(f"targets.{prio}: missing")
            cal_name = str(row.get("calendar", "24x7"))
            cal = calendars.get(cal_name)
            if cal is None:
                raise ConfigError(f"targets.{prio}.calendar: unknown calendar {cal_name!r}")
            try:
                resp = resolve_duration(row["response"], cal)
                reso = resolve_duration(row["resolution"], cal)
            except KeyError as exc:
                raise ConfigError(f"targets.{prio}: missing {exc.args[0]}") from None
            except UsageProblem as exc:
                raise ConfigError(f"targets.{prio}: {exc}") from None
            targets[prio] = Target(resp, reso, str(row["response"]), str(row["resolution"]), cal)
        kpi = data.get("kpi") or {}
        return cls(
            tz=tz,
            calendars=calendars,
            targets=targets,
            warn_at=float(data.get("warn_at", 0.8)),
            pause_statuses=frozenset(str(s) for s in (data.get("pause_statuses") or ["pending"])),
            kpi_response=float(kpi.get("response_rate", 0.9)),
            kpi_resolution=float(kpi.get("resolution_rate", 0.9)),
        )


@dataclasses.dataclass(frozen=True)
class Clock:
    """One SLA clock of one incident, as of ``now``."""

    name: str  # "response" | "resolution"
    target: dt.timedelta
    target_text: str
    calendar: str
    start: dt.datetime
    deadline: dt.datetime | None  # None: stopped by an open-ended pause
    warn_from: dt.datetime | None
    done_at: dt.datetime | None
    used: dt.timedelta  # counted time from start to done_at (or now)
    outcome: str  # timely | late | pending
    paused: bool

    @property
    def share(self) -> float:
        """How much of the target is used (1.0 = exactly on the deadline)."""
        total = self.target.total_seconds()
        return self.used.total_seconds() / total if total else 1.0


def paused_intervals(ticket: Ticket, statuses: frozenset[str]) -> list[Pause]:
    """Intervals during which the status was one that pauses the clock."""
    return status_intervals(ticket.state, lambda status: str(status) in statuses)


def _clock(
    name: str,
    target: dt.timedelta,
    target_text: str,
    cal: Calendar,
    start: dt.datetime,
    done_at: dt.datetime | None,
    now: dt.datetime,
    pauses: Sequence[Pause],
    warn_at: float,
    paused_now: bool,
) -> Clock:
    deadline = cal.deadline(start, target, pauses)
    warn_from = cal.deadline(start, target * warn_at, pauses)
    end = done_at or now
    used = cal.business_time(start, end, pauses) if end > start else dt.timedelta(0)
    if done_at is not None:
        outcome = TIMELY if used <= target else LATE
    elif deadline is not None and now >= deadline:
        outcome = LATE
    else:
        outcome = PENDING
    return Clock(
        name,
        target,
        target_text,
        cal.name,
        start,
        deadline,
        warn_from,
        done_at,
        used,
        outcome,
        paused_now,
    )


def clocks(ticket: Ticket, rules: SlaRules, now: dt.datetime) -> tuple[Clock, Clock]:
    """(response, resolution) clocks of ``ticket`` as of ``now``."""
    target = rules.targets.get(ticket.priority)
    if target is None:
        raise ConfigError(f"sla.yaml targets: no target for priority {str(ticket.priority)!r}")
    s = ticket.state
    response = _clock(
        "response",
        target.response,
        target.response_text,
        target.calendar,
        s.opened_at,
        s.responded_at,
        now,
        (),
        rules.warn_at,
        False,
    )
    pauses = paused_intervals(ticket, rules.pause_statuses)
    resolved = s.resolved_at if s.status in (Status.RESOLVED, Status.CLOSED) else None
    resolution = _clock(
        "resolution",
        target.resolution,
        target.resolution_text,
        target.calendar,
        s.opened_at,
        resolved,
        now,
        pauses,
        rules.warn_at,
        str(s.status) in rules.pause_statuses,
    )
    return response, resolution
