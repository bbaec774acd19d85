"""`outbox list/retry/drop` and `notify test` through the CLI, against real servers.

Notices reach a real aiosmtpd server and a real HTTP robot server on 127.0.0.1
that verifies DingTalk and Feishu signatures (tests/notify_servers.py); a dead
endpoint is the same robot URL on a port where nothing listens. No output may
ever show a robot's token, a signing secret or a bearer token.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from elinkctl import yamlio

if TYPE_CHECKING:
    from click.testing import Result

    from conftest import Desk
    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

T0 = "2026-11-23T10:00:00+08:00"
PEOPLE: dict[str, dict[str, Any]] = {
    "小王": {"email": "xiaowang@example.com"},
    "李四": {"email": "lisi@example.com"},
    "王五": {"email": "wangwu@example.com", "channels": ["ops-ding", "ops-feishu"]},
    "赵总": {"email": "zhaozong@example.com"},
    "钱七": {},
}
ROLES = {"desk": ["小王"], "l1": ["李四"], "l2": [], "vendor": [], "pm": ["王五"]}
ROLES["management"] = ["赵总"]


def at(minutes: float) -> str:
    return (dt.datetime.fromisoformat(T0) + dt.timedelta(minutes=minutes)).isoformat()


def configure(desk: Desk, smtp: SmtpServer, robot: RobotServer) -> None:
    path = desk.root / "escalation.yaml"
    data = yamlio.load(path.read_text(encoding="utf-8"))
    channels = {"mail": smtp.channel(), **robot.channels()}
    data.update(roles=ROLES, people=PEOPLE, channels=channels)
    path.write_text(yamlio.dump(data), encoding="utf-8")
    desk.git("commit", "-q", "-m", "people and channels", "--", "escalation.yaml")


def secrets(robot: RobotServer) -> list[str]:
    return [
        robot.WECOM_KEY,
        robot.DINGTALK_TOKEN,
        robot.DINGTALK_SECRET,
        robot.FEISHU_TOKEN,
        robot.FEISHU_SECRET,
        robot.HOOK_TOKEN,
    ]


def dead_env(robot: RobotServer, port: int) -> dict[str, str]:
    """The robots' variables with every URL moved to a port where nothing listens."""
    live = robot.base_url
    return {k: v.replace(live, f"http://127.0.0.1:{port}") for k, v in robot.env().items()}


def run(desk: Desk, robot: RobotServer, *args: str, now: str, code: int = 0, **kw: Any) -> Result:
    result = desk.run(*args, now=now, **kw)
    out = result.stdout + result.stderr
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{out}"
    for secret in secrets(robot):
        assert secret not in out, f"{args} shows a secret:\n{out}"
    return result


def listing(desk: Desk, robot: RobotServer, now: str) -> dict[str, dict[str, Any]]:
    entries = json.loads(run(desk, robot, "outbox", "list", "--json", now=now).stdout)
    assert isinstance(entries, list)
    for entry in entries:
        assert set(entry) >= {"key", "channel", "recipient", "state", "attempts", "last_error"}
        assert set(entry) - {"key", "channel", "recipient", "state", "attempts", "last_error"} <= {
            "not_before"  # held by the robots' quiet hours
        }
        assert entry["state"] in ("pending", "failed", "delivered")
    return {e["channel"]: e for e in entries}


def new_p1(desk: Desk, robot: RobotServer, env: dict[str, str]) -> str:
    args = ["new", "--title", "核心交换机宕机", "--type", "failure", "--reporter", "张三"]
    result = run(desk, robot, *args, "--priority", "P1", now=T0, env=env)
    return result.stdout.strip()


# --- list and retry ---------------------------------------------------------------------


def test_list_then_retry_against_a_dead_then_live_robot(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, unused_port: int
) -> None:
    configure(desk, smtp_server, robot_server)
    dead = dead_env(robot_server, unused_port)
    ticket = new_p1(desk, robot_server, dead)  # the PM: mail goes out, both robots fail

    items = listing(desk, robot_server, at(0.2))

    def entries_in_order() -> list[dict[str, Any]]:
        out = run(desk, robot_server, "outbox", "list", "--json", now=at(0.2)).stdout
        return list(json.loads(out))

    assert set(items) == {"mail", "ops-ding", "ops-feishu"}
    assert items["mail"]["state"] == "delivered"
    assert items["mail"]["recipient"] == "wangwu@example.com"
    assert (items["mail"]["attempts"], items["mail"]["last_error"]) == (1, None)
    ding = items["ops-ding"]
    assert (ding["state"], ding["attempts"], ding["recipient"]) == ("pending", 1, "王五")
    assert f"cannot reach http://127.0.0.1:{unused_port}" in ding["last_error"]
    assert ding["key"].startswith(ticket) and ding["key"].endswith("@ops-ding")

    # 80 columns: each key whole on a line of its own, the errors cut to fit.
    table = run(desk, robot_server, "outbox", "list", now=at(0.2)).stdout.splitlines()
    assert table[0].split() == ["STATE", "TRIES", "CHANNEL", "RECIPIENT", "LAST", "ERROR"]
    assert [line.split()[0] for line in table[1::2]] == ["pending", "pending", "delivered"]
    assert [line.strip() for line in table[2::2]] == [e["key"] for e in entries_in_order()]
    assert max(map(len, table)) <= 80 and "…" in table[1]
    # A wider terminal: one line per item, errors in full.
    wide = run(desk, robot_server, "outbox", "list", now=at(0.2), env={"COLUMNS": "250"})
    lines = wide.stdout.splitlines()
    assert lines[0].split()[:5] == ["STATE", "TRIES", "CHANNEL", "RECIPIENT", "KEY"]
    assert len(lines) == 4 and ding["last_error"] in wide.stdout

    # Still dead: tried at once although the back-off (1m) has not passed.
    result = run(desk, robot_server, "outbox", "retry", now=at(0.2), env=dead, code=1)
    assert result.stdout.count("failed ") == 2
    assert "2 of 2 deliveries failed" in result.stderr
    assert listing(desk, robot_server, at(0.3))["ops-ding"]["attempts"] == 2

    # Live: each is sent once, signatures verified by the server.
    result = run(desk, robot_server, "outbox", "retry", now=at(0.5), env=robot_server.env())
    assert result.stdout.count("sent ") == 2
    assert len(robot_server.delivered("dingtalk")) == 1
    assert len(robot_server.delivered("feishu")) == 1
    assert {e["state"] for e in listing(desk, robot_server, at(1)).values()} == {"delivered"}

    # Delivered is final: nothing to retry, and a key of it is refused.
    result = run(desk, robot_server, "outbox", "retry", now=at(1), env=robot_server.env())
    assert result.stdout == "" and "nothing pending or failed" in result.stderr
    result = run(desk, robot_server, "outbox", "retry", ding["key"], now=at(1), code=1)
    assert "already delivered" in result.stderr and len(result.stderr.splitlines()) == 1
    assert len(robot_server.received()) == 2 and len(smtp_server.mails) == 1

    # Delivered items are listed for 7 days.
    assert listing(desk, robot_server, at(6 * 24 * 60)) != {}
    assert listing(desk, robot_server, at(8 * 24 * 60)) == {}


def test_a_given_up_item_is_failed_and_one_retry_sends_it(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, unused_port: int
) -> None:
    configure(desk, smtp_server, robot_server)
    dead = dead_env(robot_server, unused_port)
    new_p1(desk, robot_server, dead)
    three_days = at(3 * 24 * 60)
    result = run(desk, robot_server, "outbox", "retry", now=three_days, env=dead, code=1)
    assert "gave up after 2 attempts" in result.stdout

    items = listing(desk, robot_server, three_days)
    ding = items["ops-ding"]
    assert (ding["state"], ding["attempts"]) == ("failed", 2)
    assert "cannot reach" in ding["last_error"]
    assert items["mail"]["state"] == "delivered"  # 3 days ago: still recent

    # A failed item stays failed when it fails again, and is listed beyond 7 days.
    run(desk, robot_server, "outbox", "retry", ding["key"], now=three_days, env=dead, code=1)
    later = at(20 * 24 * 60)
    assert listing(desk, robot_server, later)["ops-ding"]["state"] == "failed"

    live = robot_server.env()
    result = run(desk, robot_server, "outbox", "retry", ding["key"], now=later, env=live)
    assert result.stdout.startswith("sent ") and len(result.stdout.splitlines()) == 1
    assert len(robot_server.delivered("dingtalk")) == 1
    assert len(robot_server.received("feishu")) == 0  # only the key asked for
    items = listing(desk, robot_server, later)
    assert set(items) == {"ops-ding", "ops-feishu"}
    assert items["ops-ding"]["state"] == "delivered"


def test_retry_of_everything_keeps_quiet_hours_and_batches_per_person(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    """`outbox retry` at night does not post a held P3 to the groups; KEY
    sends one now; in the morning the rest for one robot is one post."""
    configure(desk, smtp_server, robot_server)
    live = robot_server.env()
    night = "2026-11-23T23:00:00+08:00"
    args = ["new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "张三"]
    tid = run(desk, robot_server, *args, "--priority", "P3", now=night).stdout.strip()
    run(desk, robot_server, "transfer", tid, now=night)  # the PM (王五): mail + 2 robots
    run(desk, robot_server, "accept", tid, now=night, user="王五")
    run(desk, robot_server, "assign", tid, "--to", "王五", now=night, user="小王")
    held = {k: e for k, e in _by_key(desk, robot_server, night).items() if e["not_before"]}
    assert len(held) == 4  # transfer and assign, each on ops-ding and ops-feishu

    result = run(desk, robot_server, "outbox", "retry", now=night, env=live)
    assert "ops-" not in result.stdout and robot_server.received() == []
    ding = sorted(k for k in held if k.endswith("@ops-ding"))[0]
    result = run(desk, robot_server, "outbox", "retry", ding, now=night, env=live)
    assert result.stdout.startswith("sent ") and len(robot_server.delivered("dingtalk")) == 1

    morning = "2026-11-24T08:01:00+08:00"
    result = run(desk, robot_server, "outbox", "retry", now=morning, env=live)
    assert result.stdout.count("sent ") == 3
    assert len(robot_server.delivered("dingtalk")) == 2  # the one left
    [feishu] = robot_server.delivered("feishu")  # two notices, one post
    assert "2 条通知" in feishu.text


def _by_key(desk: Desk, robot: RobotServer, now: str) -> dict[str, dict[str, Any]]:
    entries = json.loads(run(desk, robot, "outbox", "list", "--json", now=now).stdout)
    return {e["key"]: e for e in entries}


# --- drop ---------------------------------------------------------------------------------


def test_drop_gives_up_for_good_and_says_who_and_why(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, unused_port: int
) -> None:
    configure(desk, smtp_server, robot_server)
    new_p1(desk, robot_server, dead_env(robot_server, unused_port))
    items = listing(desk, robot_server, at(1))
    ding, mail = items["ops-ding"]["key"], items["mail"]["key"]

    unknown = run(
        desk, robot_server, "outbox", "drop", "INC-NOPE@mail", "--reason", "x", now=at(1), code=1
    )
    assert unknown.stderr.count("\n") == 1 and "no such item in the outbox" in unknown.stderr
    assert run(desk, robot_server, "outbox", "drop", ding, now=at(1), code=2).exit_code == 2

    result = run(desk, robot_server, "outbox", "drop", ding, "--reason", "群已解散", now=at(1))
    assert "dropped" in result.stderr
    dropped = listing(desk, robot_server, at(2))["ops-ding"]
    assert dropped["state"] == "failed"
    assert dropped["last_error"].startswith("dropped: 群已解散 (by ")

    # Retrying everything sends the others, never the dropped one.
    result = run(desk, robot_server, "outbox", "retry", now=at(2), env=robot_server.env())
    assert result.stdout.count("sent ") == 1 and "ops-feishu" in result.stdout
    assert robot_server.received("dingtalk") == []
    again = run(desk, robot_server, "outbox", "retry", ding, now=at(2), code=1)
    assert "already dropped" in again.stderr
    again = run(desk, robot_server, "outbox", "drop", ding, "--reason", "y", now=at(2), code=1)
    assert "already dropped" in again.stderr
    again = run(desk, robot_server, "outbox", "drop", mail, "--reason", "y", now=at(2), code=1)
    assert "already delivered" in again.stderr

    # Shown while recent, like a delivery.
    assert "ops-ding" not in listing(desk, robot_server, at(8 * 24 * 60))


# --- notify test -----------------------------------------------------------------------


def test_notify_test_to_a_channel_dead_then_live(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, unused_port: int
) -> None:
    configure(desk, smtp_server, robot_server)
    dead = dead_env(robot_server, unused_port)
    for channel in ("ops-ding", "ops-feishu", "ops-wecom", "hook"):
        result = run(desk, robot_server, "notify", "test", channel, now=T0, env=dead, code=1)
        assert result.stdout.startswith(f"failed  {channel} → -: channels.{channel}: cannot reach")
        assert result.stderr.startswith(f"Error: test to {channel} failed: channels.{channel}")
        assert len(result.stderr.splitlines()) == 1

        result = run(desk, robot_server, "notify", "test", channel, now=T0, env=robot_server.env())
        assert result.stdout == f"sent    {channel} → -\n"
    assert len(robot_server.delivered()) == 4 and robot_server.received(ok=False) == []
    ding = robot_server.delivered("dingtalk")[0].json
    assert "测试通知" in ding["markdown"]["text"] and "无需处理" in ding["markdown"]["text"]

    result = run(desk, robot_server, "notify", "test", "mail", now=T0)
    assert result.stdout == "sent    mail → desk@example.com\n"
    assert "测试通知" in smtp_server.mails[0].subject
    # A test goes out at once and is never queued.
    assert listing(desk, robot_server, at(1)) == {}


def test_notify_test_to_a_person_takes_their_every_route(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, unused_port: int
) -> None:
    configure(desk, smtp_server, robot_server)
    dead = dead_env(robot_server, unused_port)
    result = run(desk, robot_server, "notify", "test", "王五", now=T0, env=dead, code=1)
    lines = result.stdout.splitlines()
    assert lines[0] == "sent    mail → wangwu@example.com"
    assert lines[1].startswith("failed  ops-ding → 王五: channels.ops-ding: cannot reach")
    assert lines[2].startswith("failed  ops-feishu → 王五: channels.ops-feishu: cannot reach")
    assert result.stderr.startswith("Error: test to 王五 failed (2 of 3 failed): channels.ops-ding")
    assert len(smtp_server.mails) == 1

    result = run(desk, robot_server, "notify", "test", "王五", now=T0, env=robot_server.env())
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["sent"] * 3
    assert len(smtp_server.mails) == 2 and len(robot_server.delivered()) == 2
    assert "wangwu@example.com" in smtp_server.mails[1].rcpt_tos

    nothing = run(desk, robot_server, "notify", "test", "钱七", now=T0, code=1)
    assert "no email and no channels" in nothing.stderr


def test_notify_test_to_an_unknown_target_names_what_exists(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer
) -> None:
    configure(desk, smtp_server, robot_server)
    result = run(desk, robot_server, "notify", "test", "ops-slack", now=T0, code=1)
    assert len(result.stderr.splitlines()) == 1
    assert "ops-slack: no such channel or person" in result.stderr
    assert "channels: mail, ops-wecom, ops-ding, ops-feishu, hook" in result.stderr
    assert "people: 小王, 李四, 王五" in result.stderr


# --- no secret, whatever the endpoint answers -----------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """A server that answers 404 quoting the request line, as some proxies do."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"no route for POST {self.path} ({self.headers.get('Authorization')})".encode()
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_no_secret_when_the_endpoint_echoes_or_the_url_is_broken(
    desk: Desk, smtp_server: SmtpServer, robot_server: RobotServer, echo_url: str
) -> None:
    configure(desk, smtp_server, robot_server)
    echo = {k: v.replace(robot_server.base_url, echo_url) for k, v in robot_server.env().items()}
    for channel in ("ops-wecom", "ops-ding", "ops-feishu", "hook"):
        result = run(desk, robot_server, "notify", "test", channel, now=T0, env=echo, code=1)
        assert "answered HTTP 404" in result.stdout and "***" in result.stdout

    # A space pasted into the token: the URL error must not quote it.
    broken = dict(robot_server.env(), WECOM_WEBHOOK=robot_server.wecom_url + " x")
    result = run(desk, robot_server, "notify", "test", "ops-wecom", now=T0, env=broken, code=1)
    assert "space or control character" in result.stderr

    # Queued and failed the same way: the outbox's last_error is clean too.
    new_p1(desk, robot_server, echo)
    assert "***" in listing(desk, robot_server, at(1))["ops-feishu"]["last_error"]
    run(desk, robot_server, "outbox", "list", now=at(1))
    run(desk, robot_server, "outbox", "retry", now=at(1), env=echo, code=1)


def test_a_bounced_item_is_failed_then_retried_or_dropped(tmp_path: Any) -> None:
    """`Outbox.bounced` (a bounce of a delivered mail, issue #20): the item is
    `failed` with the bounce as last_error, once; retry sends it again."""
    from elinkctl.notify.message import Kind, Message
    from elinkctl.notify.outbox import Outbox

    box = Outbox(tmp_path / "outbox")
    now = dt.datetime.fromisoformat(T0)
    sent: list[tuple[str, ...]] = []
    message = Message(ticket="INC-261123-7KQ2M", title="t", priority="P3", kind=Kind.ASSIGNED)
    box.enqueue("k1", "mail", ["a@example.com"], message, now=now)
    box.enqueue("k2", "mail", ["b@example.com"], message, now=now)
    box.flush(now, lambda channel, to, msg: sent.append(tuple(to)))
    assert box.state_of("k1") == "delivered"
    detail = {"status": "5.1.1", "recipients": "a@example.com"}
    assert box.bounced("k1", "bounced: 5.1.1 user unknown", detail, now) is True
    assert box.bounced("k1", "bounced: 5.1.1 user unknown", detail, now) is False  # once
    assert box.state_of("k1") == "failed"
    [entry] = [e for e in box.entries() if e.key == "k1"]
    assert (entry.state, entry.last_error) == ("failed", "bounced: 5.1.1 user unknown")
    assert [s for s, r in box.settled() if r["key"] == "k1"] == ["failed"]
    assert box.is_known("k1")  # never queued again by a later step
    box.retry(now, lambda channel, to, msg: sent.append(tuple(to)), key="k1")
    assert box.state_of("k1") == "delivered" and sent.count(("a@example.com",)) == 2
    box.bounced("k2", "bounced: 5.2.2 mailbox full", detail, now)
    assert box.drop("k2", "邮箱已满，已电话通知", "desk-wang", now) == "failed"
    assert box.state_of("k2") == "dropped"
