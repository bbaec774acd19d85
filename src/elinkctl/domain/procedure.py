"""The procedure's own deadlines and gates (sla.yaml ``procedure:``), parsed.

The SLA targets say how fast the desk responds and resolves; these rules
say when a step of the procedure is overdue for a person (issue 13): the PM
reviews the resolution of a major incident before the desk calls back and
closes, reports progress to management while it is open, a vendor answers
by its deadline, a booked visit is recorded done, a promise to the customer
is kept, and l2 decides on a knowledge-base article after close. Every key
is optional; the defaults below are what a desk working by E-Link-23-03
would expect.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from elinkctl.domain.calendar import Calendar, resolve_duration
from elinkctl.errors import ConfigError, UsageProblem

KEYS = (
    "review_priorities",
    "progress_every",
    "vendor_warn_before",
    "visit_grace",
    "kb_decision_within",
    "kb_decision_calendar",
    "attachment_max_mb",
)


@dataclasses.dataclass(frozen=True)
class ProcedureRules:
    """Parsed ``procedure:`` of sla.yaml (defaults when absent)."""

    review_priorities: frozenset[str] = frozenset({"P1"})
    """Resolved incidents of these priorities go back to the PM for review
    (转回给项目经理审核) before callback and close."""
    progress_every: dt.timedelta = dt.timedelta(hours=2)
    """An open major incident with no progress report to management for this
    long: `check` reminds the PM (once per interval)."""
    vendor_warn_before: dt.timedelta = dt.timedelta(hours=1)
    """Warn l2 and the PM this long before a vendor's reply deadline."""
    visit_grace: dt.timedelta = dt.timedelta(minutes=30)
    """A booked visit not recorded done this long after its time: remind l1."""
    kb_decision_within: dt.timedelta = dt.timedelta(hours=22, minutes=30)
    """l2 decides on a knowledge-base article within this much counted time
    after close (default 3wd: three working days of the business calendar)."""
    kb_decision_calendar: Calendar | None = None
    """The calendar ``kb_decision_within`` counts on (None: every minute)."""
    attachment_max_mb: int = 50

    def needs_review(self, priority: str) -> bool:
        return str(priority) in self.review_priorities

    def kb_decision_due(self, closed_at: dt.datetime) -> dt.datetime | None:
        if self.kb_decision_calendar is None:
            return closed_at + self.kb_decision_within
        return self.kb_decision_calendar.deadline(closed_at, self.kb_decision_within)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, calendars: Mapping[str, Calendar]
    ) -> ProcedureRules:
        """Raise ConfigError naming the field (``procedure.progress_every: …``)."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise ConfigError("procedure: must be a mapping")
        for key in data:
            if key not in KEYS:
                raise ConfigError(
                    f"procedure.{key}: unknown key (expected one of {', '.join(KEYS)})"
                )
        default = cls()
        cal_name = str(data.get("kb_decision_calendar", "business"))
        cal = calendars.get(cal_name)
        if cal is None and "kb_decision_calendar" in data:
            raise ConfigError(f"procedure.kb_decision_calendar: unknown calendar {cal_name!r}")
        if cal is not None and cal.kind == "24x7":
            cal = None
        plain = calendars.get("24x7") or next(iter(calendars.values()), None)

        def duration(key: str, fallback: str, on: Calendar | None) -> dt.timedelta:
            raw = data.get(key, fallback)
            counted_on = on or plain
            if counted_on is None:
                raise ConfigError("calendars: none defined")
            try:
                value = resolve_duration(raw, counted_on)
            except UsageProblem as exc:
                raise ConfigError(f"procedure.{key}: {exc}") from None
            if value <= dt.timedelta(0):
                raise ConfigError(f"procedure.{key}: must be a positive duration")
            return value

        priorities = data.get("review_priorities", sorted(default.review_priorities))
        if not isinstance(priorities, list) or any(
            str(p) not in ("P1", "P2", "P3", "P4") for p in priorities
        ):
            raise ConfigError("procedure.review_priorities: a list of P1–P4")
        max_mb = data.get("attachment_max_mb", default.attachment_max_mb)
        if not isinstance(max_mb, int) or isinstance(max_mb, bool) or max_mb <= 0:
            raise ConfigError("procedure.attachment_max_mb: a positive whole number")
        return cls(
            review_priorities=frozenset(str(p) for p in priorities),
            progress_every=duration("progress_every", "2h", None),
            vendor_warn_before=duration("vendor_warn_before", "1h", None),
            visit_grace=duration("visit_grace", "30m", None),
            kb_decision_within=duration("kb_decision_within", "3wd", cal),
            kb_decision_calendar=cal,
            attachment_max_mb=max_mb,
        )
