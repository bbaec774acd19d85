"""One outbox item as ``elinkctl outbox list`` shows it (the ``--json`` shape of DESIGN §8)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutboxEntry:
    """An item of the outbox: ``state`` is pending, failed (given up on, or
    ``dropped`` by a person) or delivered; ``when`` it was delivered or
    dropped, else when it was queued."""

    key: str
    channel: str
    recipients: tuple[str, ...]
    ticket: str
    state: str
    attempts: int
    last_error: str | None
    when: str | None
    seq: int = 0
    dropped: bool = False
    not_before: str | None = None

    @classmethod
    def from_record(cls, state: str, data: Mapping[str, Any]) -> OutboxEntry:
        """The entry of one item file (an ``OutboxItem`` document) of ``state``'s folder."""
        dropped = data.get("dropped")
        if isinstance(dropped, Mapping):
            when = dropped.get("at")
        elif state == "delivered":
            when = data.get("delivered_at")
        else:
            when = data.get("enqueued_at")
        message = data.get("message")
        ticket = message.get("ticket") if isinstance(message, Mapping) else None
        return cls(
            key=str(data["key"]),
            channel=str(data["channel"]),
            recipients=tuple(str(r) for r in data.get("recipients") or ()),
            ticket=str(ticket or ""),
            state=state,
            attempts=int(data.get("attempts") or 0),
            last_error=data.get("last_error"),
            when=str(when) if when else None,
            seq=int(data.get("seq") or 0),
            dropped=bool(dropped),
            not_before=str(data["not_before"]) if data.get("not_before") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{key, channel, recipient, state, attempts, last_error}``; recipients joined by ", ",
        and ``not_before`` (held by quiet hours until then, else null)."""
        return {
            "key": self.key,
            "channel": self.channel,
            "recipient": ", ".join(self.recipients),
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "not_before": self.not_before if self.state == "pending" else None,
        }
