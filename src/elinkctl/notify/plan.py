"""Who hears of an event, and through which channel: roles → people → channels.

Pure (no I/O) so that ``check --dry-run`` can show the plan and tests can read it
as a table. People with ``email:`` are grouped into one mail per message on the
smtp channel (one mail to several people, not one per person); every name in a
person's ``channels:`` becomes one post to that robot/webhook/command, listing
the people it is meant for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from elinkctl.notify.config import smtp_channels
from elinkctl.notify.message import Message
from elinkctl.notify.outbox import Outbox, delivery_key


class Delivery(NamedTuple):
    """One send: a channel name and its recipients (addresses for smtp, names otherwise)."""

    channel: str
    recipients: tuple[str, ...]


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def people_for_roles(config: Mapping[str, Any], roles: Sequence[str]) -> list[str]:
    """The people of ``roles`` (keys of ``roles:``), in order, each once."""
    table = config.get("roles") or {}
    found: list[str] = []
    for role in roles:
        members = table.get(role) if isinstance(table, Mapping) else None
        if isinstance(members, list):
            found.extend(str(m) for m in members)
        elif isinstance(members, str):
            found.append(members)
    return _unique(found)


def plan_deliveries(
    config: Mapping[str, Any],
    roles: Sequence[str],
    message: Message | None = None,
    *,
    people: Sequence[str] = (),
) -> list[Delivery]:
    """The deliveries for one message to ``roles`` (plus any extra ``people``).

    ``config`` is the parsed escalation.yaml. The smtp delivery comes first,
    then channels in order of first mention. A channel's ``kinds:`` filters by
    ``message.kind``; the smtp channel's ``to:`` replaces people's addresses.
    People missing from ``people:`` and addresses without an smtp channel are
    skipped here (``validate_channels`` reports them); a person naming an
    unknown channel still yields a delivery, which then fails visibly.
    """
    persons = _unique([*people_for_roles(config, roles), *people])
    directory = config.get("people") or {}
    channels = config.get("channels") or {}
    smtp = smtp_channels(config)
    smtp_name = smtp[0] if smtp else None

    addresses: list[str] = []
    posts: dict[str, list[str]] = {}
    for person in persons:
        info = directory.get(person) if isinstance(directory, Mapping) else None
        if not isinstance(info, Mapping):
            continue
        email = info.get("email")
        if isinstance(email, str) and email:
            addresses.append(email)
        for chan_name in info.get("channels") or []:
            chan_name = str(chan_name)
            if chan_name == smtp_name:
                continue  # listing the mail channel means "mail me", done above
            posts.setdefault(chan_name, []).append(person)

    def wanted(name: str) -> bool:
        chan = channels.get(name) if isinstance(channels, Mapping) else None
        kinds = chan.get("kinds") if isinstance(chan, Mapping) else None
        return message is None or not kinds or str(message.kind) in kinds

    plan: list[Delivery] = []
    if smtp_name and addresses and wanted(smtp_name):
        override = channels[smtp_name].get("to")
        targets = [str(a) for a in override] if override else addresses
        plan.append(Delivery(smtp_name, tuple(_unique(targets))))
    for name, names in posts.items():
        if wanted(name):
            plan.append(Delivery(name, tuple(_unique(names))))
    return plan


def queue_notifications(
    outbox: Outbox,
    config: Mapping[str, Any],
    roles: Sequence[str],
    message: Message,
    event_key: str,
    *,
    people: Sequence[str] = (),
    now: dt.datetime | None = None,
    hold: Callable[[str], dt.datetime | None] | None = None,
) -> list[Delivery]:
    """Plan and enqueue one event; returns the plan (queued or already known).

    ``event_key`` names the event once and for all, e.g.
    ``"INC-261123-7KQ2/escalation/30m/management"``; each delivery is queued
    under ``delivery_key(event_key, channel)``, so calling this again for the
    same event (every cron run) queues nothing new. ``hold`` gives, per
    channel, the time before which it must not go out (quiet hours).
    """
    plan = plan_deliveries(config, roles, message, people=people)
    for delivery in plan:
        outbox.enqueue(
            delivery_key(event_key, delivery.channel),
            delivery.channel,
            delivery.recipients,
            message,
            now=now,
            not_before=hold(delivery.channel) if hold is not None else None,
        )
    return plan
