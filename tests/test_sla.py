"""SLA clocks (elinkctl.domain.sla): what counts, what pauses, and deadlines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from elinkctl import yamlio
from elinkctl.domain.model import Event, Ticket
from elinkctl.domain.sla import LATE, PENDING, TIMELY, SlaRules, clocks

SH = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).resolve().parents[1] / "src" / "elinkctl" / "data"
SLA_DATA: dict[str, Any] = yamlio.load((DATA / "sla.yaml").read_text(encoding="utf-8"))
RULES = SlaRules.from_mapping(SLA_DATA, SH)
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # Monday
MIN = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)


def ticket(
    priority: str, *later: tuple[dt.timedelta, str], opened: dt.datetime = T0, **created: Any
) -> Ticket:
    events = [Event("e1", opened, "desk", "created", {"priority": priority, **created})]
    for i, (offset, type_) in enumerate(later, start=2):
        events.append(Event(f"e{i}", opened + offset, "desk", type_, {}))
    return Ticket(
        "INC-261123-7KQ2M", {"title": "t", "type": "failure", "priority": priority}, tuple(events)
    )


def test_shipped_targets() -> None:
    p1 = RULES.targets["P1"]
    assert (p1.response, p1.resolution, p1.calendar.name) == (15 * MIN, 4 * H, "24x7")
    assert RULES.targets["P3"].resolution == 15 * H  # 2wd of 7.5 h
    assert RULES.warn_at == 0.8


def test_response_and_resolution_deadlines_and_warning_share() -> None:
    response, resolution = clocks(ticket("P1"), RULES, T0)
    assert response.deadline == T0 + 15 * MIN
    assert response.warn_from == T0 + 12 * MIN
    assert resolution.deadline == T0 + 4 * H
    assert resolution.warn_from == T0 + dt.timedelta(hours=3, minutes=12)
    assert (response.outcome, resolution.outcome) == (PENDING, PENDING)
    response, _ = clocks(ticket("P1"), RULES, T0 + 15 * MIN)
    assert response.outcome == LATE  # at the deadline itself the target is used up


def test_response_is_first_accept_and_never_pauses() -> None:
    """With pm_review as a pause status, the resolution clock pauses in review; the response not."""
    rules = SlaRules.from_mapping({**SLA_DATA, "pause_statuses": ["pending", "pm_review"]}, SH)
    t = ticket("P1", (5 * MIN, "transferred"), (65 * MIN, "accepted"))
    response, resolution = clocks(t, rules, T0 + 2 * H)
    assert response.done_at == T0 + 65 * MIN
    assert response.used == 65 * MIN
    assert response.outcome == LATE
    assert response.deadline == T0 + 15 * MIN
    assert resolution.deadline == T0 + 4 * H + H  # the hour in review did not count


def test_resolution_pauses_while_pending() -> None:
    t = ticket("P1", (5 * MIN, "accepted"), (H, "pended"), (3 * H, "resumed"))
    response, resolution = clocks(t, RULES, T0 + 3 * H)
    assert response.outcome == TIMELY
    assert resolution.deadline == T0 + 6 * H
    assert resolution.used == H
    # While still pending the deadline is unknown (the clock is stopped) and nothing is late.
    t = ticket("P1", (5 * MIN, "accepted"), (H, "pended"))
    _, resolution = clocks(t, RULES, T0 + 10 * H)
    assert resolution.paused
    assert resolution.deadline is None
    assert resolution.outcome == PENDING
    assert resolution.used == H


def test_reopened_incident_is_measured_to_its_last_resolution() -> None:
    t = ticket("P1", (5 * MIN, "accepted"), (H, "resolved"), (2 * H, "reopened"))
    _, resolution = clocks(t, RULES, T0 + 3 * H)
    assert resolution.done_at is None  # reopened: not resolved any more
    assert resolution.outcome == PENDING
    t = ticket(
        "P1", (5 * MIN, "accepted"), (H, "resolved"), (2 * H, "reopened"), (5 * H, "resolved")
    )
    _, resolution = clocks(t, RULES, T0 + 6 * H)
    assert resolution.done_at == T0 + 5 * H
    assert resolution.used == 5 * H  # the hour it looked resolved counts
    assert resolution.outcome == LATE


def test_backfill_counts_from_the_true_start() -> None:
    opened = T0 - 2 * H
    t = ticket("P1", (2 * H, "accepted"), opened=opened, backfill=True, recorded_at=T0)
    response, resolution = clocks(t, RULES, T0)
    assert response.start == opened
    assert response.outcome == LATE
    assert resolution.deadline == opened + 4 * H


def test_business_calendar_p3_over_a_weekend() -> None:
    friday = dt.datetime(2026, 11, 27, 17, 0, tzinfo=SH)
    response, resolution = clocks(ticket("P3", opened=friday), RULES, friday)
    assert response.calendar == "business"
    # 1h response: 17:00-18:00 Friday.
    assert response.deadline == dt.datetime(2026, 11, 27, 18, 0, tzinfo=SH)
    # 2wd = 15 h: 1 h Friday, 7.5 h Monday, 6.5 h Tuesday → Tuesday 17:00.
    assert resolution.deadline == dt.datetime(2026, 12, 1, 17, 0, tzinfo=SH)
    saturday = dt.datetime(2026, 11, 28, 10, 0, tzinfo=SH)
    response, _ = clocks(ticket("P3", opened=saturday), RULES, saturday)
    assert response.deadline == dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    _, resolution = clocks(
        ticket("P3", opened=saturday), RULES, dt.datetime(2026, 11, 30, 9, 0, tzinfo=SH)
    )
    assert resolution.used == dt.timedelta(0)  # the weekend did not count


def test_done_clock_reports_timely() -> None:
    t = ticket("P2", (10 * MIN, "accepted"), (2 * H, "resolved"))
    response, resolution = clocks(t, RULES, T0 + dt.timedelta(days=3))
    assert (response.outcome, resolution.outcome) == (TIMELY, TIMELY)
    assert resolution.share == pytest.approx(2 / 8)
