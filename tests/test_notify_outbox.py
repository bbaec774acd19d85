"""The durable outbox, the rate limiter and delivery planning, end to end with real servers."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elinkctl.notify import (
    Delivery,
    DeliveryError,
    Message,
    Outbox,
    RateLimiter,
    backoff,
    delivery_key,
    make_sender,
    plan_deliveries,
    queue_notifications,
)

if TYPE_CHECKING:
    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
MSG = Message(
    ticket="INC-261123-7KQ2",
    title="财务系统无法登录",
    priority="P1",
    kind="escalation",
    level=Message.level_for("30m", "management"),
    elapsed="35m",
    status="in_progress",
    assignee="李四",
    reporter="张三",
    department="财务部",
)


class Recorder:
    """A sender that records calls and fails while ``failing`` is set (no network)."""

    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.calls: list[tuple[str, tuple[str, ...], str]] = []

    def __call__(self, channel: str, recipients: Sequence[str], message: Message) -> None:
        self.calls.append((channel, tuple(recipients), message.ticket))
        if self.failing:
            raise DeliveryError(f"channels.{channel}: down")


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / ".git" / "elinkctl" / "outbox")


def files(outbox: Outbox, sub: str) -> list[Path]:
    return sorted((outbox.directory / sub).glob("*"))


# --- queueing and exactly-once bookkeeping --------------------------------------------


def test_enqueue_is_idempotent_per_key(outbox: Outbox) -> None:
    assert outbox.enqueue("k1", "ops-wecom", ["赵六"], MSG) is True
    assert outbox.enqueue("k1", "ops-wecom", ["赵六"], MSG) is False
    assert [i.key for i in outbox.pending()] == ["k1"]

    send = Recorder()
    [result] = outbox.flush(T0, send)
    assert result.to_dict() == {
        "channel": "ops-wecom",
        "recipients": ["赵六"],
        "ticket": "INC-261123-7KQ2",
        "key": "k1",
        "ok": True,
        "error": None,
        "attempts": 1,
        "deferred": False,
        "gave_up": False,
        "next_attempt": None,
    }
    assert outbox.is_delivered("k1")
    # Delivered keys are never queued or sent again, even much later.
    assert outbox.enqueue("k1", "ops-wecom", ["赵六"], MSG) is False
    assert outbox.flush(T0 + dt.timedelta(days=1), send) == []
    assert len(send.calls) == 1


def test_items_survive_a_new_process(outbox: Outbox) -> None:
    outbox.enqueue("k1", "mail", ["a@example.com"], MSG)
    again = Outbox(outbox.directory)
    [item] = again.pending()
    assert item.message == MSG and item.recipients == ("a@example.com",)
    send = Recorder()
    again.flush(T0, send)
    assert send.calls == [("mail", ("a@example.com",), "INC-261123-7KQ2")]


def test_queue_order_is_kept(outbox: Outbox) -> None:
    for i in range(5):
        outbox.enqueue(f"k{i}", "c", [str(i)], MSG)
    send = Recorder()
    outbox.flush(T0, send)
    assert [c[1][0] for c in send.calls] == ["0", "1", "2", "3", "4"]


def test_writes_are_atomic_no_temporary_files_left(outbox: Outbox) -> None:
    outbox.enqueue("k1", "c", ["x"], MSG)
    outbox.flush(T0, Recorder(failing=True))
    outbox.flush(T0 + dt.timedelta(minutes=5), Recorder())
    leftovers = [p for p in outbox.directory.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert files(outbox, "pending") == []
    [marker] = files(outbox, "delivered")
    record = json.loads(marker.read_text("utf-8"))
    assert record["key"] == "k1" and record["attempts"] == 2
    assert record["delivered_at"] == (T0 + dt.timedelta(minutes=5)).isoformat()


def test_crash_after_recording_delivery_does_not_resend(outbox: Outbox) -> None:
    """A crash between the delivered marker and removing the pending file."""
    outbox.enqueue("k1", "c", ["x"], MSG)
    pending = files(outbox, "pending")[0].read_text("utf-8")
    outbox.flush(T0, Recorder())
    (outbox.directory / "pending" / files(outbox, "delivered")[0].name).write_text(pending)
    send = Recorder()
    assert outbox.flush(T0, send) == []
    assert send.calls == [] and files(outbox, "pending") == []


def test_crash_before_recording_resends_once(outbox: Outbox) -> None:
    """At least once: a crash after the send but before the marker means one resend."""
    outbox.enqueue("k1", "c", ["x"], MSG)

    class Crash(BaseException):
        pass

    def crashing(channel: str, recipients: Sequence[str], message: Message) -> None:
        raise Crash  # stands for "sent, then the process died"

    with pytest.raises(Crash):
        outbox.flush(T0, crashing)
    send = Recorder()
    [result] = outbox.flush(T0, send)
    assert result.ok and len(send.calls) == 1
    assert outbox.flush(T0, send) == [] and len(send.calls) == 1


# --- back-off ---------------------------------------------------------------------------


def test_backoff_schedule() -> None:
    assert [backoff(n) for n in range(1, 9)] == [
        dt.timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)
    ]
    assert backoff(10_000) == dt.timedelta(hours=1)


@given(st.integers(min_value=1, max_value=500))
def test_backoff_is_monotonic_and_capped(n: int) -> None:
    assert dt.timedelta(minutes=1) <= backoff(n) <= backoff(n + 1) <= dt.timedelta(hours=1)


def test_failed_item_waits_for_its_retry_time(outbox: Outbox) -> None:
    outbox.enqueue("k1", "c", ["x"], MSG)
    down = Recorder(failing=True)
    [first] = outbox.flush(T0, down)
    assert (first.ok, first.error, first.attempts) == (False, "channels.c: down", 1)
    assert first.next_attempt == (T0 + dt.timedelta(minutes=1)).isoformat()

    assert outbox.flush(T0 + dt.timedelta(seconds=59), down) == []  # still backing off
    [second] = outbox.flush(T0 + dt.timedelta(minutes=1), down)
    assert second.attempts == 2
    assert second.next_attempt == (T0 + dt.timedelta(minutes=3)).isoformat()
    assert outbox.flush(T0 + dt.timedelta(minutes=2), down) == []
    assert len(down.calls) == 2
    [item] = outbox.pending()
    assert item.last_error == "channels.c: down"


def test_gives_up_after_limit(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "ob", give_up_after=dt.timedelta(hours=3))
    outbox.enqueue("k1", "c", ["x"], MSG)
    down = Recorder(failing=True)
    outbox.flush(T0, down)
    [late] = outbox.flush(T0 + dt.timedelta(hours=3), down)
    assert late.gave_up and not late.ok
    assert late.error == "gave up after 2 attempts: channels.c: down"
    assert outbox.pending() == [] and len(files(outbox, "failed")) == 1
    assert outbox.enqueue("k1", "c", ["x"], MSG) is False  # not re-queued by the next check


def test_sender_bug_is_a_failed_attempt_not_a_crash(outbox: Outbox) -> None:
    outbox.enqueue("k1", "c", ["x"], MSG)
    outbox.enqueue("k2", "d", ["y"], MSG)

    def buggy(channel: str, recipients: Sequence[str], message: Message) -> None:
        if channel == "c":
            raise KeyError("oops")

    results = outbox.flush(T0, buggy)
    assert [(r.key, r.ok) for r in results] == [("k1", False), ("k2", True)]
    assert results[0].error == "'oops'"


def test_naive_now_is_refused(outbox: Outbox) -> None:
    with pytest.raises(ValueError):
        outbox.flush(dt.datetime(2026, 11, 23, 10, 0), Recorder())


def _flush_in_child(directory: str, started: Any, release: Any) -> None:
    def slow(channel: str, recipients: Sequence[str], message: Message) -> None:
        started.set()
        release.wait(10)

    Outbox(Path(directory)).flush(T0, slow)


def test_concurrent_flush_leaves_work_to_the_lock_holder(outbox: Outbox) -> None:
    outbox.enqueue("k1", "c", ["x"], MSG)
    ctx = multiprocessing.get_context("spawn")
    started, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_flush_in_child, args=(str(outbox.directory), started, release))
    child.start()
    try:
        assert started.wait(20)
        send = Recorder()
        assert outbox.flush(T0, send) == []
        assert send.calls == []
    finally:
        release.set()
        child.join(20)
    assert child.exitcode == 0
    assert outbox.is_delivered("k1")


# --- rate limiting -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_sliding_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"bot": 2}, clock=clock)
    assert [limiter.try_acquire("bot") for _ in range(3)] == [True, True, False]
    assert limiter.try_acquire("mail")  # unlimited channel
    clock.now += 59.9
    assert not limiter.try_acquire("bot")
    clock.now += 0.1
    assert limiter.try_acquire("bot")


def test_rate_limit_defers_the_21st_robot_message(
    outbox: Outbox, robot_server: RobotServer
) -> None:
    config = {"channels": robot_server.channels()}
    for i in range(21):  # different people each: the same people's would be one digest
        outbox.enqueue(f"INC-{i}/escalation/0h/pm@ops-wecom", "ops-wecom", [f"值班{i}"], MSG)
    clock = FakeClock()
    sender = make_sender(config, robot_server.env())
    limiter = RateLimiter(sender.rate_limits, clock=clock)
    results = outbox.flush(T0, sender, limiter=limiter)

    assert [r.ok for r in results] == [True] * 20 + [False]
    last = results[-1]
    assert last.deferred and last.attempts == 0 and "rate limit" in (last.error or "")
    assert len(robot_server.delivered("wecom")) == 20
    assert [i.key for i in outbox.pending()] == ["INC-20/escalation/0h/pm@ops-wecom"]

    clock.now += 60  # a minute later (or the next cron run) it goes out
    [late] = outbox.flush(T0 + dt.timedelta(minutes=1), sender, limiter=limiter)
    assert late.ok and late.attempts == 1
    assert len(robot_server.delivered("wecom")) == 21


def test_default_limiter_comes_from_sender(outbox: Outbox, robot_server: RobotServer) -> None:
    config = {"channels": robot_server.channels(rate_limit=2)}
    for i in range(3):
        outbox.enqueue(f"k{i}", "ops-ding", [f"值班{i}"], MSG)
    results = outbox.flush(T0, make_sender(config, robot_server.env()))
    assert [r.deferred for r in results] == [False, False, True]


# --- with real servers: failure, retry, exactly once -------------------------------------


def test_failing_robot_is_retried_later_and_delivered_once(
    outbox: Outbox, robot_server: RobotServer
) -> None:
    config = {"channels": robot_server.channels()}
    sender = make_sender(config, robot_server.env())
    outbox.enqueue("INC-1/escalation/30m/management@ops-ding", "ops-ding", ["钱七"], MSG)
    robot_server.fail_next(1, "errcode")

    [first] = outbox.flush(T0, sender)
    assert not first.ok and "errcode 310000" in (first.error or "")
    assert len(robot_server.received("dingtalk")) == 1

    assert outbox.flush(T0 + dt.timedelta(seconds=30), sender) == []  # before the retry time
    assert len(robot_server.received("dingtalk")) == 1

    [second] = outbox.flush(T0 + dt.timedelta(minutes=1), sender)
    assert second.ok and second.attempts == 2
    for later in (5, 60, 600):
        assert outbox.flush(T0 + dt.timedelta(minutes=later), sender) == []
    assert len(robot_server.received("dingtalk")) == 2
    assert len(robot_server.delivered("dingtalk")) == 1


def test_missing_env_var_is_reported_and_retried(outbox: Outbox, robot_server: RobotServer) -> None:
    config = {"channels": robot_server.channels()}
    outbox.enqueue("k", "ops-feishu", ["钱七"], MSG)
    env = robot_server.env()
    del env["FEISHU_WEBHOOK"]
    [bad] = outbox.flush(T0, make_sender(config, env))
    assert bad.error == "channels.ops-feishu.url: environment variable FEISHU_WEBHOOK is not set"
    [good] = outbox.flush(T0 + dt.timedelta(minutes=1), make_sender(config, robot_server.env()))
    assert good.ok


# --- planning ---------------------------------------------------------------------------------

CONFIG: dict[str, Any] = {
    "roles": {"pm": ["赵六"], "management": ["钱七", "孙八"], "l1": ["李四"], "vendor": []},
    "people": {
        "赵六": {"email": "zhaoliu@example.com", "phone": "13900000000", "channels": ["ops-wecom"]},
        "钱七": {"email": "qianqi@example.com", "channels": ["ops-wecom", "pager", "mail"]},
        "孙八": {"channels": ["ops-ding"]},
        "李四": {"email": "lisi@example.com"},
    },
    "channels": {
        "mail": {"type": "smtp", "host": "h", "from": "desk@example.com"},
        "ops-wecom": {"type": "wecom", "url": "${W}"},
        "ops-ding": {"type": "dingtalk", "url": "${D}", "kinds": ["sla_breach"]},
        "pager": {"type": "command", "argv": ["/bin/page"]},
    },
}


@pytest.mark.parametrize(
    ("roles", "kind", "plan"),
    [
        (["pm"], "escalation", [("mail", ("zhaoliu@example.com",)), ("ops-wecom", ("赵六",))]),
        (
            ["pm", "management"],
            "escalation",
            [
                ("mail", ("zhaoliu@example.com", "qianqi@example.com")),
                ("ops-wecom", ("赵六", "钱七")),
                ("pager", ("钱七",)),
            ],
        ),
        (
            ["management"],
            "sla_breach",
            [
                ("mail", ("qianqi@example.com",)),
                ("ops-wecom", ("钱七",)),
                ("pager", ("钱七",)),
                ("ops-ding", ("孙八",)),
            ],
        ),
        (["l1", "l1"], "escalation", [("mail", ("lisi@example.com",))]),
        (["vendor", "nobody"], "escalation", []),
    ],
)
def test_plan_deliveries(
    roles: list[str], kind: str, plan: list[tuple[str, tuple[str, ...]]]
) -> None:
    message = Message(ticket="INC-1", title="t", priority="P1", kind=kind)  # type: ignore[arg-type]
    got = plan_deliveries(CONFIG, roles, message)
    assert got == [Delivery(c, r) for c, r in plan]
    assert all(isinstance(d, tuple) for d in got)  # (channel_name, recipients)


def test_plan_smtp_to_overrides_addresses() -> None:
    config = {
        **CONFIG,
        "channels": {
            **CONFIG["channels"],
            "mail": {
                "type": "smtp",
                "host": "h",
                "from": "desk@example.com",
                "to": ["ops@example.com"],
            },
        },
    }
    plan = plan_deliveries(config, ["pm", "management"], MSG)
    assert plan[0] == Delivery("mail", ("ops@example.com",))


def test_plan_extra_people() -> None:
    assert plan_deliveries(CONFIG, [], MSG, people=["李四"]) == [
        Delivery("mail", ("lisi@example.com",))
    ]


def test_queue_notifications_end_to_end(
    outbox: Outbox, robot_server: RobotServer, smtp_server: SmtpServer
) -> None:
    """What `check` does: plan+queue every run, flush; each person hears once."""
    config = {
        "roles": {"management": ["钱七", "孙八"]},
        "people": {
            "钱七": {
                "email": "qianqi@example.com",
                "phone": "13900000001",
                "channels": ["ops-wecom", "ops-feishu"],
            },
            "孙八": {"email": "sunba@example.com", "channels": ["ops-wecom"]},
        },
        "channels": {"mail": smtp_server.channel(), **robot_server.channels()},
    }
    sender = make_sender(config, robot_server.env())
    event = "INC-261123-7KQ2/escalation/30m/management"
    for run in range(3):  # three cron runs see the same due escalation
        plan = queue_notifications(outbox, config, ["management"], MSG, event)
        outbox.flush(T0 + dt.timedelta(minutes=5 * run), sender)
    assert plan == [
        Delivery("mail", ("qianqi@example.com", "sunba@example.com")),
        Delivery("ops-wecom", ("钱七", "孙八")),
        Delivery("ops-feishu", ("钱七",)),
    ]
    [mail] = smtp_server.mails
    assert sorted(mail.rcpt_tos) == ["qianqi@example.com", "sunba@example.com"]
    assert "报告人: 张三 / 财务部" in mail.body
    assert len(robot_server.delivered("wecom")) == 1
    assert len(robot_server.delivered("feishu")) == 1
    assert outbox.is_delivered(delivery_key(event, "ops-feishu"))
    for req in robot_server.received():
        assert "13900000001" not in req.text and "张三" not in req.text


def test_unreadable_item_is_moved_aside_not_blocking(outbox: Outbox) -> None:
    outbox.enqueue("k1", "c", ["x"], MSG)
    (outbox.directory / "pending" / "torn.json").write_text('{"key": "k', encoding="utf-8")
    send = Recorder()
    results = outbox.flush(T0, send)
    assert [(r.ok, r.gave_up) for r in results] == [(False, True), (True, False)]
    assert "unreadable outbox item moved to" in (results[0].error or "")
    assert (outbox.directory / "failed" / "torn.corrupt").exists()
    assert outbox.flush(T0, send) == []
