"""The records of the outbox: a queued item, the result of one attempt, the
back-off between attempts and the robots' rate limit (`elinkctl.notify.outbox`
keeps them on disk and sends them)."""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from elinkctl.notify.message import Message

BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=1)
_SCHEMA = 1


def backoff(attempts: int) -> dt.timedelta:
    """Delay after the ``attempts``-th consecutive failure: 1m, 2m, 4m, … at most 1h."""
    if attempts < 1:
        return dt.timedelta(0)
    # Cap the exponent first so a long outage cannot overflow timedelta.
    return min(BACKOFF_BASE * (1 << min(attempts - 1, 16)), BACKOFF_CAP)


class RateLimiter:
    """At most ``limits[channel]`` sends per ``window`` seconds, per channel.

    Sliding window over a monotonic clock (wall-clock jumps must not unblock a
    robot early). Channels without a limit are unlimited. The state lives in
    memory, which is enough because one flush is one process; a cron interval is
    longer than the window.
    """

    def __init__(
        self,
        limits: Mapping[str, int],
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(limits)
        self.window = window
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}

    def try_acquire(self, channel: str) -> bool:
        """Count one send on ``channel`` if allowed now; False means defer it."""
        limit = self.limits.get(channel)
        if limit is None:
            return True
        now = self.clock()
        sent = self._sent.setdefault(channel, deque())
        while sent and now - sent[0] >= self.window:
            sent.popleft()
        if len(sent) >= limit:
            return False
        sent.append(now)
        return True


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one outbox item in one flush.

    ``deferred`` items were not attempted (rate limit) and stay queued;
    ``gave_up`` items failed for longer than ``give_up_after`` and were moved to
    ``failed/``. ``to_dict`` is the shape of ``check --json`` ``notifications``.
    """

    channel: str
    recipients: tuple[str, ...]
    ticket: str
    key: str
    ok: bool
    error: str | None
    attempts: int
    deferred: bool = False
    gave_up: bool = False
    next_attempt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, recipients as a list."""
        return {
            "channel": self.channel,
            "recipients": list(self.recipients),
            "ticket": self.ticket,
            "key": self.key,
            "ok": self.ok,
            "error": self.error,
            "attempts": self.attempts,
            "deferred": self.deferred,
            "gave_up": self.gave_up,
            "next_attempt": self.next_attempt,
        }


@dataclass
class OutboxItem:
    """One queued delivery as stored in ``pending/``."""

    key: str
    channel: str
    recipients: tuple[str, ...]
    message: Message
    enqueued_at: str
    seq: int
    attempts: int = 0
    next_attempt: str | None = None
    last_error: str | None = None
    first_attempt: str | None = None
    not_before: str | None = None
    """Held until then (a robot's quiet hours); `retry` ignores it like back-off."""
    event: dict[str, str] | None = None
    """``{ticket, id}`` of the event that caused it: `flush` sends it only once
    that event is in the ticket (a failed command's notice is dropped)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON document on disk."""
        return {
            "schema": _SCHEMA,
            "key": self.key,
            "channel": self.channel,
            "recipients": list(self.recipients),
            "message": self.message.to_dict(),
            "enqueued_at": self.enqueued_at,
            "seq": self.seq,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt,
            "last_error": self.last_error,
            "first_attempt": self.first_attempt,
            "not_before": self.not_before,
            "event": self.event,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutboxItem:
        """Inverse of ``to_dict``."""
        return cls(
            key=str(data["key"]),
            channel=str(data["channel"]),
            recipients=tuple(str(r) for r in data["recipients"]),
            message=Message.from_dict(data["message"]),
            enqueued_at=str(data.get("enqueued_at", "")),
            seq=int(data.get("seq", 0)),
            attempts=int(data.get("attempts", 0)),
            next_attempt=data.get("next_attempt"),
            last_error=data.get("last_error"),
            first_attempt=data.get("first_attempt"),
            not_before=data.get("not_before"),
            event=dict(data["event"]) if isinstance(data.get("event"), Mapping) else None,
        )


def delivery_notes(results: Sequence[Any]) -> list[str]:
    """What the desk hears about deliveries made inside a command (`new`,
    `resolve`, `progress`, a P1's step); a failure stays in the outbox for
    `check`. One wording for every caller (the services share it)."""
    notes = []
    for r in results:
        if r.ok:
            notes.append(f"notified via {r.channel}: {', '.join(r.recipients)}")
        elif r.deferred:
            notes.append(
                f"notification via {r.channel} deferred (rate limit); `elinkctl check` sends it"
            )
        else:
            notes.append(
                f"notification via {r.channel} failed: {r.error}; kept in the "
                "outbox, `elinkctl check` retries it"
            )
    return notes
