"""管理升级: the procedure's escalation matrix as pure functions (DESIGN §4).

``escalation.yaml`` holds the matrix, one row per priority, each cell
``<elapsed>: <role>``::

    matrix:
      P1: {0h: pm, 30m: management}
      P3: {0h: l1, 30m: l2, 4h: pm, 12h: management}
      P4: {30m: l1, 4h: l2, 12h: pm, 2d: management, calendar: business}

A cell is *due* once the incident has been unresolved for ``<elapsed>``
since it was reported, and *fired* once an ``escalation`` event with the
same ``role`` and ``after`` is on the ticket. `due_levels` returns the cells
that are due and not fired, oldest first, so a `check` that missed runs for
hours catches up once, in order. Nothing here reads a clock or a file.

Rules, and why:

- **Start**: ``opened_at`` — when the incident was reported, or for a
  backfill (先处理后补单) its true start, so recording late never delays the
  ladder.
- **Time**: wall-clock time by default ("0小时/30分钟/4小时/12小时/2天" in the
  procedure are elapsed time); a row with ``calendar: <name>`` (a calendar of
  sla.yaml, e.g. ``business``) counts that calendar's time instead. ``0h`` is
  due at the start even outside business hours.
- **Until resolved**: a resolved, closed, rejected or redirected incident
  stops escalating (`due_levels` returns nothing). Pending (挂起) does *not*
  pause the ladder: waiting on a customer is still an unresolved incident.
- **Once per incident**: each cell fires once, ever; a level that fired stays
  fired through reopens and priority changes (after a priority change the
  cells of the new row fire unless the same role+after already fired).
- **Reopen**: the clock counts only the time the incident was *unresolved*
  (in an open status) since it was reported; the time it spent resolved (or
  rejected before a transfer) is skipped. After a reopen the ladder
  continues where it stopped: cells not reached before the resolution become
  due as unresolved time accumulates, one after the other, instead of
  paging every remaining level at once because the incident looked resolved
  for a day. (The SLA resolution clock in `elinkctl.domain.sla` does count
  that time: it measures the customer's wait for a real resolution, and
  `check` reports its breach separately.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from elinkctl.domain.calendar import Calendar, Pause, resolve_duration
from elinkctl.domain.model import OPEN_STATUSES, ROLES, Ticket, status_intervals
from elinkctl.errors import ConfigError, UsageProblem

PRIORITIES = ("P1", "P2", "P3", "P4")
EVENT_TYPE = "escalation"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One cell of the matrix: after ``offset`` of counted time, tell ``role``."""

    priority: str
    after: str  # as written in the matrix, e.g. "30m" (the key recorded on events)
    role: str
    offset: dt.timedelta
    calendar: Calendar


@dataclasses.dataclass(frozen=True)
class EscalationLevel:
    """A cell as it applies to one ticket: the role to tell, and when it is (or was) due."""

    role: str
    after: str
    due_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class EscalationRules:
    """The parsed matrix: per priority, its cells in order of ``offset``."""

    rows: Mapping[str, tuple[Cell, ...]]

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        calendars: Mapping[str, Calendar],
        tz: dt.tzinfo,
    ) -> EscalationRules:
        """Parse ``escalation.yaml`` (the whole mapping; only ``matrix`` is read).

        ``calendars`` are sla.yaml's (`SlaRules.calendars`); a row without
        ``calendar:`` counts wall time. Raises ConfigError naming the field
        (``matrix.P4.calendar: …``); the caller adds file and line.
        """
        wall = calendars.get("24x7") or Calendar(name="24x7", kind="24x7", tz=tz)
        matrix = data.get("matrix")
        if matrix is None:
            matrix = {}
        if not isinstance(matrix, Mapping):
            raise ConfigError("matrix: must map priorities to rows like {0h: pm, 30m: management}")
        rows: dict[str, tuple[Cell, ...]] = {}
        for prio, row in matrix.items():
            prio = str(prio)
            if prio not in PRIORITIES:
                raise ConfigError(f"matrix.{prio}: unknown priority (expected P1–P4)")
            if row is None:
                rows[prio] = ()
                continue
            if not isinstance(row, Mapping):
                raise ConfigError(f"matrix.{prio}: must map elapsed time to a role")
            cal = wall
            if "calendar" in row:
                cal_name = str(row["calendar"])
                found = calendars.get(cal_name)
                if found is None:
                    raise ConfigError(f"matrix.{prio}.calendar: unknown calendar {cal_name!r}")
                cal = found
            cells: list[Cell] = []
            seen: dict[dt.timedelta, str] = {}
            for after, role in row.items():
                if after == "calendar":
                    continue
                after_text = str(after)
                try:
                    offset = resolve_duration(after if isinstance(after, int) else after_text, cal)
                except UsageProblem as exc:
                    raise ConfigError(f"matrix.{prio}.{after_text}: {exc}") from None
                if str(role) not in ROLES:
                    raise ConfigError(
                        f"matrix.{prio}.{after_text}: unknown role {role!r} "
                        f"(expected {', '.join(ROLES)})"
                    )
                if offset in seen:
                    raise ConfigError(
                        f"matrix.{prio}.{after_text}: the same time as {seen[offset]!r}"
                    )
                seen[offset] = after_text
                cells.append(Cell(prio, after_text, str(role), offset, cal))
            rows[prio] = tuple(sorted(cells, key=lambda c: c.offset))
        return cls(rows)

    def row(self, priority: str) -> tuple[Cell, ...]:
        return self.rows.get(priority, ())


def fired(ticket: Ticket) -> set[tuple[str, str]]:
    """(role, after) of every escalation already recorded on the ticket."""
    return {(e.role, e.after) for e in ticket.state.escalations}


def unresolved_pauses(ticket: Ticket) -> list[Pause]:
    """Intervals in which the incident was not open (resolved, closed, rejected …).

    These do not count towards escalation: see "Reopen" in the module docstring.
    An interval still running ends with ``None``.
    """
    return status_intervals(ticket.state, lambda status: status not in OPEN_STATUSES)


def schedule(ticket: Ticket, rules: EscalationRules) -> list[EscalationLevel]:
    """Every cell of the ticket's row with the time it is due (``None`` dropped).

    A cell has no due time while the incident is resolved and the cell was
    not reached before: it is left out.
    """
    pauses = unresolved_pauses(ticket)
    start = ticket.opened_at
    out: list[EscalationLevel] = []
    for cell in rules.row(ticket.priority):
        due = cell.calendar.deadline(start, cell.offset, pauses)
        if due is not None:
            out.append(EscalationLevel(cell.role, cell.after, due))
    return sorted(out, key=lambda lv: lv.due_at)


def due_levels(ticket: Ticket, rules: EscalationRules, now: dt.datetime) -> list[EscalationLevel]:
    """Cells whose time has come (``due_at <= now``) and that have not fired yet.

    Oldest due first. Nothing for an incident that is not open now.
    """
    if not ticket.is_open:
        return []
    done = fired(ticket)
    return [
        lv for lv in schedule(ticket, rules) if lv.due_at <= now and (lv.role, lv.after) not in done
    ]


def escalation_data(level: EscalationLevel, recipients: Sequence[str]) -> dict[str, Any]:
    """The fields of the ``escalation`` event recording ``level``."""
    return {
        "role": level.role,
        "after": level.after,
        "due_at": level.due_at,
        "recipients": list(recipients),
    }
