"""`check` makes notifications that keep failing visible to cron: exit 3
while an outbox item was given up or failed N attempts in a row, one
stderr note a day (cron mails it once), and the items in ``--json``.

Against the real robot server of tests/notify_servers.py, moved to a port
where nothing listens; time is ELINKCTL_NOW, nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from elinkctl import yamlio
from test_outbox_cli import at, configure, dead_env, new_p1

if TYPE_CHECKING:
    from conftest import Desk
    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]


def test_check_exits_3_while_notifications_keep_failing(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, unused_port: int
) -> None:
    configure(desk, smtp_server, robot_server)
    dead = dead_env(robot_server, unused_port)
    new_p1(desk, robot_server, dead)  # the robots fail once at registration

    def check(minutes: float, *args: str, env: dict[str, str] = dead) -> tuple[int, str, str]:
        result = desk.run("check", *args, now=at(minutes), env=env)
        return result.exit_code, result.stdout, result.stderr

    code, _, err = check(2, "--failing-after", "3")  # attempt 2
    assert code == 0, err
    code, _, err = check(5, "--failing-after", "3")  # attempt 3: now a person must look
    assert code == 3, err
    assert err.count("keep failing") == 1 and "elinkctl outbox list" in err
    code, _, err = check(6, "--failing-after", "3")  # same day: exit 3, no second mail
    assert code == 3 and "keep failing" not in err
    code, out, _ = check(6, "--failing-after", "3", "--json")
    failing = json.loads(out)["failing_notifications"]
    assert {f["channel"] for f in failing} == {"ops-ding", "ops-feishu"}
    assert set(failing[0]) >= {"key", "channel", "recipient", "state", "attempts", "last_error"}
    assert check(6, "--failing-after", "0")[0] == 0  # turned off
    assert check(6)[0] == 0  # the default is 5 attempts

    # Given up after two days: exit 3 (and the note again: a new day) …
    code, _, err = check(3 * 24 * 60)
    assert code == 3 and "2 given up" in err
    # … until a person drops (or retries) them.
    for item in failing:
        desk.ok("outbox", "drop", item["key"], "--reason", "机器人已停用", now=at(3 * 24 * 60))
    code, out, err = check(3 * 24 * 60 + 1)
    assert code == 0, err
    assert "keep failing" not in err


def test_a_year_without_holiday_data_is_told_once_a_day(desk: Desk) -> None:
    """From 2027 a quiet cron check must stay quiet: the calendar warning is
    printed by the first run of a day only; config check always says it."""
    day1 = "2027-03-01T10:00:00+08:00"
    desk.new(now=day1, priority="P3")
    first = desk.run("check", now="2027-03-01T10:05:00+08:00")
    assert "no China public-holiday data for 2027" in first.stderr
    assert "holidays: [2027-MM-DD, …]" in first.stderr and "workdays:" in first.stderr
    again = desk.run("check", now="2027-03-01T10:10:00+08:00")
    assert again.exit_code == 0 and "holiday" not in again.stderr
    next_day = desk.run("check", now="2027-03-02T10:10:00+08:00")
    assert "no China public-holiday data for 2027" in next_day.stderr
    config = desk.run("config", "check", now="2027-03-01T10:15:00+08:00")
    assert "no China public-holiday data for 2027" in config.stderr


def test_listing_the_2027_schedule_silences_the_warning_and_is_used(desk: Desk) -> None:
    """What the warning tells the admin to do works: the listed days off and
    调休 working weekends decide 2027, and nobody is warned any more."""
    from elinkctl.config import load_config
    from elinkctl.domain.sla import SlaRules

    sla = desk.root / "sla.yaml"
    data = yamlio.load(sla.read_text(encoding="utf-8"))
    business = data["calendars"]["business"]
    business["holidays"] = ["2027-02-08", "2027-02-09", "2027-10-04"]  # Mondays/Tuesdays off
    business["workdays"] = ["2027-02-20"]  # a Saturday worked (调休)
    sla.write_text(yamlio.dump(data), encoding="utf-8")
    desk.git("commit", "-qam", "2027 holidays")

    cfg = load_config(desk.root)
    cal = SlaRules.from_mapping(cfg.sla.data, cfg.tz).calendars["business"]
    assert not cal.is_working_day(dt.date(2027, 2, 8))
    assert not cal.is_working_day(dt.date(2027, 10, 4))
    assert cal.is_working_day(dt.date(2027, 2, 20))
    assert cal.is_working_day(dt.date(2027, 2, 10))  # an ordinary Wednesday

    desk.new(now="2027-03-01T10:00:00+08:00", priority="P3")
    result = desk.run("check", now="2027-03-01T10:05:00+08:00")
    assert "holiday" not in result.stderr
    config = desk.run("config", "check", now="2027-03-01T10:15:00+08:00")
    assert "holiday" not in config.stderr
