"""A durable outbox: notifications survive crashes and outages, and go out once.

Layout under the outbox directory (``<repo>/.git/elinkctl/outbox``: local to one
clone, never committed)::

    pending/<h>.json     queued items, rewritten after each failed attempt
    delivered/<h>.json   one marker per delivered key (the "never twice" log)
    failed/<h>.json      items given up on after ``give_up_after``
    .lock                held while flushing

``<h>`` is a hash of the caller's key, so any string is a safe key. Every file is
written atomically (temporary file, fsync, rename, fsync of the directory).

Guarantee: **at least once**. A flush sends an item, then writes its delivered
marker, then removes the pending file. A crash after the send and before the
marker means the next flush sends it again, once; a crash after the marker only
leaves a pending file that the next flush discards. Keys that are pending,
delivered or failed are never queued again, so ``check`` may enqueue the same
escalation on every run without spamming anyone.

Failed attempts back off exponentially (1m, 2m, 4m … capped at 1h) measured on
the ``now`` the caller passes (replays and tests never sleep). An item still
failing ``give_up_after`` (default 2 days) after its first attempt moves to
``failed/`` and is reported once with ``gave_up``: by then the news is stale and
retrying hourly forever would only hide the outage. Robots accept
about 20 messages a minute: a per-channel ``RateLimiter`` (monotonic clock,
injectable) defers the excess to a later flush instead of dropping it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from elinkctl.fsio import file_mode
from elinkctl.notify.entry import OutboxEntry
from elinkctl.notify.message import Message, digest
from elinkctl.notify.records import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    DeliveryResult,
    OutboxItem,
    RateLimiter,
    backoff,
)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "GIVE_UP_AFTER",
    "DeliveryResult",
    "Outbox",
    "OutboxItem",
    "RateLimiter",
    "backoff",
    "delivery_key",
]

Sender = Callable[[str, Sequence[str], Message], None]
"""Performs one delivery or raises (normally ``DeliveryError``)."""
Committed = Callable[[Mapping[str, str]], "bool | None"]
"""Whether the event ``{ticket, id}`` an item announces is committed (see `Outbox.flush`)."""
Moot = Callable[[OutboxItem], bool]
"""Whether an item's question is already answered (see `Outbox.flush`)."""

GIVE_UP_AFTER = dt.timedelta(days=2)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` so that readers see the old file or the new one, never a torn one."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())  # not mkstemp's 0o600: a shared store's users read it
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


class Outbox:
    """The queue of notifications of one store clone. See the module docstring."""

    def __init__(self, directory: Path, *, give_up_after: dt.timedelta = GIVE_UP_AFTER) -> None:
        self.directory = Path(directory)
        self.give_up_after = give_up_after
        self._pending = self.directory / "pending"
        self._delivered = self.directory / "delivered"
        self._failed = self.directory / "failed"

    # --- paths and state ----------------------------------------------------

    @staticmethod
    def _name(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40] + ".json"

    def _ensure(self) -> None:
        for sub in (self._pending, self._delivered, self._failed):
            sub.mkdir(parents=True, exist_ok=True)

    def is_delivered(self, key: str) -> bool:
        """True once ``key`` was sent successfully (it will never be sent again)."""
        return (self._delivered / self._name(key)).exists()

    def is_known(self, key: str) -> bool:
        """True when ``key`` is pending, delivered or given up on."""
        name = self._name(key)
        return any((d / name).exists() for d in (self._pending, self._delivered, self._failed))

    def pending(self) -> list[OutboxItem]:
        """Queued items, oldest first (unreadable files are left to ``flush``)."""
        return self._read_pending()[0]

    def _read_pending(self) -> tuple[list[OutboxItem], list[Path]]:
        """The queued items, oldest first, and the files that could not be read."""
        items: list[OutboxItem] = []
        corrupt: list[Path] = []
        if not self._pending.is_dir():
            return [], []
        for path in self._pending.glob("*.json"):
            try:
                items.append(OutboxItem.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except FileNotFoundError:
                continue  # delivered by a concurrent flush in the meantime
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                corrupt.append(path)
        items.sort(key=lambda i: (i.seq, i.key))
        return items, sorted(corrupt)

    def _quarantine(self, path: Path) -> DeliveryResult:
        """Move an unreadable pending file aside so it cannot block every later flush."""
        target = self._failed / (path.stem + ".corrupt")
        os.replace(path, target)
        return DeliveryResult(
            channel="?",
            recipients=(),
            ticket="?",
            key=path.stem,
            ok=False,
            error=f"unreadable outbox item moved to {target}",
            attempts=0,
            gave_up=True,
        )

    # --- queueing -------------------------------------------------------------

    def enqueue(
        self,
        key: str,
        channel: str,
        recipients: Sequence[str],
        message: Message,
        *,
        now: dt.datetime | None = None,
        not_before: dt.datetime | None = None,
        event: Mapping[str, str] | None = None,
    ) -> bool:
        """Queue one delivery unless ``key`` was ever queued; True when newly queued.

        ``key`` identifies the delivery, not just the event: use
        ``delivery_key(event_key, channel)`` so that one escalation reaching mail
        and two robots is three keys. ``now`` only records when it was queued;
        the item is due at once.
        """
        self._ensure()
        if self.is_known(key):
            return False
        when = now or dt.datetime.now(dt.UTC)
        item = OutboxItem(
            key=key,
            channel=channel,
            recipients=tuple(recipients),
            message=message,
            enqueued_at=when.isoformat(),
            seq=time.time_ns(),
            not_before=not_before.isoformat() if not_before else None,
            event=dict(event) if event else None,
        )
        atomic_write_json(self._pending / self._name(key), item.to_dict())
        return True

    def forget(self, keys: Sequence[str]) -> None:
        """Remove pending items that were queued for a change that was not
        committed (the command failed), so that nothing announces it and the
        same keys can be queued again by a later attempt."""
        for key in keys:
            (self._pending / self._name(key)).unlink(missing_ok=True)

    # --- delivery -------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        self._ensure()
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o666)  # umask decides
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    yield False
                    return
                raise
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def flush(
        self,
        now: dt.datetime,
        sender: Sender,
        *,
        limiter: RateLimiter | None = None,
        committed: Committed | None = None,
        moot: Moot | None = None,
    ) -> list[DeliveryResult]:
        """Try every due item once; return what happened, in queue order.

        Due items for the same channel and recipients go out as one message
        (`digest`). ``committed`` tells whether an item's event is in its
        ticket (True), never will be (False: the item is dropped) or may
        still be (None: it waits).
        ``moot`` tells whether a committed item asks the reporter something
        the ticket already answers (a "please confirm" mail when the incident
        was confirmed or closed before this flush): such an item is removed
        unsent, silently — nothing failed, and nobody needs it.

        Items in back-off (``next_attempt`` after ``now``) are skipped silently.
        Rate-limited items are reported with ``deferred=True`` and stay queued.
        Without a ``limiter``, one is built from ``sender.rate_limits`` when the
        sender has them (``make_sender`` does). If another process is flushing
        the same outbox, this returns ``[]`` and leaves the work to it.

        ``now`` must be aware. Any exception from ``sender`` counts as a failed
        attempt (a bug in one channel must not stop the others); its text is the
        reported error.
        """
        if now.tzinfo is None:
            raise ValueError("Outbox.flush needs an aware datetime")
        if limiter is None:
            limiter = RateLimiter(getattr(sender, "rate_limits", {}) or {})
        results: list[DeliveryResult] = []
        with self._locked() as acquired:
            if not acquired:
                return []
            items, corrupt = self._read_pending()
            results.extend(self._quarantine(path) for path in corrupt)
            for group in self._groups(items, now, committed, results, moot):
                results.extend(self._attempt_group(group, now, sender, limiter))
        return results

    def _groups(
        self,
        items: Sequence[OutboxItem],
        now: dt.datetime,
        committed: Committed | None,
        results: list[DeliveryResult],
        moot: Moot | None = None,
    ) -> list[list[OutboxItem]]:
        """The due items, batched: items for the same channel and recipients
        become one send (one mail, one robot post), in queue order. An item
        with its own Message-ID (a mail the reporter may answer) goes alone.
        Items held (back-off, quiet hours) or whose event is not committed
        yet wait; those whose event will never be committed are dropped."""
        groups: dict[tuple[str, tuple[str, ...]], list[OutboxItem]] = {}
        single: list[list[OutboxItem]] = []
        for item in items:
            name = self._name(item.key)
            if (self._delivered / name).exists():
                (self._pending / name).unlink(missing_ok=True)
                continue
            if item.next_attempt and dt.datetime.fromisoformat(item.next_attempt) > now:
                continue
            if item.not_before and dt.datetime.fromisoformat(item.not_before) > now:
                continue
            if item.event and committed is not None:
                state = committed(item.event)
                if state is None:
                    continue  # its command is still running
                if state is False:
                    (self._pending / name).unlink(missing_ok=True)
                    results.append(
                        DeliveryResult(
                            channel=item.channel,
                            recipients=item.recipients,
                            ticket=item.message.ticket,
                            key=item.key,
                            ok=False,
                            error="not sent: its event was never committed (the command failed)",
                            attempts=item.attempts,
                            gave_up=True,
                        )
                    )
                    continue
            if moot is not None and moot(item):
                (self._pending / name).unlink(missing_ok=True)
                continue
            if item.message.mail_id:
                single.append([item])
            else:
                groups.setdefault((item.channel, item.recipients), []).append(item)
        ordered = [*groups.values(), *single]
        ordered.sort(key=lambda g: (g[0].seq, g[0].key))
        return ordered

    def _attempt_group(
        self, group: list[OutboxItem], now: dt.datetime, sender: Sender, limiter: RateLimiter
    ) -> list[DeliveryResult]:
        """One send for ``group`` (a digest when it holds several items)."""
        if len(group) == 1:
            one = self._attempt(group[0], now, sender, limiter)
            return [] if one is None else [one]
        first = group[0]
        if not limiter.try_acquire(first.channel):
            return [
                self._result(i, False, "rate limit reached; kept for the next run", deferred=True)
                for i in group
            ]
        message = digest([i.message for i in group], first.recipients)
        error: str | None = None
        try:
            sender(first.channel, first.recipients, message)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, see flush()
            error = str(exc) or type(exc).__name__
        return [self._settle(i, now, error) for i in group]

    def _result(
        self, item: OutboxItem, ok: bool, error: str | None, **extra: Any
    ) -> DeliveryResult:
        return DeliveryResult(
            channel=item.channel,
            recipients=item.recipients,
            ticket=item.message.ticket,
            key=item.key,
            ok=ok,
            error=error,
            attempts=item.attempts,
            **extra,
        )

    def _settle(self, item: OutboxItem, now: dt.datetime, error: str | None) -> DeliveryResult:
        """Record one attempt of ``item``: delivered, backed off or given up."""
        name = self._name(item.key)
        pending_path = self._pending / name
        item.attempts += 1
        if item.first_attempt is None:
            item.first_attempt = now.isoformat()
        if error is not None:
            first = _parse_time(item.first_attempt)
            item.last_error = error
            if first is not None and now - first >= self.give_up_after:
                atomic_write_json(self._failed / name, item.to_dict())
                pending_path.unlink(missing_ok=True)
                return self._result(
                    item, False, f"gave up after {item.attempts} attempts: {error}", gave_up=True
                )
            item.next_attempt = (now + backoff(item.attempts)).isoformat()
            atomic_write_json(pending_path, item.to_dict())
            return self._result(item, False, error, next_attempt=item.next_attempt)
        record = item.to_dict()
        record["delivered_at"] = now.isoformat()
        atomic_write_json(self._delivered / name, record)
        pending_path.unlink(missing_ok=True)
        _fsync_dir(self._pending)
        return self._result(item, True, None)

    def _attempt(
        self, item: OutboxItem, now: dt.datetime, sender: Sender, limiter: RateLimiter
    ) -> DeliveryResult | None:
        name = self._name(item.key)
        if (self._delivered / name).exists():
            # Crashed after recording delivery, before removing the pending file.
            (self._pending / name).unlink(missing_ok=True)
            return None
        if item.next_attempt and dt.datetime.fromisoformat(item.next_attempt) > now:
            return None
        if not limiter.try_acquire(item.channel):
            return self._result(
                item, False, "rate limit reached; kept for the next run", deferred=True
            )
        error: str | None = None
        try:
            sender(item.channel, item.recipients, item.message)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, see flush()
            error = str(exc) or type(exc).__name__
        return self._settle(item, now, error)

    # --- looking in and intervening (`elinkctl outbox`) -------------------------

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            OutboxItem.from_dict(data)  # the shape is checked once, here
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # gone meanwhile, or unreadable (flush quarantines those)
        return data if isinstance(data, dict) else None

    def entries(self, delivered_since: dt.datetime | None = None) -> list[OutboxEntry]:
        """Pending and failed items (they need a person), and the settled ones —
        delivered or dropped — since ``delivered_since`` (all when None)."""
        found: list[OutboxEntry] = []
        for state, folder in (
            ("pending", self._pending),
            ("failed", self._failed),
            ("delivered", self._delivered),
        ):
            if not folder.is_dir():
                continue
            for path in folder.glob("*.json"):
                data = self._read(path)
                if data is None:
                    continue
                entry = OutboxEntry.from_record(state, data)
                settled = entry.dropped or state == "delivered"
                if settled and delivered_since is not None:
                    when = _parse_time(entry.when)
                    if when is None or when < delivered_since:
                        continue
                found.append(entry)
        order = {"pending": 0, "failed": 1, "delivered": 2}
        found.sort(key=lambda e: (order[e.state], e.seq, e.key))
        return found

    def state_of(self, key: str) -> str | None:
        """``pending``, ``failed``, ``dropped``, ``delivered`` or None for an unknown key."""
        name = self._name(key)
        if (self._delivered / name).exists():
            return "delivered"
        if (self._pending / name).exists():
            return "pending"
        if (self._failed / name).exists():
            data = self._read(self._failed / name)
            return "dropped" if data is not None and data.get("dropped") else "failed"
        return None

    def retry(
        self,
        now: dt.datetime,
        sender: Sender,
        *,
        key: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> list[DeliveryResult] | None:
        """Send now, ignoring back-off, every pending and failed item (or only ``key``).

        A failed item gets one attempt: failing again, it returns to ``failed/``
        (its first attempt is long past ``give_up_after``). Dropped items are not
        sent, delivered ones never again. None while another process flushes.
        Without ``key`` it sends as `flush` does: what is due for the same
        channel and recipients as one message, and a robot post held for
        quiet hours (``not_before``) still waits; ``key`` sends that one item.
        """
        if now.tzinfo is None:
            raise ValueError("Outbox.retry needs an aware datetime")
        if limiter is None:
            limiter = RateLimiter(getattr(sender, "rate_limits", {}) or {})
        names = None if key is None else {self._name(key)}
        with self._locked() as acquired:
            if not acquired:
                return None
            for path in sorted(self._failed.glob("*.json")):
                if names is not None and path.name not in names:
                    continue
                data = self._read(path)
                if data is None or data.get("dropped"):
                    continue
                data["next_attempt"] = None
                atomic_write_json(self._pending / path.name, data)
                path.unlink(missing_ok=True)
            results: list[DeliveryResult] = []
            items = self._read_pending()[0]
            if names is None:
                for item in items:
                    item.next_attempt = None
                for group in self._groups(items, now, None, results):
                    results.extend(self._attempt_group(group, now, sender, limiter))
                return results
            for item in items:
                if self._name(item.key) not in names:
                    continue
                item.next_attempt = None
                result = self._attempt(item, now, sender, limiter)
                if result is not None:
                    results.append(result)
        return results

    def settled(self) -> list[tuple[str, dict[str, Any]]]:
        """(state, record) of every delivered and failed item: what a bounce may name."""
        found: list[tuple[str, dict[str, Any]]] = []
        for state, folder in (("delivered", self._delivered), ("failed", self._failed)):
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                data = self._read(path)
                if data is not None:
                    found.append((state, data))
        return found

    def bounced(self, key: str, error: str, detail: Mapping[str, str], now: dt.datetime) -> bool:
        """A delivered item came back as a bounce: it moves to ``failed/`` with
        ``last_error`` ``error`` and the bounce's ``detail``, so `outbox list`
        shows it to a person and `retry`/`drop` work on it. False when it is
        not delivered (any more) or the outbox is busy (the caller says so)."""
        name = self._name(key)
        with self._locked() as acquired:
            data = self._read(self._delivered / name) if acquired else None
            if data is None:
                return False
            data.update(last_error=error, next_attempt=None)
            data["bounced"] = {"at": now.isoformat(), **detail}
            atomic_write_json(self._failed / name, data)
            (self._delivered / name).unlink(missing_ok=True)
            _fsync_dir(self._delivered)
            return True

    def drop(self, key: str, reason: str, actor: str, now: dt.datetime) -> str | None:
        """Give up on a pending or failed item for good; returns the state it had.

        It moves to ``failed/`` marked ``dropped`` (who, when, why; ``last_error``
        says so): the key stays known, so nothing queues it again. Other states
        are returned untouched; None for an unknown key or a busy outbox.
        """
        name = self._name(key)
        with self._locked() as acquired:
            if not acquired:
                return None
            state = self.state_of(key)
            if state not in ("pending", "failed"):
                return state
            source = (self._pending if state == "pending" else self._failed) / name
            data = self._read(source)
            if data is None:
                return None
            data["dropped"] = {"at": now.isoformat(), "by": actor, "reason": reason}
            data["last_error"] = f"dropped: {reason} (by {actor})"
            data["next_attempt"] = None
            atomic_write_json(self._failed / name, data)
            if source != self._failed / name:
                source.unlink(missing_ok=True)
                _fsync_dir(self._pending)
            return state


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def delivery_key(event_key: str, channel: str) -> str:
    """The outbox key for one event on one channel, e.g. ``INC-1/escalation/30m/pm@mail``."""
    return f"{event_key}@{channel}"
