"""`outbox list/retry/drop` and `notify test`: looking into the outbox and intervening.

The outbox (``<state_dir>/outbox``, `elinkctl.notify.outbox`) is what `check`
and the desk commands queue notices in and flush. These use cases let an
admin see it, push it now, give up on an item, and try a channel or a
person's whole route before anything real depends on it.

- ``list``: pending and failed items always (they need a person), delivered
  and dropped ones of the last `RECENT` (settled news).
- ``retry``: one attempt now for what is pending or failed, ignoring
  back-off; a delivered item is never sent again, a dropped one not at all.
- ``drop``: a pending or failed item is given up on for good. It is kept in
  ``failed/`` marked dropped, with ``last_error`` ``dropped: <reason> (by
  <actor>)``, so its key stays known (nothing queues it again) and the list
  shows it as ``failed`` while it is recent.
- ``notify test``: a test message through the real path — the plan for a
  person, the channel's settings and sender — sent at once, not queued: a
  test that failed is reported now and must not be retried by the next
  `check`.

Every error text comes from the channel code, which keeps tokens, secrets
and URL paths out of it (`elinkctl.notify.channels.scrub`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from elinkctl.errors import ElinkError, NotFound, StoreBusy, UsageProblem

if TYPE_CHECKING:
    from elinkctl.ingest.automail import Automatic
    from elinkctl.notify.entry import OutboxEntry
    from elinkctl.notify.outbox import DeliveryResult, Outbox
    from elinkctl.store.store import Store

RECENT = dt.timedelta(days=7)
"""How far back `outbox list` shows delivered and dropped items."""

_BUSY = "the outbox is busy: another elinkctl (check?) is sending; try again in a minute"


def _outbox(store: Store) -> Outbox:
    from elinkctl.notify.outbox import Outbox

    return Outbox(store.state_dir / "outbox")


def _notify_config(store: Store) -> Mapping[str, Any]:
    """escalation.yaml as parsed (roles, people, channels)."""
    return store.config.escalation.data


def list_entries(store: Store, now: dt.datetime) -> list[OutboxEntry]:
    """Pending, failed, and delivered or dropped within `RECENT` of ``now``."""
    return _outbox(store).entries(delivered_since=now - RECENT)


def retry(
    store: Store,
    now: dt.datetime,
    key: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[DeliveryResult]:
    """One attempt now for every pending and failed item, or for ``key``."""
    from elinkctl.notify.channels import make_sender

    outbox = _outbox(store)
    if key is not None:
        _must_be_open(outbox, key, "retry")
    sender = make_sender(_notify_config(store), os.environ if env is None else env)
    results = outbox.retry(now, sender, key=key)
    if results is None:
        raise StoreBusy(_BUSY)
    return results


def drop(store: Store, key: str, reason: str, actor: str, now: dt.datetime) -> str:
    """Give up on a pending or failed item for good; returns the state it had."""
    if not reason.strip():
        raise UsageProblem("--reason must say why the item is dropped")
    outbox = _outbox(store)
    _must_be_open(outbox, key, "drop")
    state = outbox.drop(key, " ".join(reason.split()), actor, now)
    if state is None:
        raise StoreBusy(_BUSY)
    if state not in ("pending", "failed"):
        _must_be_open(outbox, key, "drop")  # changed meanwhile: say how
    return state


def _must_be_open(outbox: Outbox, key: str, verb: str) -> None:
    state = outbox.state_of(key)
    if state is None:
        raise NotFound(f"{key}: no such item in the outbox (see `elinkctl outbox list`)")
    if state == "delivered":
        raise ElinkError(f"{key}: already delivered; nothing to {verb} (never sent twice)")
    if state == "dropped":
        raise ElinkError(f"{key}: already dropped; nothing to {verb}")


# --- notify test ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Probe:
    """What happened to one delivery of a test message."""

    channel: str
    recipients: tuple[str, ...]
    ok: bool
    error: str | None = None


def probe_message(target: str, actor: str, now: dt.datetime) -> Any:
    """The test notice: who sent it, when, and that nothing needs doing."""
    from elinkctl.notify.message import Kind, Message

    return Message(
        ticket="TEST",
        title=f"通知测试 {target}",
        priority="测试",
        kind=Kind.TEST,
        note=(
            f"{actor} 于 {now.strftime('%Y-%m-%d %H:%M')} 发送的测试消息；"
            "收到即说明此通知渠道配置正确，无需处理。"
        ),
        command="elinkctl outbox list",
    )


def plan_test(
    config: Mapping[str, Any], target: str, env: Mapping[str, str]
) -> list[tuple[str, tuple[str, ...]]]:
    """The deliveries of a test to ``target``: a channel name or a person.

    A channel gets one post; a mail channel goes to its ``to:`` list, else to
    its own ``from`` address (never to everyone). A person gets what a real
    notice would bring them: their mail and every channel they list, whatever
    the channels' ``kinds:``.
    """
    from elinkctl.notify.plan import plan_deliveries

    channels = config.get("channels") or {}
    people = config.get("people") or {}
    if isinstance(channels, Mapping) and target in channels:
        chan = channels[target]
        recipients: tuple[str, ...] = ()
        if isinstance(chan, Mapping) and chan.get("type") == "smtp":
            to = chan.get("to") or [_own_address(chan, env)]
            recipients = tuple(str(a) for a in to if a)
        return [(target, recipients)]
    if isinstance(people, Mapping) and target in people:
        plan = plan_deliveries(config, (), None, people=[target])
        if not plan:
            raise ElinkError(
                f"{target}: has no email and no channels: in escalation.yaml, nothing to test"
            )
        return [(d.channel, d.recipients) for d in plan]
    raise NotFound(f"{target}: no such channel or person in escalation.yaml ({_known(config)})")


def _own_address(chan: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The address a mail channel sends from (its ``from``, else its username)."""
    from elinkctl.notify.config import DeliveryError, expand

    try:
        sender = expand(str(chan.get("from") or chan.get("username") or ""), env, "")
    except DeliveryError:
        return ""  # no recipient: the send fails and says so
    return parseaddr(sender)[1]


def _known(config: Mapping[str, Any]) -> str:
    def names(section: str) -> str:
        table = config.get(section) or {}
        found = [str(n) for n in table] if isinstance(table, Mapping) else []
        more = f", … {len(found) - 12} more" if len(found) > 12 else ""
        return ", ".join(found[:12]) + more if found else "none"

    return f"channels: {names('channels')}; people: {names('people')}"


def notify_test(
    store: Store,
    target: str,
    actor: str,
    now: dt.datetime,
    env: Mapping[str, str] | None = None,
) -> list[Probe]:
    """Send a test message to ``target`` at once; one result per delivery."""
    from elinkctl.notify.channels import make_sender

    config = _notify_config(store)
    env = os.environ if env is None else env
    plan = plan_test(config, target, env)
    sender = make_sender(config, env)
    message = probe_message(target, actor, now)
    return [_send(sender, channel, recipients, message) for channel, recipients in plan]


def _send(sender: Any, channel: str, recipients: Sequence[str], message: Any) -> Probe:
    try:
        sender(channel, recipients, message)
    except Exception as exc:  # noqa: BLE001 - one failed channel must not hide the others
        return Probe(channel, tuple(recipients), False, str(exc) or type(exc).__name__)
    return Probe(channel, tuple(recipients), True)


# --- bounces of our notices (`ingest email`) ---------------------------------------


_OUR_STAFF_ID = re.compile(r"\.elinkctl@", re.IGNORECASE)
"""`make_msgid("elinkctl")` — the Message-ID of a notice to staff (notify.channels)."""


def record_bounce(store: Store, bounce: Automatic, subject: str, now: dt.datetime) -> str:
    """A bounce (`elinkctl.ingest.automail.Automatic`) of a notice this clone
    sent: the delivered item moves to failed with ``last_error`` ``bounced:
    <status> <diagnostic>``. Nothing is written to the ticket store. Returns
    the one note for the desk.

    The item is found by the returned original's Message-ID (a reporter's
    notice carries the one recorded on its ticket), else by the failed
    recipient and the incident ID of the original subject (or of the
    bounce's own, or the ``X-Elinkctl-Ticket`` header our notices carry);
    several deliveries of that incident to that address: the latest send.
    """
    from elinkctl.domain.notices import parse_mail_id
    from elinkctl.ingest import find_ticket_ids

    outbox = _outbox(store)
    ids = set(bounce.original_message_ids)
    recipients = {r.lower() for r in bounce.recipients}
    tickets = set(find_ticket_ids(bounce.original_subject) or find_ticket_ids(subject))
    if bounce.original_ticket:
        tickets.add(bounce.original_ticket.upper())
    parsed = [p for p in (parse_mail_id(i) for i in ids) if p is not None]
    tickets.update(p[0] for p in parsed)
    ours = bool(parsed or tickets or any(_OUR_STAFF_ID.search(i) for i in ids))
    ours = ours or "[elinkctl]" in bounce.original_subject
    records = outbox.settled()
    matched = [(s, r) for s, r in records if _message(r).get("mail_id") in ids and ids]
    if not matched and recipients and ours:
        matched = [
            (s, r)
            for s, r in records
            if recipients & {str(a).lower() for a in r.get("recipients") or ()}
            and (not tickets or _message(r).get("ticket") in tickets)
        ]
        latest = max((str(r.get("delivered_at") or "") for s, r in matched), default="")
        matched = [(s, r) for s, r in matched if str(r.get("delivered_at") or "") == latest]
    what = _bounce_words(bounce)
    if not matched:
        if ours:
            about = f" about {', '.join(sorted(tickets))}" if tickets else ""
            return (
                f"a bounce of a mail{about} ({what}) that this clone's outbox did not "
                "deliver (another clone's notice, or a person's mail?); nothing written"
            )
        to = ", ".join(sorted(recipients)) or "an unknown recipient"
        return f"a bounce ({what}) of a mail elinkctl did not send, to {to}; nothing written"
    error = safe_error(f"bounced: {what}")
    detail = {"status": bounce.status, "recipients": ", ".join(sorted(recipients))}
    moved = [r for s, r in matched if s == "delivered"]
    done = [outbox.bounced(str(r["key"]), error, detail, now) for r in moved]
    if moved and not all(done):
        raise StoreBusy(_BUSY)
    first = matched[0][1]
    to = ", ".join(str(a) for a in first.get("recipients") or ()) or "?"
    ticket = _message(first).get("ticket") or "?"
    if not moved:
        return (
            f"bounce of the notice to {to} about {ticket} ({what}): already recorded as "
            "failed in the outbox; nothing written"
        )
    more = f" (and {len(moved) - 1} more item(s) of the same mail)" if len(moved) > 1 else ""
    return (
        f"bounce of the notice to {to} about {ticket}: {what}; recorded as failed in the "
        f"outbox{more} — see `elinkctl outbox list`"
    )


def _message(record: Mapping[str, Any]) -> Mapping[str, Any]:
    message = record.get("message")
    return message if isinstance(message, Mapping) else {}


def _bounce_words(bounce: Automatic) -> str:
    # The status code first, always: `outbox list --json | jq` may filter on it.
    words = " ".join(w for w in (bounce.status, bounce.diagnostic) if w)
    return words or "no reason given"


def safe_error(text: str, limit: int = 200) -> str:
    """One bounded line without control characters (the text came from a
    remote mail server: untrusted)."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
