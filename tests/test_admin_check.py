"""`check` makes notifications that keep failing visible to cron: exit 3
while an outbox item was given up or failed N attempts in a row, one
stderr note a day (cron mails it once), and the items in ``--json``.

Against the real robot server of tests/notify_servers.py, moved to a port
where nothing listens; time is ELINKCTL_NOW, nothing sleeps.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
    assert set(failing[0]) == {"key", "channel", "recipient", "state", "attempts", "last_error"}
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
