"""Calendars and business time for the SLA clocks.

A :class:`Calendar` says which moments count towards a service-level target:

* ``24x7`` — every moment counts (plain elapsed wall time);
* ``business`` — only the configured ``hours`` intervals on *working days*.

A working day is decided, in this order of precedence:

1. an explicit ``workdays:`` date → working;
2. an explicit ``holidays:`` date → not working;
3. with ``china_holidays: true`` and a year the *chinese-calendar* package
   covers: a public holiday → not working, a make-up working day (调休, usually
   a Saturday or Sunday) → working;
4. otherwise the configured ``weekdays``.

For a year chinese-calendar has no data for (it raises ``NotImplementedError``;
its data stops at the last year the State Council has announced) step 3 is
skipped — plain weekdays plus the explicit lists — and
:meth:`Calendar.uncovered_years` reports the year so that callers can warn.
Nothing here crashes for lack of holiday data.

Everything is pure: no clock is read, ``now`` is always an argument of the
caller. All instants are *aware* datetimes; naive ones are refused.

How the numbers are computed (and why it is fast)
-------------------------------------------------
Internally an instant is an integer count of microseconds since the Unix
epoch (UTC), so that all arithmetic is exact and DST-safe: Python subtracts two
datetimes sharing one ``ZoneInfo`` *naively* (wall clock), which is wrong
across a DST change, so bounds are always converted to UTC before arithmetic.

Business intervals are computed per local day — ``09:00`` on a given date in
the calendar's zone, converted to an absolute instant — so a DST change moves
them with the wall clock, as a desk's opening hours do.

For each (calendar, year) a prefix sum of business microseconds at the start
of every local day of that year is built once (365 small computations) and
cached; business time between two instants is then a difference of two
"cumulative business time" values — O(1) per query plus one step per calendar
year crossed. ``deadline`` inverts it with a binary search over the same
prefix array. Statistics over 100,000 tickets therefore never walk day by day,
let alone minute by minute. The caches are shared by equal calendars (an
``lru_cache`` keyed by the calendar's hashable value), so re-parsing the
configuration does not throw them away.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elinkctl.errors import ConfigError
from elinkctl.timeutil import parse_duration_parts

__all__ = [
    "Calendar",
    "KINDS",
    "Pause",
    "WEEKDAY_NAMES",
    "calendar_from_config",
    "holiday_data_years",
    "resolve_duration",
]

#: A paused interval: (start, end); end ``None`` means "still paused".
Pause = tuple[dt.datetime, dt.datetime | None]

KINDS = ("24x7", "business")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES: dict[str, int] = {
    **{name: i for i, name in enumerate(WEEKDAY_NAMES)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_US = dt.timedelta(microseconds=1)
_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)
_INF = 1 << 62  # "for ever": the end of an open-ended pause, in microseconds
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


# --------------------------------------------------------------------------- helpers


def _to_us(value: dt.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact, DST-safe)."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: calendars need aware datetimes")
    return (value - _EPOCH) // _US


def _from_us(us: int, tz: dt.tzinfo) -> dt.datetime:
    return (_EPOCH + dt.timedelta(microseconds=us)).astimezone(tz)


def _minutes(value: dt.time, *, is_end: bool) -> int:
    """Minutes since midnight; an interval end of 00:00 means 24:00 (end of day)."""
    minutes = value.hour * 60 + value.minute
    return 1440 if is_end and minutes == 0 else minutes


def _fmt_time(value: dt.time, *, is_end: bool) -> str:
    return "24:00" if is_end and value == _MIDNIGHT else value.strftime("%H:%M")


@functools.lru_cache(maxsize=1)
def holiday_data_years() -> tuple[int, int]:
    """The (first, last) year the installed chinese-calendar package has data for.

    Read from the package's tables, exactly as the package itself validates a
    date. Returns ``(0, -1)`` (an empty range) if the package is missing, so
    every year is then "uncovered" and callers warn instead of crashing.
    """
    try:
        from chinese_calendar import constants
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return (0, -1)
    days: list[dt.date] = list(constants.holidays.keys())
    if not days:  # pragma: no cover
        return (0, -1)
    return (min(days).year, max(days).year)


@functools.lru_cache(maxsize=16384)
def _china_day(day: dt.date) -> bool | None:
    """chinese-calendar's verdict for a *special* day, else ``None``.

    ``True`` for a make-up working day (调休), ``False`` for a public holiday,
    ``None`` for an ordinary day (decided by the weekdays) or a year with no
    data (``NotImplementedError`` from the package: fall back, never crash).
    """
    try:
        from chinese_calendar import get_holiday_detail
    except ImportError:  # pragma: no cover
        return None
    try:
        is_holiday, name = get_holiday_detail(day)
    except NotImplementedError:
        return None
    if name is None:
        return None
    return not bool(is_holiday)


class _State:
    """Per-calendar caches (see the module docstring). Never compared or printed."""

    __slots__ = ("bounds", "prefix", "working")

    def __init__(self) -> None:
        self.working: dict[dt.date, bool] = {}
        self.bounds: dict[dt.date, tuple[tuple[int, int], ...]] = {}
        self.prefix: dict[int, list[int]] = {}


@functools.lru_cache(maxsize=64)
def _shared_state(key: tuple[Any, ...]) -> _State:
    """One cache per distinct calendar *value*, so equal calendars share it."""
    return _State()


# --------------------------------------------------------------------------- Calendar


@dataclass(frozen=True)
class Calendar:
    """Which moments count towards an SLA clock. Immutable and hashable.

    ``hours`` are (start, end) local clock times, sorted and non-overlapping;
    an end of ``00:00`` means midnight at the *end* of the day ("24:00"), so
    ``(00:00, 00:00)`` is a whole day. ``weekdays`` uses 0 = Monday.
    """

    name: str
    kind: str  # "24x7" | "business"
    tz: dt.tzinfo
    hours: tuple[tuple[dt.time, dt.time], ...] = ()
    weekdays: frozenset[int] = frozenset(range(5))
    china_holidays: bool = False
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    _state: _State = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"calendar {self.name!r}: unknown kind {self.kind!r}")
        key = (
            self.kind,
            self.tz,
            self.hours,
            self.weekdays,
            self.china_holidays,
            self.holidays,
            self.workdays,
        )
        object.__setattr__(self, "_state", _shared_state(key))

    # ------------------------------------------------------------------ days

    @property
    def is_24x7(self) -> bool:
        return self.kind == "24x7"

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` (a local date) is a working day; always true on 24x7.

        Cached per date, because statistics ask about the same few hundred
        dates for every ticket.
        """
        if self.is_24x7:
            return True
        if isinstance(day, dt.datetime):  # a datetime is a date: use its date part
            day = day.date()
        cache = self._state.working
        known = cache.get(day)
        if known is not None:
            return known
        result: bool
        if day in self.workdays:
            result = True
        elif day in self.holidays:
            result = False
        else:
            special = _china_day(day) if self.china_holidays else None
            result = special if special is not None else day.weekday() in self.weekdays
        cache[day] = result
        return result

    def working_day_length(self) -> dt.timedelta:
        """The nominal length of one full working day: 24 h on 24x7, else the sum of ``hours``.

        This is what the ``wd`` duration unit means. A working day is its full
        set of business hours (7.5 h for 09:00–12:00 + 13:30–18:00), not 24 h
        and not 8 h: "resolve within 2 working days" on a business calendar
        then means exactly two days' worth of the desk's opening hours, no
        matter at what time of day the clock starts — 15:00 Friday + 1wd is
        15:00 Monday (barring holidays). Nominal: a DST change inside the
        hours does not alter it.
        """
        if self.is_24x7:
            return _DAY
        minutes = sum(
            _minutes(end, is_end=True) - _minutes(start, is_end=False) for start, end in self.hours
        )
        return dt.timedelta(minutes=minutes)

    def uncovered_years(self, years: Iterable[int]) -> set[int]:
        """The given years for which China holidays are wanted but no data exists.

        In those years plain ``weekdays`` (plus the explicit lists) are used;
        callers (``check``, ``stats``, ``config check``) should warn.
        """
        if self.is_24x7 or not self.china_holidays:
            return set()
        first, last = holiday_data_years()
        return {year for year in years if not first <= year <= last}

    def uncovered_years_between(self, start: dt.datetime, end: dt.datetime) -> set[int]:
        """:meth:`uncovered_years` for every local year touched by ``[start, end]``."""
        first = start.astimezone(self.tz).year
        last = end.astimezone(self.tz).year
        return self.uncovered_years(range(first, last + 1))

    def describe(self) -> str:
        """One line for ``stats --explain`` and ``config check``."""
        if self.is_24x7:
            return f"{self.name}: 24x7, every minute counts"
        days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(self.weekdays)) or "no weekdays"
        hours = ", ".join(
            f"{_fmt_time(s, is_end=False)}-{_fmt_time(e, is_end=True)}" for s, e in self.hours
        )
        length = self.working_day_length().total_seconds() / 3600
        parts = [f"{self.name}: {days} {hours} ({length:g} h per working day, {self.tz})"]
        if self.china_holidays:
            first, last = holiday_data_years()
            parts.append(f"China public holidays and make-up days (调休) for {first}-{last}")
        if self.holidays:
            parts.append(f"{len(self.holidays)} extra holiday(s)")
        if self.workdays:
            parts.append(f"{len(self.workdays)} extra working day(s)")
        return "; ".join(parts)

    # ------------------------------------------------------------------ business clock

    def business_time(
        self,
        start: dt.datetime,
        end: dt.datetime,
        pauses: Sequence[Pause] = (),
    ) -> dt.timedelta:
        """Time this calendar counts in ``[start, end)``, minus the paused intervals.

        A pause ``(a, None)`` is still running: it pauses everything from ``a``.
        Overlapping pauses are merged (time is never subtracted twice); an empty
        or reversed pause (end <= start) subtracts nothing. Returns zero when
        ``end <= start``; never negative.
        """
        s, e = _to_us(start), _to_us(end)
        if e <= s:
            return dt.timedelta(0)
        total = self._raw(s, e)
        for pa, pb in _merge_pauses(pauses):
            lo, hi = max(pa, s), min(pb, e)
            if lo < hi:
                total -= self._raw(lo, hi)
        return dt.timedelta(microseconds=total)

    def deadline(
        self,
        start: dt.datetime,
        duration: dt.timedelta,
        pauses: Sequence[Pause] = (),
    ) -> dt.datetime | None:
        """The earliest instant ``d`` with ``business_time(start, d, pauses) == duration``.

        * A zero duration gives ``start`` itself (no time needs to elapse), even
          when ``start`` lies outside business hours or inside a pause.
        * A start outside business hours (night, weekend, holiday, lunch) or
          inside a pause simply counts from the next moment that counts: 1h
          from Saturday 10:00 is Monday 10:00 on the default calendar.
        * "Earliest" means a deadline that falls exactly on the end of a
          business interval is that end (12:00), not the next start (13:30).
        * ``None`` when an open-ended pause (end ``None``) begins before the
          duration is used up: the clock is stopped and the deadline unknown.
          Also ``None`` for a calendar that has no working time at all.

        The result is in the calendar's time zone.
        """
        if duration < dt.timedelta(0):
            raise ValueError(f"negative duration {duration}")
        s = _to_us(start)
        remaining = duration // _US
        if remaining == 0:
            return start.astimezone(self.tz)
        cursor = s
        for pa, pb in _merge_pauses(pauses):
            if pb <= cursor:
                continue
            if pa > cursor:
                available = self._raw(cursor, pa)
                if remaining <= available:
                    return self._finish(cursor, remaining)
                remaining -= available
            if pb >= _INF:
                return None
            cursor = max(cursor, pb)
        return self._finish(cursor, remaining)

    def _finish(self, cursor: int, remaining: int) -> dt.datetime | None:
        found = self._raw_deadline(cursor, remaining)
        return None if found is None else _from_us(found, self.tz)

    # ------------------------------------------------------------------ internals

    def _raw(self, s: int, e: int) -> int:
        """Counted microseconds in ``[s, e)`` without pauses (``s <= e``)."""
        if e <= s:
            return 0
        if self.is_24x7:
            return e - s
        if e >= _INF:
            raise ValueError("unbounded interval")  # pragma: no cover - callers clip
        ys, cs = self._cumulative(s)
        ye, ce = self._cumulative(e)
        return ce - cs + sum(self._prefix(year)[-1] for year in range(ys, ye))

    def _raw_deadline(self, s: int, amount: int) -> int | None:
        """The earliest instant with ``_raw(s, t) == amount`` (``amount > 0``)."""
        if self.is_24x7:
            return s + amount
        year, before = self._cumulative(s)
        target = before + amount
        horizon = self._horizon_year()
        while True:
            prefix = self._prefix(year)
            if target <= prefix[-1]:
                break
            if prefix[-1] == 0 and year > horizon:
                return None  # no working time in any later year either
            target -= prefix[-1]
            year += 1
        # prefix[i] < target <= prefix[i + 1]: the target is reached on day i.
        index = bisect_left(prefix, target) - 1
        day = dt.date(year, 1, 1) + dt.timedelta(days=index)
        left = target - prefix[index]
        for lo, hi in self._bounds(day):
            length = max(0, hi - lo)
            if left <= length:
                return lo + left
            left -= length
        raise AssertionError("prefix sums inconsistent")  # pragma: no cover

    def _horizon_year(self) -> int:
        """After this year every year looks alike (no data, no explicit dates)."""
        years = [d.year for d in self.holidays | self.workdays]
        if self.china_holidays:
            years.append(holiday_data_years()[1])
        return max(years, default=0)

    def _bounds(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        """The business intervals of local ``day`` as absolute microseconds (cached)."""
        cache = self._state.bounds
        found = cache.get(day)
        if found is None:
            out: list[tuple[int, int]] = []
            for start, end in self.hours:
                lo = _to_us(dt.datetime.combine(day, start, tzinfo=self.tz))
                end_day = day + _DAY if end == _MIDNIGHT else day
                hi = _to_us(dt.datetime.combine(end_day, end, tzinfo=self.tz))
                out.append((lo, max(lo, hi)))
            found = tuple(out)
            cache[day] = found
        return found

    def _prefix(self, year: int) -> list[int]:
        """Business microseconds counted before each local day of ``year`` (cached).

        ``prefix[i]`` is the total before day ``i`` (0 = 1 January) and
        ``prefix[-1]`` the year's total.
        """
        cache = self._state.prefix
        found = cache.get(year)
        if found is None:
            found = [0]
            day = dt.date(year, 1, 1)
            running = 0
            while day.year == year:
                if self.is_working_day(day):
                    running += sum(hi - lo for lo, hi in self._bounds(day))
                found.append(running)
                day += _DAY
            cache[year] = found
        return found

    def _cumulative(self, us: int) -> tuple[int, int]:
        """(local year, business microseconds from 1 January of that year to ``us``)."""
        local = _from_us(us, self.tz).date()
        year = local.year
        index = local.toordinal() - dt.date(year, 1, 1).toordinal()
        total = self._prefix(year)[index]
        if self.is_working_day(local):
            for lo, hi in self._bounds(local):
                if us <= lo:
                    break
                total += min(hi, us) - lo
        return year, total


def _merge_pauses(pauses: Sequence[Pause]) -> list[tuple[int, int]]:
    """Pauses as sorted, disjoint ``[a, b)`` microsecond intervals; open end → ``_INF``."""
    spans = sorted((_to_us(a), _INF if b is None else _to_us(b)) for a, b in pauses)
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


# --------------------------------------------------------------------------- config


def calendar_from_config(name: str, mapping: Mapping[str, Any], tz: dt.tzinfo) -> Calendar:
    """Build one calendar from its ``sla.yaml`` mapping (``calendars.<name>``).

    ``24x7`` takes only ``type``. ``business`` takes ``hours`` (required: a list
    of ``"HH:MM-HH:MM"``, sorted and non-overlapping; ``24:00`` may end the
    last one), ``weekdays`` (default mon–fri), ``china_holidays`` (default
    true), ``holidays`` and ``workdays`` (dates, default empty; a date may not
    be in both). Raises :class:`ConfigError` naming the field, e.g.
    ``calendars.business.hours: ...``. The caller adds the file name.
    """
    where = f"calendars.{name}"
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a 'type', got {mapping!r}")
    kind = mapping.get("type")
    if kind not in KINDS:
        raise ConfigError(
            f"{where}.type: unknown calendar type {kind!r} (use one of: {', '.join(KINDS)})"
        )
    allowed = (
        {"type"}
        if kind == "24x7"
        else {
            "type",
            "hours",
            "weekdays",
            "china_holidays",
            "holidays",
            "workdays",
        }
    )
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown field for a {kind} calendar "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    if kind == "24x7":
        return Calendar(name=name, kind="24x7", tz=tz)

    hours = _parse_hours(f"{where}.hours", mapping.get("hours"))
    weekdays = _parse_weekdays(f"{where}.weekdays", mapping.get("weekdays", WEEKDAY_NAMES[:5]))
    china = mapping.get("china_holidays", True)
    if not isinstance(china, bool):
        raise ConfigError(f"{where}.china_holidays: expected true or false, got {china!r}")
    holidays = _parse_dates(f"{where}.holidays", mapping.get("holidays"))
    workdays = _parse_dates(f"{where}.workdays", mapping.get("workdays"))
    both = sorted(holidays & workdays)
    if both:
        raise ConfigError(f"{where}.workdays: {both[0].isoformat()} is also listed in holidays")
    return Calendar(
        name=name,
        kind="business",
        tz=tz,
        hours=hours,
        weekdays=weekdays,
        china_holidays=china,
        holidays=holidays,
        workdays=workdays,
    )


def _parse_hours(where: str, raw: object) -> tuple[tuple[dt.time, dt.time], ...]:
    if raw is None:
        raise ConfigError(f'{where}: missing; give e.g. ["09:00-12:00", "13:30-18:00"]')
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not raw:
        raise ConfigError(f'{where}: expected a list like ["09:00-12:00", "13:30-18:00"]')
    out: list[tuple[dt.time, dt.time]] = []
    previous_end = -1
    for item in raw:
        if not isinstance(item, str):
            raise ConfigError(f'{where}: {item!r} is not a "HH:MM-HH:MM" string (quote it)')
        match = _HOURS_RE.match(item)
        if not match:
            raise ConfigError(f'{where}: {item!r} is not of the form "HH:MM-HH:MM"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ConfigError(f"{where}: {item!r} has an invalid clock time")
        begin, finish = h1 * 60 + m1, h2 * 60 + m2
        if finish <= begin:
            raise ConfigError(f"{where}: {item!r} ends before it starts")
        if begin < previous_end:
            raise ConfigError(
                f"{where}: {item!r} overlaps or precedes the previous interval "
                "(list intervals in order, without overlap)"
            )
        previous_end = finish
        out.append((dt.time(h1, m1), _MIDNIGHT if h2 == 24 else dt.time(h2, m2)))
    return tuple(out)


def _parse_weekdays(where: str, raw: object) -> frozenset[int]:
    if not isinstance(raw, list | tuple) or not raw:
        raise ConfigError(f"{where}: expected a non-empty list like [mon, tue, wed, thu, fri]")
    days: set[int] = set()
    for item in raw:
        number = _WEEKDAY_ALIASES.get(item.strip().lower()) if isinstance(item, str) else None
        if number is None:
            raise ConfigError(f"{where}: unknown weekday {item!r} (use {', '.join(WEEKDAY_NAMES)})")
        days.add(number)
    return frozenset(days)


def _parse_dates(where: str, raw: object) -> frozenset[dt.date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list | tuple):
        raise ConfigError(f"{where}: expected a list of dates (YYYY-MM-DD)")
    days: set[dt.date] = set()
    for item in raw:
        if isinstance(item, dt.datetime):
            raise ConfigError(f"{where}: {item!r} has a time of day; give a date (YYYY-MM-DD)")
        if isinstance(item, dt.date):
            days.add(item)
            continue
        if isinstance(item, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.strip()):
            try:
                days.add(dt.date.fromisoformat(item.strip()))
                continue
            except ValueError:
                pass
        raise ConfigError(f"{where}: {item!r} is not a valid date (YYYY-MM-DD)")
    return frozenset(days)


# --------------------------------------------------------------------------- durations


def resolve_duration(text: str | int | float, calendar: Calendar) -> dt.timedelta:
    """A target like ``15m``, ``4h``, ``2d``, ``1h30m`` or ``2wd`` as an amount of counted time.

    Wall units (s, m, h, d, w) are taken literally: ``4h`` on a business
    calendar is four *business* hours, and ``1d`` would be 24 business hours
    (over three working days) — hence the ``wd`` unit: ``N wd`` is ``N`` times
    :meth:`Calendar.working_day_length` (7.5 h on the default business
    calendar, 24 h on 24x7), i.e. "N working days of the desk's hours".
    Mixed forms add up (``1wd4h``). Bad text raises
    :class:`elinkctl.errors.UsageProblem` (from :mod:`elinkctl.timeutil`).
    """
    seconds, working_days = parse_duration_parts(text)
    return dt.timedelta(seconds=seconds) + working_days * calendar.working_day_length()
