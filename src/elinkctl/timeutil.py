"""Times and durations as users write them.

Every instant inside elinkctl is an aware datetime. Users may write a time
without an offset (``2026-11-23 10:05``) or just a clock time (``10:05``,
meaning today); both are read in the store's time zone. Durations use the
units of the escalation matrix: ``15m``, ``4h``, ``2d``, ``1h30m``, and
``wd`` (working days, only meaningful on a business calendar).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from elinkctl.errors import UsageProblem

_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*(wd|w|d|h|m|s)\s*)+$")
_PART_RE = re.compile(r"(\d+)\s*(wd|w|d|h|m|s)")
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def zone(name: str) -> dt.tzinfo:
    """The tzinfo for an IANA name; a clear error for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageProblem(f"unknown time zone {name!r}") from None


_DAY_WORDS = {"today": 0, "今天": 0, "yesterday": 1, "昨天": 1}
_AGO_RE = re.compile(r"^-\s*(.+?)$|^(.+?)\s+ago$")
TIME_FORMS = "2026-11-23 10:05, 2026/11/23 10:05, 10:05, today 14:00, yesterday, now, -2h"
"""The forms `parse_time` reads, for error messages that show a valid one."""


def normalize_day(text: str, tz: dt.tzinfo, now: dt.datetime | None = None) -> str:
    """Dates as people type them, in ISO form: ``2026/12/01`` → ``2026-12-01``;
    ``today``/``yesterday`` (今天/昨天), alone or before a clock time, → that
    date. Anything else is returned as it was."""
    raw = text.strip()
    word, _, rest = raw.partition(" ")
    if word.lower() in _DAY_WORDS:
        base = (now or dt.datetime.now(tz)).astimezone(tz).date()
        day = base - dt.timedelta(days=_DAY_WORDS[word.lower()])
        return f"{day.isoformat()} {rest.strip()}".strip()
    slashed = re.fullmatch(r"(\d{4})/(\d{1,2})(?:/(\d{1,2}))?([ T].*)?", raw)
    if slashed:
        year, month, day_of_month, clock = slashed.groups()
        iso = f"{year}-{int(month):02d}" + (f"-{int(day_of_month):02d}" if day_of_month else "")
        return iso + (clock or "")
    return raw


def parse_time(text: str, tz: dt.tzinfo, *, now: dt.datetime | None = None) -> dt.datetime:
    """Parse ISO 8601 (offset optional), a bare ``HH:MM`` (today, in ``tz``),
    ``2026/11/23 10:05``, ``today 14:00``, ``yesterday``, ``now``, or a time
    ago: ``-2h``, ``-1d``, ``30m ago``."""
    try:
        return _parse_time(text, tz, now)
    except OverflowError:  # 9999-12-31T23:59-23:59 in our zone, -99999999d: past Python's years
        raise UsageProblem(f"invalid time {text!r}: out of range") from None


def _parse_time(text: str, tz: dt.tzinfo, now: dt.datetime | None) -> dt.datetime:
    raw = text.strip()
    if raw.lower() in ("now", "现在"):
        return (now or dt.datetime.now(tz)).astimezone(tz)
    ago = _AGO_RE.match(raw)
    if ago and _DURATION_RE.match(ago.group(1) or ago.group(2)):
        return (now or dt.datetime.now(tz)).astimezone(tz) - parse_duration(
            ago.group(1) or ago.group(2)
        )
    raw = normalize_day(raw, tz, now)
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", raw):
        base = (now or dt.datetime.now(tz)).astimezone(tz)
        parts = [int(p) for p in raw.split(":")]
        try:
            return base.replace(
                hour=parts[0],
                minute=parts[1],
                second=parts[2] if len(parts) > 2 else 0,
                microsecond=0,
            )
        except ValueError:
            raise UsageProblem(f"invalid time {text!r}") from None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        try:
            from dateutil import parser as du_parser

            value = du_parser.isoparse(raw)
        except (ValueError, OverflowError):
            raise UsageProblem(f"invalid time {text!r}: write it like {TIME_FORMS}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(tz)


def parse_duration(text: str | int | float) -> dt.timedelta:
    """``15m``/``4h``/``2d``/``1h30m`` → timedelta. ``wd`` is refused here (calendar needed)."""
    seconds, wd = parse_duration_parts(text)
    if wd:
        raise UsageProblem(f"duration {text!r}: working days need a business calendar")
    return dt.timedelta(seconds=seconds)


def parse_duration_parts(text: str | int | float) -> tuple[int, int]:
    """Split a duration into (wall seconds, working days)."""
    if isinstance(text, bool):
        raise UsageProblem(f"invalid duration {text!r}")
    if isinstance(text, int | float):
        if text == 0:
            return 0, 0
        raise UsageProblem(f"invalid duration {text!r}: give a unit, e.g. 30m, 4h, 2d")
    if not _DURATION_RE.match(str(text)):
        raise UsageProblem(f"invalid duration {text!r}: use e.g. 15m, 4h, 2d, 1h30m, 2wd")
    seconds = 0
    wd = 0
    for amount, unit in _PART_RE.findall(str(text)):
        if unit == "wd":
            wd += int(amount)
        else:
            seconds += int(amount) * _UNIT_SECONDS[unit]
    return seconds, wd


def format_duration(delta: dt.timedelta) -> str:
    """A compact human duration: ``2d 3h``, ``4h 05m``, ``12m``."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m"


def now_from_env(tz: dt.tzinfo) -> dt.datetime:
    """The current instant, or ``ELINKCTL_NOW`` when set (replays and tests)."""
    raw = os.environ.get("ELINKCTL_NOW")
    if raw:
        try:
            when = parse_time(raw, tz)
        except UsageProblem:
            raise UsageProblem(f"ELINKCTL_NOW: invalid time {raw!r}") from None
        if not 2000 <= when.year <= 2099:
            # IDs carry a two-digit year, and the clocks add days to now:
            # the end of time would overflow every reader (issue 18).
            raise UsageProblem(f"ELINKCTL_NOW: {raw!r} is outside the years 2000–2099")
        return when
    return dt.datetime.now(tz).replace(microsecond=0)


def iso(value: dt.datetime) -> str:
    """ISO 8601 with offset, seconds precision."""
    return value.replace(microsecond=0).isoformat()


def as_time(value: object) -> dt.datetime | None:
    """A time read back from event data: a datetime, or ISO 8601 text (an
    event written by another tool or by hand); None for anything else."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
