"""The escalation matrix as a table (elinkctl.domain.escalation): pure, no store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from elinkctl import yamlio
from elinkctl.domain.escalation import EscalationLevel, EscalationRules, due_levels, schedule
from elinkctl.domain.model import Event, Ticket
from elinkctl.domain.sla import SlaRules
from elinkctl.errors import ConfigError

SH = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).resolve().parents[1] / "src" / "elinkctl" / "data"
SLA = SlaRules.from_mapping(yamlio.load((DATA / "sla.yaml").read_text(encoding="utf-8")), SH)
ESC_DATA: dict[str, Any] = yamlio.load((DATA / "escalation.yaml").read_text(encoding="utf-8"))
RULES = EscalationRules.from_mapping(ESC_DATA, SLA.calendars, SH)
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday
MIN = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)

# DESIGN §4, written out independently of escalation.yaml: the test is the table.
MATRIX = {
    "P1": {"0h": "pm", "30m": "management"},
    "P2": {"0h": "l2", "30m": "pm", "4h": "management"},
    "P3": {"0h": "l1", "30m": "l2", "4h": "pm", "12h": "management"},
    "P4": {"30m": "l1", "4h": "l2", "12h": "pm", "2d": "management"},
}
OFFSETS = {
    "0h": dt.timedelta(0),
    "30m": 30 * MIN,
    "4h": 4 * H,
    "12h": 12 * H,
    "2d": dt.timedelta(days=2),
}
CELLS = [(p, after, role) for p, row in MATRIX.items() for after, role in row.items()]


def ev(n: int, at: dt.datetime, type_: str, **data: Any) -> Event:
    return Event(f"e{n}", at, "desk-wang", type_, data)


def ticket(
    priority: str, *later: tuple[dt.timedelta, str, dict[str, Any]], opened: dt.datetime = T0
) -> Ticket:
    """A ticket opened at ``opened`` with events at the given offsets."""
    events = [ev(1, opened, "created", priority=priority)]
    for i, (offset, type_, data) in enumerate(later, start=2):
        events.append(ev(i, opened + offset, type_, **data))
    return Ticket(
        "INC-261123-7KQ2M",
        {"title": "财务系统无法登录", "type": "failure", "priority": priority},
        tuple(events),
    )


def roles_due(t: Ticket, now: dt.datetime, rules: EscalationRules = RULES) -> list[tuple[str, str]]:
    return [(lv.role, lv.after) for lv in due_levels(t, rules, now)]


def test_shipped_matrix_is_the_procedures_table() -> None:
    shipped = {p: {c.after: c.role for c in RULES.row(p)} for p in MATRIX}
    assert shipped == MATRIX


@pytest.mark.parametrize(
    ("priority", "after", "role"), CELLS, ids=[f"{p}-{a}-{r}" for p, a, r in CELLS]
)
def test_every_cell_fires_at_its_time_and_not_a_minute_before(
    priority: str, after: str, role: str
) -> None:
    t = ticket(priority)
    due = T0 + OFFSETS[after]
    assert (role, after) not in roles_due(t, due - MIN)
    assert (role, after) in roles_due(t, due)
    assert roles_due(t, due)[-1] == (role, after)  # the newest level due is this one
    [level] = [lv for lv in due_levels(t, RULES, due) if lv.role == role]
    assert level == EscalationLevel(role, after, due)


@pytest.mark.parametrize(
    ("priority", "after", "role"), CELLS, ids=[f"{p}-{a}-{r}" for p, a, r in CELLS]
)
def test_a_fired_cell_never_fires_again(priority: str, after: str, role: str) -> None:
    due = T0 + OFFSETS[after]
    t = ticket(priority, (OFFSETS[after], "escalation", {"role": role, "after": after}))
    assert (role, after) not in roles_due(t, due)
    assert (role, after) not in roles_due(t, due + dt.timedelta(days=30))


def test_missed_runs_catch_up_once_in_order() -> None:
    t = ticket("P4")
    late = T0 + dt.timedelta(days=3)
    assert due_levels(t, RULES, late) == [
        EscalationLevel("l1", "30m", T0 + 30 * MIN),
        EscalationLevel("l2", "4h", T0 + 4 * H),
        EscalationLevel("pm", "12h", T0 + 12 * H),
        EscalationLevel("management", "2d", T0 + dt.timedelta(days=2)),
    ]
    # Two of them were recorded by an earlier run: only the others remain.
    t = ticket(
        "P4",
        (30 * MIN, "escalation", {"role": "l1", "after": "30m"}),
        (4 * H, "escalation", {"role": "l2", "after": "4h"}),
    )
    assert roles_due(t, late) == [("pm", "12h"), ("management", "2d")]


@pytest.mark.parametrize("closing", ["resolved", "rejected", "redirected"])
def test_an_incident_no_longer_open_stops_escalating(closing: str) -> None:
    t = ticket("P2", (10 * MIN, closing, {}))
    assert due_levels(t, RULES, T0 + dt.timedelta(days=5)) == []


def test_closed_incident_stops_escalating() -> None:
    t = ticket("P3", (MIN, "accepted", {}), (20 * MIN, "resolved", {}), (H, "closed", {}))
    assert due_levels(t, RULES, T0 + dt.timedelta(days=5)) == []


def test_pending_does_not_pause_the_ladder() -> None:
    t = ticket("P2", (MIN, "accepted", {}), (5 * MIN, "pended", {"reason": "等用户"}))
    assert roles_due(t, T0 + 30 * MIN) == [("l2", "0h"), ("pm", "30m")]


def test_reopen_continues_the_ladder_on_unresolved_time() -> None:
    """Levels fired stay fired; time while resolved does not count."""
    reopened_at = dt.timedelta(days=1, hours=-1)  # next day 09:00
    t = ticket(
        "P2",
        (dt.timedelta(0), "escalation", {"role": "l2", "after": "0h"}),
        (MIN, "accepted", {}),
        (20 * MIN, "resolved", {"solution": "重启"}),
        (reopened_at, "reopened", {"reason": "又坏了"}),
    )
    back = T0 + reopened_at
    # 20 min unresolved before the resolution: 30m is due 10 min after the reopen.
    assert roles_due(t, back) == []
    assert roles_due(t, back + 9 * MIN) == []
    assert roles_due(t, back + 10 * MIN) == [("pm", "30m")]
    management = back + 4 * H - 20 * MIN
    assert roles_due(t, management - MIN) == [("pm", "30m")]
    assert roles_due(t, management) == [("pm", "30m"), ("management", "4h")]


def test_resolved_before_a_level_means_it_never_fires_while_resolved() -> None:
    t = ticket("P1", (5 * MIN, "resolved", {"solution": "x"}))
    assert [lv.role for lv in schedule(t, RULES)] == ["pm"]  # 30m never reached


def test_backfill_counts_from_the_true_start() -> None:
    """先处理后补单: recorded 2h after the start, both P1 levels are due at once."""
    opened = T0 - 2 * H
    t = ticket("P1", opened=opened)
    assert due_levels(t, RULES, T0) == [
        EscalationLevel("pm", "0h", opened),
        EscalationLevel("management", "30m", opened + 30 * MIN),
    ]


def test_priority_change_brings_the_new_rows_cells() -> None:
    # Registered P3 (l1 told at 0h), raised to P1 an hour later: pm and management are due.
    t = ticket(
        "P1",
        (dt.timedelta(0), "escalation", {"role": "l1", "after": "0h"}),
        (H, "edited", {"changes": {"priority": ["P3", "P1"]}, "reason": "全楼断网"}),
    )
    assert roles_due(t, T0 + H) == [("pm", "0h"), ("management", "30m")]


def business_rules(row: dict[str, Any]) -> EscalationRules:
    return EscalationRules.from_mapping({"matrix": {"P4": row}}, SLA.calendars, SH)


def test_business_calendar_row_counts_business_time() -> None:
    rules = business_rules({"30m": "l1", "4h": "l2", "calendar": "business"})
    friday = dt.datetime(2026, 11, 27, 17, 45, tzinfo=SH)
    t = ticket("P4", opened=friday)
    monday = dt.datetime(2026, 11, 30, 9, 15, tzinfo=SH)  # 15 min on Friday + 15 on Monday
    assert roles_due(t, monday - MIN, rules) == []
    assert roles_due(t, monday, rules) == [("l1", "30m")]
    # 4h of business time: 15 min Friday, Monday 09:00-12:00 and 13:30-14:15.
    assert schedule(t, rules)[1].due_at == dt.datetime(2026, 11, 30, 14, 15, tzinfo=SH)


def test_zero_level_fires_at_once_even_outside_business_hours() -> None:
    rules = business_rules({"0h": "pm", "calendar": "business"})
    saturday = dt.datetime(2026, 11, 28, 3, 0, tzinfo=SH)
    assert roles_due(ticket("P4", opened=saturday), saturday, rules) == [("pm", "0h")]


def test_business_row_skips_holidays() -> None:
    rules = business_rules({"30m": "l1", "calendar": "business"})
    # 2026-10-01 is National Day; the holiday runs to 10-07 (chinese-calendar data).
    eve = dt.datetime(2026, 9, 30, 17, 50, tzinfo=SH)
    [level] = schedule(ticket("P4", opened=eve), rules)
    assert level.due_at.date() > dt.date(2026, 10, 7)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"30m": "l1", "calendar": "nosuch"}, "matrix.P4.calendar: unknown calendar 'nosuch'"),
        ({"30m": "boss"}, "matrix.P4.30m: unknown role 'boss'"),
        ({"soon": "l1"}, "matrix.P4.soon: invalid duration"),
        ({"30m": "l1", "0.5h": "l2"}, "matrix.P4.0.5h: invalid duration"),
        ({"30m": "l1", "1800s": "l2"}, "matrix.P4.1800s: the same time as '30m'"),
    ],
)
def test_matrix_errors_name_the_field(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace(".", r"\.").replace("(", r"\(")):
        business_rules(row)


def test_unknown_priority_row_is_refused() -> None:
    with pytest.raises(ConfigError, match="matrix.P9: unknown priority"):
        EscalationRules.from_mapping({"matrix": {"P9": {"0h": "pm"}}}, SLA.calendars, SH)


def test_cells_are_ordered_by_time_whatever_the_file_order() -> None:
    rules = business_rules({"4h": "l2", "30m": "l1"})
    assert [c.after for c in rules.row("P4")] == ["30m", "4h"]
    assert rules.row("P1") == ()
