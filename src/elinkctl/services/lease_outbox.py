"""The outbox snapshot that travels with the check lease (`elinkctl.services.lease`).

Every lease write carries ``outbox.json``: the keys the holder delivered in
the last days and the items still pending there. A host taking the lease
imports it before it runs, so a notice is neither lost with a dead holder
nor sent twice by its taker. A snapshot is pushed by anyone with push
rights, so an import only queues what this desk's own rules could have
sent: channels and recipients of ``people:``, or a ticket's own reporter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from elinkctl.errors import ElinkError
from elinkctl.fsio import atomic_write_json
from elinkctl.store.store import Store
from elinkctl.timeutil import as_time, iso

if TYPE_CHECKING:
    from elinkctl.notify import Outbox

DELIVERED_KEPT = dt.timedelta(days=7)
"""Delivered keys travel with the lease this long: longer than the outbox
gives up on an item (2 days), so no queued copy of one can outlive it."""
MAX_DELIVERED = 10_000
MAX_PENDING = 2_000


def snapshot_of(
    outbox: Outbox, previous: Mapping[str, Any], results: Iterable[Any], now: dt.datetime
) -> dict[str, Any]:
    """The previous snapshot's delivered keys (those still recent) and
    pending items not settled here, plus this clone's pending items and
    this run's deliveries."""
    cutoff = now - DELIVERED_KEPT
    delivered: dict[str, dict[str, str]] = {}
    for rec in _records(previous.get("delivered")):
        key, at = rec.get("key"), as_time(rec.get("at"))
        if isinstance(key, str) and at is not None and at >= cutoff:
            delivered[key] = {k: str(rec.get(k) or "") for k in ("key", "channel", "ticket")}
            delivered[key]["at"] = iso(at)
    for r in results:
        if getattr(r, "ok", False):
            delivered[r.key] = {
                "key": r.key,
                "channel": r.channel,
                "ticket": r.ticket,
                "at": iso(now),
            }
    newest = sorted(delivered.values(), key=lambda d: d["at"], reverse=True)[:MAX_DELIVERED]
    pending: dict[str, dict[str, Any]] = {}
    for item in outbox.pending():
        if item.key not in delivered:
            pending[item.key] = _portable(item.to_dict())
    for rec in _records(previous.get("pending")):
        key = rec.get("key")
        if isinstance(key, str) and key not in delivered and key not in pending:
            if not outbox.is_known(key):  # delivered or given up here: settled
                pending[key] = _portable(rec)
    return {
        "schema": 1,
        "delivered": sorted(newest, key=lambda d: d["key"]),
        "pending": list(pending.values())[:MAX_PENDING],
    }


def import_snapshot(
    store: Store, outbox: Outbox, snapshot: Mapping[str, Any], now: dt.datetime, warnings: list[str]
) -> int:
    """Delivered keys → delivered markers here; pending items → queued here."""
    from elinkctl.notify import Message, Outbox

    count = 0
    delivered_dir = outbox.directory / "delivered"
    for rec in _records(snapshot.get("delivered")):
        key = rec.get("key")
        if not isinstance(key, str) or not key or outbox.is_delivered(key):
            continue
        delivered_dir.mkdir(parents=True, exist_ok=True)
        # The outbox's documented layout: delivered/<hash of key>.json marks
        # a key never to be sent again (Outbox.is_known reads only presence).
        marker = {**{k: str(v) for k, v in rec.items()}, "imported_by_lease": True}
        # Not fsynced one by one (thousands on a takeover): a marker lost to
        # a power cut costs at most one repeat, which at-least-once allows.
        atomic_write_json(delivered_dir / Outbox._name(key), marker, durable=False)
        count += 1
    allowed = _known_recipients(store.config.escalation.data)
    refused = 0
    for rec in _records(snapshot.get("pending")):
        key, channel, recipients = rec.get("key"), rec.get("channel"), rec.get("recipients")
        if not (isinstance(key, str) and isinstance(channel, str) and key):
            continue
        if outbox.is_known(key):
            continue
        event = rec.get("event")
        if not isinstance(event, Mapping) or not all(isinstance(v, str) for v in event.values()):
            event = None
        if not isinstance(recipients, list) or not (
            (
                channel in allowed
                and all(isinstance(r, str) and r in allowed[channel] for r in recipients)
            )
            or _reporter_mail(store, event, recipients)
        ):
            refused += 1  # only what this desk's own rules could have sent
            continue
        try:
            message = Message.from_dict(rec["message"])
            message.to_dict()
            not_before = as_time(rec["not_before"]) if rec.get("not_before") else None
        except (KeyError, TypeError, ValueError, AttributeError):
            refused += 1
            continue
        if outbox.enqueue(
            key,
            channel,
            recipients,
            message,
            now=now,
            not_before=not_before,
            event=event,
        ):
            count += 1
    if refused:
        warnings.append(
            f"check lease: {refused} pending notice(s) of the previous holder not imported "
            "(channel or recipient unknown to escalation.yaml here)"
        )
    return count


def _reporter_mail(
    store: Store, event: Mapping[str, str] | None, recipients: Sequence[Any]
) -> bool:
    """True when ``recipients`` is exactly the reporter's address of the
    ticket the item's event names: the one recipient outside ``people:``
    that this desk's own notices write to (checked against the pulled
    ticket, so a pushed snapshot cannot mail anyone else)."""
    from elinkctl.services.notices import reporter_address

    ticket_id = event.get("ticket") if event else None
    if not ticket_id or len(recipients) != 1:
        return False
    try:
        ticket = store.load(ticket_id)
    except (ElinkError, OSError, ValueError):
        return False
    address = reporter_address(ticket, store.config.escalation.data)
    return bool(address) and recipients[0] == address


def _records(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _portable(item: Mapping[str, Any]) -> dict[str, Any]:
    """What a taker needs of a pending item: when it may go (quiet hours) and
    the event it announces (sent only once that event is in the ticket); no
    attempts, errors or back-off (those are this clone's business, and errors
    could name endpoints)."""
    return {
        k: item[k]
        for k in ("key", "channel", "recipients", "message", "enqueued_at", "not_before", "event")
        if k in item and item[k] is not None
    }


def _known_recipients(config: Mapping[str, Any]) -> dict[str, set[str]]:
    """channel → the recipients this desk's rules could address on it."""
    from elinkctl.notify.config import smtp_channels

    people = config.get("people") or {}
    channels = config.get("channels") or {}
    if not isinstance(people, Mapping) or not isinstance(channels, Mapping):
        return {}
    names = {str(p) for p in people}
    emails = {
        str(info["email"])
        for info in people.values()
        if isinstance(info, Mapping) and info.get("email")
    }
    allowed: dict[str, set[str]] = {str(c): set(names) for c in channels}
    for name in smtp_channels(config):
        chan = channels.get(name)
        extra = chan.get("to") if isinstance(chan, Mapping) else None
        allowed[name] = emails | ({str(a) for a in extra} if isinstance(extra, list) else set())
    return allowed
