"""Dates and times as people type them (issue 16, item 8): 2026/12/01,
today, yesterday, now, -2h, 30m ago; errors that show a valid form."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from conftest import Desk
from elinkctl.errors import UsageProblem
from elinkctl.timeutil import parse_time

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 2, 15, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("2026/12/01", dt.datetime(2026, 12, 1, tzinfo=TZ)),
        ("2026/12/1 10:05", dt.datetime(2026, 12, 1, 10, 5, tzinfo=TZ)),
        ("today", dt.datetime(2026, 12, 2, tzinfo=TZ)),
        ("today 14:00", dt.datetime(2026, 12, 2, 14, 0, tzinfo=TZ)),
        ("yesterday", dt.datetime(2026, 12, 1, tzinfo=TZ)),
        ("昨天 09:00", dt.datetime(2026, 12, 1, 9, 0, tzinfo=TZ)),
        ("now", NOW),
        ("-2h", NOW - dt.timedelta(hours=2)),
        ("-1d", NOW - dt.timedelta(days=1)),
        ("30m ago", NOW - dt.timedelta(minutes=30)),
        ("10:05", dt.datetime(2026, 12, 2, 10, 5, tzinfo=TZ)),
        ("2026-11-23T10:05+08:00", dt.datetime(2026, 11, 23, 10, 5, tzinfo=TZ)),
    ],
)
def test_typed_forms(typed: str, meant: dt.datetime) -> None:
    assert parse_time(typed, TZ, now=NOW) == meant


def test_a_wrong_time_shows_valid_forms() -> None:
    with pytest.raises(UsageProblem, match=r"write it like .*2026/11/23 10:05.*-2h"):
        parse_time("next tuesday", TZ, now=NOW)


def test_the_cli_reads_them(desk: Desk) -> None:
    now = "2026-11-24T15:00:00+08:00"
    ticket = desk.new(now="2026-11-23T09:00:00+08:00")
    desk.ok("accept", ticket, "--at", "-20h", now=now)  # 2026-11-23 19:00
    shown = desk.json("show", ticket, now=now)
    assert shown["events"][-1]["at"].startswith("2026-11-23T19:00")
    assert ticket in desk.ok("list", "--since", "2026/11/23", now=now).stdout
    assert ticket in desk.ok("list", "--since", "yesterday", now=now).stdout
    assert "no incidents match" in desk.ok("list", "--since", "today", now=now).stderr
    bad = desk.run("list", "--since", "last week", now=now)
    assert bad.exit_code == 2 and "2026/11/23 10:05" in bad.stderr
