"""Calendars and business time (elinkctl.domain.calendar)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from elinkctl.domain.calendar import (
    Calendar,
    Pause,
    calendar_from_config,
    holiday_data_years,
    resolve_duration,
)
from elinkctl.errors import ConfigError, UsageProblem

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
UTC = dt.UTC
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
ZERO = dt.timedelta(0)

SLA_YAML = Path(__file__).resolve().parents[1] / "src" / "elinkctl" / "data" / "sla.yaml"
DEFAULT_BUSINESS: dict[str, Any] = {
    "type": "business",
    "hours": ["09:00-12:00", "13:30-18:00"],
    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
    "china_holidays": True,
    "holidays": [],
    "workdays": [],
}


def business(**overrides: Any) -> Calendar:
    return calendar_from_config("business", {**DEFAULT_BUSINESS, **overrides}, SH)


BIZ = business()
ALWAYS = calendar_from_config("24x7", {"type": "24x7"}, SH)
# A DST zone, with one interval across the spring-forward / fall-back hours.
NY_BIZ = calendar_from_config(
    "ny",
    {
        "type": "business",
        "hours": ["01:00-03:30", "09:00-17:00"],
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sun"],
        "china_holidays": False,
    },
    NY,
)


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, tz: dt.tzinfo = SH
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


def plus(value: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """Absolute-time arithmetic (``+`` on a ZoneInfo datetime is wall-clock arithmetic)."""
    return (value.astimezone(UTC) + delta).astimezone(value.tzinfo)


def same_instant(a: dt.datetime, b: dt.datetime) -> bool:
    """``==`` across zones is always False for a time in a DST fold (PEP 495)."""
    return a.astimezone(UTC) == b.astimezone(UTC)


# --------------------------------------------------------------------------- oracle


def oracle(cal: Calendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Independent, slow reference: walk every local day and intersect its intervals."""
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    if e <= s:
        return ZERO
    if cal.kind == "24x7":
        return e - s
    total = ZERO
    day = s.astimezone(cal.tz).date() - dt.timedelta(days=1)
    last = e.astimezone(cal.tz).date() + dt.timedelta(days=1)
    while day <= last:
        if cal.is_working_day(day):
            for lo_t, hi_t in cal.hours:
                lo = dt.datetime.combine(day, lo_t, tzinfo=cal.tz).astimezone(UTC)
                hi_day = day + dt.timedelta(days=1) if hi_t == dt.time(0) else day
                hi = dt.datetime.combine(hi_day, hi_t, tzinfo=cal.tz).astimezone(UTC)
                a, b = max(lo, s), min(hi, e)
                if a < b:
                    total += b - a
        day += dt.timedelta(days=1)
    return total


# --------------------------------------------------------------------------- strategies

BASE = dt.datetime(2025, 9, 1, tzinfo=UTC)
SPAN_SECONDS = 560 * 86400  # to early 2027: 2026 holidays and the 2027 fallback
INPUT_ZONES = st.sampled_from([SH, UTC, NY, ZoneInfo("Europe/Berlin")])


@st.composite
def instants(draw: st.DrawFn) -> dt.datetime:
    seconds = draw(st.integers(0, SPAN_SECONDS))
    # mostly whole minutes; sometimes exact business boundaries get hit that way
    micro = draw(st.one_of(st.just(0), st.integers(0, 999_999)))
    value = BASE + dt.timedelta(seconds=seconds, microseconds=micro)
    return value.astimezone(draw(INPUT_ZONES))


@st.composite
def sorted_instants(draw: st.DrawFn, n: int, max_gap_days: int = 40) -> list[dt.datetime]:
    first = draw(instants())
    out = [first]
    for _ in range(n - 1):
        gap = draw(st.integers(0, max_gap_days * 86400))
        out.append(plus(out[-1], dt.timedelta(seconds=gap)).astimezone(draw(INPUT_ZONES)))
    return out


calendars = st.sampled_from([BIZ, ALWAYS, NY_BIZ])
durations = st.integers(0, 30 * 86400).map(lambda s: dt.timedelta(seconds=s))
PROPS = settings(max_examples=200, deadline=None)


@st.composite
def pause_lists(draw: st.DrawFn, around: dt.datetime) -> list[Pause]:
    pauses: list[Pause] = []
    for _ in range(draw(st.integers(0, 3))):
        a = plus(around, dt.timedelta(seconds=draw(st.integers(-5 * 86400, 20 * 86400))))
        if draw(st.integers(0, 5)) == 0:
            pauses.append((a, None))
        else:
            pauses.append((a, plus(a, dt.timedelta(seconds=draw(st.integers(0, 6 * 86400))))))
    return pauses


# --------------------------------------------------------------------------- properties


@PROPS
@given(cal=calendars, ts=sorted_instants(3))
def test_additive_over_adjacent_intervals(cal: Calendar, ts: list[dt.datetime]) -> None:
    t0, t1, t2 = ts
    assert cal.business_time(t0, t2) == cal.business_time(t0, t1) + cal.business_time(t1, t2)


@PROPS
@given(cal=calendars, ts=sorted_instants(3), data=st.data())
def test_additive_with_pauses(cal: Calendar, ts: list[dt.datetime], data: st.DataObject) -> None:
    t0, t1, t2 = ts
    pauses = data.draw(pause_lists(t0))
    whole = cal.business_time(t0, t2, pauses)
    assert whole == cal.business_time(t0, t1, pauses) + cal.business_time(t1, t2, pauses)


@PROPS
@given(cal=calendars, ts=sorted_instants(3))
def test_monotonic_in_end(cal: Calendar, ts: list[dt.datetime]) -> None:
    start, e1, e2 = ts
    assert ZERO <= cal.business_time(start, e1) <= cal.business_time(start, e2)


@PROPS
@given(ts=sorted_instants(2, max_gap_days=400))
def test_24x7_is_wall_time(ts: list[dt.datetime]) -> None:
    start, end = ts
    assert ALWAYS.business_time(start, end) == end.astimezone(UTC) - start.astimezone(UTC)
    assert ALWAYS.business_time(end, start) == ZERO


@PROPS
@given(cal=calendars, ts=sorted_instants(2, max_gap_days=20))
def test_matches_day_by_day_oracle(cal: Calendar, ts: list[dt.datetime]) -> None:
    start, end = ts
    assert cal.business_time(start, end) == oracle(cal, start, end)


@PROPS
@given(day=st.dates(dt.date(2025, 9, 1), dt.date(2027, 3, 1)), data=st.data())
def test_never_counts_outside_business_hours(day: dt.date, data: st.DataObject) -> None:
    # The gaps of the default calendar: night, lunch, and whole non-working days.
    gaps = [
        (at(day.year, day.month, day.day, 0, 0), at(day.year, day.month, day.day, 9, 0)),
        (at(day.year, day.month, day.day, 12, 0), at(day.year, day.month, day.day, 13, 30)),
        (
            at(day.year, day.month, day.day, 18, 0),
            at(day.year, day.month, day.day, 0, 0) + dt.timedelta(days=1, hours=9),
        ),
    ]
    if not BIZ.is_working_day(day):
        gaps.append((at(day.year, day.month, day.day), at(day.year, day.month, day.day, 23, 59)))
    lo, hi = data.draw(st.sampled_from(gaps))
    a = lo + dt.timedelta(seconds=data.draw(st.integers(0, int((hi - lo).total_seconds()))))
    b = a + dt.timedelta(seconds=data.draw(st.integers(0, int((hi - a).total_seconds()))))
    assert BIZ.business_time(a, b) == ZERO


@PROPS
@given(cal=calendars, ts=sorted_instants(2))
def test_deadline_of_elapsed_is_not_after_end(cal: Calendar, ts: list[dt.datetime]) -> None:
    start, end = ts
    used = cal.business_time(start, end)
    found = cal.deadline(start, used)
    assert found is not None
    assert found <= end
    assert cal.business_time(start, found) == used


@PROPS
@given(cal=calendars, start=instants(), duration=durations)
def test_deadline_inverts_business_time(
    cal: Calendar, start: dt.datetime, duration: dt.timedelta
) -> None:
    found = cal.deadline(start, duration)
    assert found is not None
    assert found.tzinfo is cal.tz
    assert cal.business_time(start, found) == duration
    if duration > ZERO:  # earliest such instant
        earlier = plus(found, -dt.timedelta(microseconds=1))
        assert cal.business_time(start, earlier) < duration
    else:
        assert same_instant(found, start)


@PROPS
@given(cal=calendars, ts=sorted_instants(4, max_gap_days=10))
def test_single_pause_subtracts(cal: Calendar, ts: list[dt.datetime]) -> None:
    start, p0, p1, end = ts
    expected = cal.business_time(start, p0) + cal.business_time(p1, end)
    assert cal.business_time(start, end, [(p0, p1)]) == expected
    # still paused: nothing after p0 counts
    assert cal.business_time(start, end, [(p0, None)]) == cal.business_time(start, p0)


@PROPS
@given(cal=calendars, start=instants(), data=st.data())
def test_pauses_equal_oracle_of_active_spans(
    cal: Calendar, start: dt.datetime, data: st.DataObject
) -> None:
    pauses = data.draw(pause_lists(start))
    end = plus(start, dt.timedelta(seconds=data.draw(st.integers(0, 25 * 86400))))
    # reference: walk the timeline with a boolean "paused" state per pause boundary
    points = sorted(
        {start.astimezone(UTC), end.astimezone(UTC)}
        | {p.astimezone(UTC) for a, b in pauses for p in (a, b) if p is not None}
    )
    points = [p for p in points if start <= p <= end]
    expected = ZERO
    for a, b in zip(points, points[1:], strict=False):
        paused = any(pa <= a and (pb is None or b <= pb) for pa, pb in pauses)
        if not paused:
            expected += oracle(cal, a, b)
    assert cal.business_time(start, end, pauses) == expected


@PROPS
@given(cal=calendars, start=instants(), duration=durations, data=st.data())
def test_deadline_with_pauses(
    cal: Calendar, start: dt.datetime, duration: dt.timedelta, data: st.DataObject
) -> None:
    pauses = data.draw(pause_lists(start))
    found = cal.deadline(start, duration, pauses)
    if found is None:
        # only an open-ended pause can make it unreachable, and before it the
        # duration was not yet used up
        open_starts = [a for a, b in pauses if b is None]
        assert open_starts
        assert cal.business_time(start, max(max(open_starts), start), pauses) < duration
    else:
        assert cal.business_time(start, found, pauses) == duration
        if duration > ZERO:
            earlier = plus(found, -dt.timedelta(microseconds=1))
            assert cal.business_time(start, earlier, pauses) < duration
        else:
            assert same_instant(found, start)


# --------------------------------------------------------------------------- tables


def test_default_sla_yaml_calendars() -> None:
    data = yaml.safe_load(SLA_YAML.read_text(encoding="utf-8"))
    tz = ZoneInfo(data["timezone"])
    cals = {name: calendar_from_config(name, m, tz) for name, m in data["calendars"].items()}
    assert cals["business"] == calendar_from_config("business", DEFAULT_BUSINESS, SH)
    assert cals["business"].working_day_length() == dt.timedelta(hours=7, minutes=30)
    assert cals["24x7"].working_day_length() == dt.timedelta(hours=24)
    assert cals["24x7"].kind == "24x7"
    assert "7.5 h per working day" in cals["business"].describe()
    assert "24x7" in cals["24x7"].describe()


def test_national_day_2026() -> None:
    for day in range(1, 8):
        assert not BIZ.is_working_day(dt.date(2026, 10, day)), day
    # chinese-calendar: Saturday 2026-10-10 is the 调休 make-up working day; Sunday 11th is not.
    assert dt.date(2026, 10, 10).weekday() == 5
    assert BIZ.is_working_day(dt.date(2026, 10, 10))
    assert not BIZ.is_working_day(dt.date(2026, 10, 11))
    # Mid-autumn: Fri 2026-09-25 off, Sun 2026-09-20 worked.
    assert not BIZ.is_working_day(dt.date(2026, 9, 25))
    assert BIZ.is_working_day(dt.date(2026, 9, 20))

    assert BIZ.business_time(at(2026, 10, 1), at(2026, 10, 8)) == ZERO
    assert BIZ.business_time(at(2026, 10, 10), at(2026, 10, 11)) == dt.timedelta(hours=7.5)
    # 30 Sep 17:00 + 2h: 1h that evening, then nothing until Thursday 8 Oct.
    assert BIZ.deadline(at(2026, 9, 30, 17), 2 * H) == at(2026, 10, 8, 10)
    # Friday 9 Oct 17:00 + 2h lands on the make-up Saturday.
    assert BIZ.deadline(at(2026, 10, 9, 17), 2 * H) == at(2026, 10, 10, 10)
    # The whole week Mon 5 – Sun 11 Oct: Thu, Fri, Sat = 3 working days.
    assert BIZ.business_time(at(2026, 10, 5), at(2026, 10, 12)) == 3 * dt.timedelta(hours=7.5)


def test_p3_two_working_days_over_weekend_and_lunch() -> None:
    two_wd = resolve_duration("2wd", BIZ)
    assert two_wd == dt.timedelta(hours=15)
    # Fri 20 Nov 2026 16:00: Fri 2h, Mon 7.5h, Tue 09–12 3h + 13:30–16:00 2.5h.
    start = at(2026, 11, 20, 16)
    assert start.strftime("%a") == "Fri"
    due = BIZ.deadline(start, two_wd)
    assert due == at(2026, 11, 24, 16)
    assert due is not None and BIZ.business_time(start, due) == two_wd
    # Reported in the lunch break on Friday: clock starts at 13:30.
    due = BIZ.deadline(at(2026, 11, 20, 12, 15), two_wd)
    # Fri 4.5h, Mon 7.5h, Tue 09:00–12:00 3h
    assert due == at(2026, 11, 24, 12)
    # earliest instant: exactly 12:00, not 13:30
    assert BIZ.deadline(at(2026, 11, 23, 9), 3 * H) == at(2026, 11, 23, 12)
    assert BIZ.deadline(at(2026, 11, 23, 9), 3 * H + M) == at(2026, 11, 23, 13, 31)


def test_start_outside_hours_and_zero_duration() -> None:
    saturday = at(2026, 11, 21, 10)
    assert BIZ.deadline(saturday, H) == at(2026, 11, 23, 10)
    assert BIZ.deadline(saturday, ZERO) == saturday
    assert ALWAYS.deadline(saturday, ZERO) == saturday
    assert BIZ.deadline(at(2026, 11, 23, 20), 30 * M) == at(2026, 11, 24, 9, 30)
    assert BIZ.business_time(at(2026, 11, 24, 10), at(2026, 11, 24, 9)) == ZERO
    with pytest.raises(ValueError):
        BIZ.deadline(saturday, -H)


def test_explicit_workdays_and_holidays_override() -> None:
    cal = business(
        workdays=[dt.date(2026, 11, 21), "2026-10-05"],  # a Saturday; a National Day holiday
        holidays=["2026-11-23", dt.date(2026, 10, 10)],  # a Monday; a 调休 Saturday
    )
    assert cal.is_working_day(dt.date(2026, 11, 21))
    assert not cal.is_working_day(dt.date(2026, 11, 23))
    assert cal.is_working_day(dt.date(2026, 10, 5))
    assert not cal.is_working_day(dt.date(2026, 10, 10))
    assert not cal.is_working_day(dt.date(2026, 11, 22))  # Sunday untouched
    # Fri 16:00 + 1wd: Fri 2h, Sat 09–12 3h, 13:30–16:00 2.5h.
    assert cal.deadline(at(2026, 11, 20, 16), resolve_duration("1wd", cal)) == at(2026, 11, 21, 16)
    # Sat 18:00 + 1h skips the Sunday and the Monday holiday.
    assert cal.deadline(at(2026, 11, 21, 18), H) == at(2026, 11, 24, 10)


@pytest.mark.skipif(holiday_data_years()[1] >= 2027, reason="chinese-calendar now covers 2027")
def test_2027_falls_back_to_weekdays() -> None:
    first, last = holiday_data_years()
    assert first <= 2026 <= last
    # New Year's Day 2027 is a Friday: without data it is a plain working day.
    assert dt.date(2027, 1, 1).weekday() == 4
    assert BIZ.is_working_day(dt.date(2027, 1, 1))
    assert not BIZ.is_working_day(dt.date(2027, 1, 2))
    assert BIZ.uncovered_years([2025, 2026, 2027]) == {2027}
    assert BIZ.uncovered_years_between(at(2026, 12, 30), at(2027, 1, 4)) == {2027}
    assert business(china_holidays=False).uncovered_years([2027]) == set()
    assert ALWAYS.uncovered_years([2027]) == set()
    # across the year boundary: Thu 31 Dec 2026 17:00 + 2h → Fri 1 Jan 2027 10:00
    assert BIZ.deadline(at(2026, 12, 31, 17), 2 * H) == at(2027, 1, 1, 10)
    # explicit holidays still apply in an uncovered year
    cal = business(holidays=["2027-01-01"])
    assert not cal.is_working_day(dt.date(2027, 1, 1))
    assert cal.deadline(at(2026, 12, 31, 17), 2 * H) == at(2027, 1, 4, 10)


def test_dst_days_are_computed_per_local_day() -> None:
    # 2026-03-08 (Sunday): New York springs forward at 02:00 → 03:00.
    assert ALWAYS.business_time(at(2026, 3, 8, tz=NY), at(2026, 3, 9, tz=NY)) == 23 * H
    # 01:00-03:30 loses the missing hour: 1.5h; 09:00-17:00 is 8h.
    assert NY_BIZ.business_time(at(2026, 3, 8, tz=NY), at(2026, 3, 9, tz=NY)) == 9.5 * H
    # 2026-11-01 (Sunday): falls back at 02:00 → 01:00; 01:00-03:30 lasts 3.5h.
    assert NY_BIZ.business_time(at(2026, 11, 1, tz=NY), at(2026, 11, 2, tz=NY)) == 11.5 * H
    start = at(2026, 3, 8, tz=NY)
    assert NY_BIZ.deadline(start, 1.5 * H) == at(2026, 3, 8, 3, 30, tz=NY)
    whole_day = calendar_from_config(
        "allday",
        {
            "type": "business",
            "hours": ["00:00-24:00"],
            "china_holidays": False,
            "weekdays": ["sun"],
        },
        NY,
    )
    assert whole_day.working_day_length() == 24 * H
    assert whole_day.business_time(start, at(2026, 3, 9, tz=NY)) == 23 * H
    assert whole_day.deadline(start, 23 * H) == at(2026, 3, 9, tz=NY)


def test_pause_tables() -> None:
    start = at(2026, 11, 23, 9)  # Monday
    # pending over lunch and into the afternoon: only 13:30–14:00 is subtracted
    pauses: Sequence[Pause] = [(at(2026, 11, 23, 11, 30), at(2026, 11, 23, 14))]
    assert BIZ.business_time(start, at(2026, 11, 23, 18), pauses) == 7.5 * H - 60 * M
    # overlapping pauses are merged, never subtracted twice
    doubled = [*pauses, (at(2026, 11, 23, 11, 45), at(2026, 11, 23, 13, 45))]
    assert BIZ.business_time(start, at(2026, 11, 23, 18), doubled) == 7.5 * H - 60 * M
    # deadline moves by the paused business time: 09:00–11:30, then 14:00–15:30
    assert BIZ.deadline(start, 4 * H, pauses) == at(2026, 11, 23, 15, 30)
    # still pending: unreachable, unless the target was met before the pause
    open_pause: Sequence[Pause] = [(at(2026, 11, 23, 10), None)]
    assert BIZ.deadline(start, 2 * H, open_pause) is None
    assert BIZ.deadline(start, 1 * H, open_pause) == at(2026, 11, 23, 10)
    assert BIZ.business_time(start, at(2026, 12, 23), open_pause) == H
    assert ALWAYS.deadline(start, 2 * H, open_pause) is None
    # a pause starting before the clock: counts from its end
    early: Sequence[Pause] = [(at(2026, 11, 22), at(2026, 11, 23, 10))]
    assert BIZ.deadline(start, H, early) == at(2026, 11, 23, 11)


def test_long_ranges_skip_fast_and_stay_exact() -> None:
    start, end = at(2004, 1, 1), at(2030, 1, 1)
    total = BIZ.business_time(start, end)
    by_year = sum(
        (BIZ.business_time(at(y, 1, 1), at(y + 1, 1, 1)) for y in range(2004, 2030)), ZERO
    )
    assert total == by_year
    assert BIZ.deadline(start, total) == at(2029, 12, 31, 18)
    # 2025 has 248 working days in China (chinese-calendar's own count)
    import chinese_calendar

    days = len(chinese_calendar.get_workdays(dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
    assert days == 248
    assert BIZ.business_time(at(2025, 1, 1), at(2026, 1, 1)) == days * dt.timedelta(hours=7.5)


def test_resolve_duration() -> None:
    assert resolve_duration("15m", BIZ) == 15 * M
    assert resolve_duration("4h", BIZ) == 4 * H
    assert resolve_duration("2d", BIZ) == 48 * H
    assert resolve_duration("1h30m", ALWAYS) == 90 * M
    assert resolve_duration("2wd", BIZ) == 15 * H
    assert resolve_duration("2wd", ALWAYS) == 48 * H
    assert resolve_duration("1wd4h", BIZ) == 11.5 * H
    assert resolve_duration(0, BIZ) == ZERO
    with pytest.raises(UsageProblem):
        resolve_duration("two days", BIZ)


def test_calendars_are_values() -> None:
    again = business()
    assert again == BIZ and hash(again) == hash(BIZ)
    assert again != business(holidays=["2026-11-23"])
    assert {BIZ, again, ALWAYS} == {BIZ, ALWAYS}
    with pytest.raises(ValueError, match="naive"):
        BIZ.business_time(dt.datetime(2026, 1, 5, 9), at(2026, 1, 5, 10))


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"type": "weekly"}, "calendars.x.type"),
        ({}, "calendars.x.type"),
        ({"type": "24x7", "hours": ["09:00-18:00"]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": ["9-12"]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": ["09:00-25:00"]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": ["12:00-09:00"]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": ["09:00-12:00", "11:00-18:00"]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": ["13:30-18:00", "09:00-12:00"]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": [540]}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "hours": []}, "calendars.x.hours"),
        ({k: v for k, v in DEFAULT_BUSINESS.items() if k != "hours"}, "calendars.x.hours"),
        ({**DEFAULT_BUSINESS, "weekdays": ["mon", "funday"]}, "calendars.x.weekdays"),
        ({**DEFAULT_BUSINESS, "weekdays": []}, "calendars.x.weekdays"),
        ({**DEFAULT_BUSINESS, "china_holidays": "yes"}, "calendars.x.china_holidays"),
        ({**DEFAULT_BUSINESS, "holidays": ["2026-02-30"]}, "calendars.x.holidays"),
        ({**DEFAULT_BUSINESS, "holidays": ["next monday"]}, "calendars.x.holidays"),
        ({**DEFAULT_BUSINESS, "holidays": "2026-10-01"}, "calendars.x.holidays"),
        (
            {**DEFAULT_BUSINESS, "workdays": [dt.datetime(2026, 10, 10, 9)]},
            "calendars.x.workdays",
        ),
        (
            {**DEFAULT_BUSINESS, "workdays": ["2026-10-10"], "holidays": ["2026-10-10"]},
            "calendars.x.workdays",
        ),
        ({**DEFAULT_BUSINESS, "holiday": []}, "calendars.x.holiday"),
    ],
)
def test_config_errors_name_the_field(mapping: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        calendar_from_config("x", mapping, SH)
    assert str(caught.value).startswith(field + ":"), str(caught.value)


def test_config_defaults_and_variants() -> None:
    cal = calendar_from_config(
        "b", {"type": "business", "hours": "08:00-20:00", "weekdays": ["Monday", "SAT"]}, SH
    )
    assert cal.china_holidays is True
    assert cal.weekdays == frozenset({0, 5})
    assert cal.working_day_length() == 12 * H
    plain = calendar_from_config("b", {"type": "business", "hours": ["09:00-17:00"]}, SH)
    assert plain.weekdays == frozenset(range(5))
    assert plain.holidays == frozenset() and plain.workdays == frozenset()
