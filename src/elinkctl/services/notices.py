"""Telling people of a step: queued in the step's own transaction, sent by `check`.

`queue_step` runs inside a `Store.transaction`, after the step built its
new events and before `Transaction.commit`: it finds the notices of
escalation.yaml ``notices:`` (`elinkctl.domain.notices`), renders each from
its template (``templates/<name>.txt`` of the store, else the shipped one),
routes it to the people's channels (`elinkctl.notify.plan`) and writes the
outbox items — keyed by ticket, event, notice and recipient, so a retry
never queues one twice. A mail the reporter may answer gets a
deterministic Message-ID, recorded on the event (``mail_ids``) in the same
commit, so the reply threads back (`elinkctl.services.replies`).

Delivery: the command does not wait for a mail server or a robot (a dead
one would hold the desk for its timeout on every step). The next
``elinkctl check`` (cron) sends what is queued, batched per person; a
priority of ``send_now`` (default P1) is sent by the command itself right
after it releases the store lock, as `new` always did for a major incident.
If the commit fails, the queued items are removed (`Queued.forget`); if the
command is killed before its commit, `flush` drops the items whose event is
not in the ticket (`committed`). Events pulled from other clones by `sync`
are never queued here: the clone that recorded them told their people.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl.domain import notices as rules_mod
from elinkctl.domain.model import Event, Ticket
from elinkctl.domain.notice_templates import LABELS, TEMPLATES
from elinkctl.errors import ElinkError, NotFound, TicketError

if TYPE_CHECKING:
    from elinkctl.store.store import Store

TEMPLATES_DIR = "templates"
TEMPLATE_MAX = 64 * 1024
"""A template is a page of text; a bigger file is a mistake, not a message."""


@dataclasses.dataclass
class Queued:
    """What `queue_step` queued for one commit."""

    ticket: Ticket
    keys: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    send_now: bool = False
    store: Store | None = None

    def forget(self) -> None:
        """The commit failed: nothing may announce it."""
        if self.keys and self.store is not None:
            _outbox(self.store).forget(self.keys)
            self.keys = []

    def forget_notice(self, name: str, people: Sequence[str]) -> None:
        """Take back one notice of this step for ``people`` (another message
        tells them the same)."""
        if self.store is None:
            return
        mine = [
            k
            for k in self.keys
            if k.split("/")[2] == name and k.split("/")[3].rpartition("@")[0] in people
        ]
        _outbox(self.store).forget(mine)
        self.keys = [k for k in self.keys if k not in mine]

    def after_lock(self, now: dt.datetime, env: Mapping[str, str] | None = None) -> list[str]:
        """Send at once what must not wait for `check` (``send_now``); notes for the desk."""
        notes = list(self.notes)
        if self.keys and self.send_now and self.store is not None:
            from elinkctl.notify.records import delivery_notes

            results = flush(self.store, self.store.config.escalation.data, now, env)
            mine = set(self.keys)
            notes += delivery_notes([r for r in results if r.key in mine])
        return notes


def _outbox(store: Store) -> Any:
    from elinkctl.notify.outbox import Outbox

    return Outbox(store.state_dir / "outbox")


def new_events(before: Ticket | None, after: Ticket) -> list[Event]:
    """The events of ``after`` that ``before`` did not have."""
    known = {e.id for e in before.events} if before is not None else set()
    return [e for e in after.events if e.id not in known]


def queue_step(store: Store, before: Ticket | None, ticket: Ticket, now: dt.datetime) -> Queued:
    """Queue the notices of ``ticket``'s new events (see the module docstring).

    Never raises for broken rules or templates: the step is recorded anyway
    and the problem comes back as a note."""
    queued = Queued(ticket, store=store)
    events = new_events(before, ticket)
    if not events:
        return queued
    config = store.config.escalation.data
    try:
        rules = rules_mod.rules_of(config)
        roles = config.get("roles") or {}
        found = rules_mod.notices_for(rules, ticket, events, list(roles))
    except ElinkError as exc:
        queued.notes.append(f"notices not queued: {exc}")
        return queued
    if not found:
        return queued
    outbox = _outbox(store)
    tz = store.config.tz
    mail_ids: dict[str, list[str]] = {}
    for notice in found:
        try:
            _queue_notice(store, config, rules, notice, now, tz, outbox, queued, mail_ids)
        except (ElinkError, OSError) as exc:
            queued.notes.append(f"notice {notice.name} not queued: {exc}")
    if mail_ids:
        queued.ticket = _with_mail_ids(ticket, mail_ids)
    queued.send_now = bool(queued.keys) and str(ticket.priority) in rules.send_now
    return queued


def acknowledge_mailed(
    tx: Any, tickets: dict[str, Ticket], now: dt.datetime, notes: list[str]
) -> Queued:
    """`ingest email`'s hook: queue the notices of the incidents a mail
    registered (the reporter's acknowledgement), restaging them with their
    Message-IDs; one `Queued` to take back if the commit fails."""
    store = tx.store
    queued = Queued(next(iter(tickets.values())), store=store)
    for ticket_id, ticket in list(tickets.items()):
        created = ticket.events[0] if ticket.events else None
        if created is None or created.get("via") != "email":
            continue
        if store.has_ticket(ticket_id):
            continue  # a reply threaded onto an incident (a sparse checkout's too): not new
        one = queue_step(store, None, ticket, now)
        queued.keys += one.keys
        notes += one.notes
        if one.ticket is not ticket:
            tickets[ticket_id] = one.ticket
            tx.put(one.ticket, is_new=True)
    return queued


def _with_mail_ids(ticket: Ticket, mail_ids: Mapping[str, list[str]]) -> Ticket:
    """The ticket with each new event naming the Message-IDs sent about it."""
    events = tuple(
        dataclasses.replace(e, data={**e.data, "mail_ids": mail_ids[e.id]})
        if e.id in mail_ids
        else e
        for e in ticket.events
    )
    return dataclasses.replace(ticket, events=events)


def _queue_notice(
    store: Store,
    config: Mapping[str, Any],
    rules: rules_mod.NoticeRules,
    notice: rules_mod.Notice,
    now: dt.datetime,
    tz: dt.tzinfo,
    outbox: Any,
    queued: Queued,
    mail_ids: dict[str, list[str]],
) -> None:
    from elinkctl.notify.config import smtp_channels
    from elinkctl.notify.message import Kind, Message, mask_phones
    from elinkctl.notify.plan import people_for_roles, plan_deliveries

    actor = notice.event.by
    persons = [p for p in [*people_for_roles(config, notice.roles), *notice.people] if p != actor]
    template = load_template(store.root, notice.template)
    group_template = rules_mod.group_template(notice, template)
    ticket = notice.ticket
    security = bool(ticket.fields.get("security"))
    kind = Kind(notice.name if notice.name != "resolved_major" else "resolved")
    channels = config.get("channels") or {}
    event_ref = {
        "ticket": ticket.id,
        "id": notice.event.id,
        "type": notice.event.type,
        "at": notice.event.at.isoformat(),
        "by": notice.event.by,
    }

    def message(handler: str, mail: str = "") -> Message:
        subject, body = rules_mod.render(template, rules_mod.notice_values(notice, handler, tz))
        safe = rules_mod.notice_values(notice, handler, tz, mask=mask_phones)
        group_subject, group_body = rules_mod.render(group_template, safe)
        return Message(
            ticket=ticket.id,
            title=ticket.title,
            priority=str(ticket.priority),
            kind=kind,
            status=str(ticket.status),
            assignee=ticket.state.assignee or "",
            security=security,
            body=body,
            subject_line=subject,
            group_body=group_body,
            group_subject=group_subject,
            mail_id=mail,
        )

    def enqueue(key: str, channel: str, recipients: Sequence[str], msg: Message) -> None:
        chan = channels.get(channel) if isinstance(channels, Mapping) else None
        type_ = str(chan.get("type")) if isinstance(chan, Mapping) else ""
        hold = rules.quiet.hold_until(now.astimezone(tz), str(ticket.priority), type_)
        if outbox.enqueue(key, channel, recipients, msg, now=now, not_before=hold, event=event_ref):
            queued.keys.append(key)

    def allowed(channel: str) -> bool:
        return notice.channels is None or channel in notice.channels

    label = LABELS.get(notice.name, notice.name)
    smtp = smtp_channels(config)
    directory = config.get("people") or {}
    for person in dict.fromkeys(persons):
        info = directory.get(person) if isinstance(directory, Mapping) else None
        if not isinstance(info, Mapping):
            if channels:
                queued.notes.append(
                    f"{person} is not listed under people: in escalation.yaml: not told ({label})"
                )
            continue
        msg = message(person)
        planned = plan_deliveries(config, (), msg, people=[person])
        if not planned and channels:
            queued.notes.append(
                f"no channel reaches {person} (see `elinkctl config check`): not told ({label})"
            )
        for delivery in planned:
            if allowed(delivery.channel):
                key = f"{notice.key}/{person}@{delivery.channel}"
                enqueue(key, delivery.channel, delivery.recipients, msg)
    if not notice.reporter:
        return
    kinds = (channels.get(smtp[0]) or {}).get("kinds") if smtp else None
    if not smtp or not allowed(smtp[0]) or (kinds and str(kind) not in kinds):
        return  # this desk does not mail its reporters (this notice)
    address = reporter_address(ticket, config)
    if not address:
        queued.notes.append(
            f"the reporter has no email address: not told ({label}); tell them by phone"
        )
        return
    reporter = ticket.fields.get("reporter") or {}
    name = str(reporter.get("name") or "") if isinstance(reporter, Mapping) else ""
    mail = rules_mod.mail_id(notice, _mail_domain(config, smtp[0]))
    override = channels[smtp[0]].get("to") if isinstance(channels, Mapping) else None
    recipients = tuple(str(a) for a in override) if override else (address,)
    enqueue(f"{notice.key}/reporter@{smtp[0]}", smtp[0], recipients, message(name, mail))
    mail_ids.setdefault(notice.event.id, []).append(mail)


def reporter_address(ticket: Ticket, config: Mapping[str, Any]) -> str:
    """The reporter's mail address: recorded on the ticket, else the address
    the incident was mailed from, else the people list's entry of that name,
    else the name itself when it is an address."""
    reporter = ticket.fields.get("reporter") or {}
    if isinstance(reporter, Mapping) and reporter.get("email"):
        return str(reporter["email"])
    sender = ticket.events[0].get("from") if ticket.events else None
    if sender:
        return str(sender)
    name = reporter.get("name") if isinstance(reporter, Mapping) else None
    people = config.get("people") or {}
    info = people.get(name) if isinstance(people, Mapping) and name else None
    if isinstance(info, Mapping) and isinstance(info.get("email"), str):
        return str(info["email"])
    # `new --reporter someone@corp.example` (or 'Name <addr>'): no people:
    # entry needed for a reporter known only by address.
    match = _ADDRESS_RE.fullmatch(str(name or "").strip())
    return match.group(1) if match else ""


_ADDRESS_RE = re.compile(r"(?:[^<>@]*<)?([^@\s<>]+@[^@\s<>]+\.[^@\s<>]+?)>?")


def _mail_domain(config: Mapping[str, Any], channel: str) -> str:
    """The domain of the desk's own address (Message-IDs are made before the
    ``${VAR}``s are known, so a referenced address gives a fixed domain)."""
    chan = (config.get("channels") or {}).get(channel) or {}
    sender = str(chan.get("from") or chan.get("username") or "")
    domain = sender.rpartition("@")[2].strip(" >")
    return domain if domain and "$" not in domain else "elinkctl.local"


def load_template(root: Path, name: str) -> str:
    """``templates/<name>.txt`` of the store, else the shipped template."""
    path = root / TEMPLATES_DIR / f"{name}.txt"
    try:
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                raw = handle.read(TEMPLATE_MAX + 1)
            if len(raw) > TEMPLATE_MAX:
                raise ElinkError(f"{TEMPLATES_DIR}/{name}.txt: larger than {TEMPLATE_MAX} bytes")
            return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ElinkError(f"{TEMPLATES_DIR}/{name}.txt: not UTF-8") from None
    except OSError:
        pass
    shipped = TEMPLATES.get(name)
    if shipped is None:
        raise ElinkError(f"{TEMPLATES_DIR}/{name}.txt: no such template")
    return shipped


def robot_hold(
    config: Mapping[str, Any], priority: str, now: dt.datetime
) -> Callable[[str], dt.datetime | None]:
    """Per channel, until when a post of ``priority`` made ``now`` is held
    (``notices.quiet_hours``; a broken rule holds nothing)."""
    try:
        quiet = rules_mod.rules_of(config).quiet
    except ElinkError:
        return lambda channel: None
    channels = config.get("channels") or {}

    def hold(channel: str) -> dt.datetime | None:
        chan = channels.get(channel) if isinstance(channels, Mapping) else None
        type_ = str(chan.get("type")) if isinstance(chan, Mapping) else ""
        return quiet.hold_until(now, priority, type_)

    return hold


# --- delivery ----------------------------------------------------------------------------


def committed(store: Store) -> Callable[[Mapping[str, str]], bool | None]:
    """Whether the event an outbox item announces is in its ticket.

    Found (by id, else by type, time and actor: `sync` may renumber it) → True.
    Missing while a command holds the store lock → None (it may be about to
    commit). Missing with the lock free → False: the command that queued it
    failed or was killed before writing it, and it never will be."""
    cache: dict[str, Ticket | None] = {}
    read = _reader(store, cache)

    def lock_free() -> bool:
        lock = store.lock()
        if not lock.acquire(wait=False):
            return False
        lock.release()
        return True

    def check(event: Mapping[str, str]) -> bool | None:
        ticket_id = str(event.get("ticket") or "")
        ticket = read(ticket_id)
        if ticket is not None:
            for e in ticket.events:
                if e.id == event.get("id") and e.type == event.get("type"):
                    return True
                if (e.type, e.at.isoformat(), e.by) == (
                    event.get("type"),
                    event.get("at"),
                    event.get("by"),
                ):
                    return True
        cache.pop(ticket_id, None)  # read again next time: it may be written meanwhile
        return False if lock_free() else None

    return check


def flush(
    store: Store,
    config: Mapping[str, Any],
    now: dt.datetime,
    env: Mapping[str, str] | None = None,
) -> list[Any]:
    """Send what is due in the store's outbox (batched per channel and people)."""
    import os

    from elinkctl.notify.channels import make_sender

    sender = make_sender(config, os.environ if env is None else env)
    results: list[Any] = _outbox(store).flush(
        now, sender, committed=committed(store), moot=answered(store)
    )
    return results


def _reader(store: Store, cache: dict[str, Ticket | None]) -> Callable[[str], Ticket | None]:
    """A ticket by ID, read once per flush (None when it cannot be read)."""

    def read(ticket_id: str) -> Ticket | None:
        if ticket_id not in cache:
            try:
                cache[ticket_id] = store.load(ticket_id)
            except (NotFound, TicketError, OSError, ElinkError):
                cache[ticket_id] = None
        return cache[ticket_id]

    return read


ANSWERED_BY = {
    "resolved": frozenset({"confirmed", "reopened", "closed"}),
    "closed": frozenset({"callback", "reopened"}),
}
"""The reporter's question a notice kind asks (`rules_mod.REPLY_KINDS`) → the
later events that answer it: a queued "please confirm" is not sent once the
incident was confirmed, reopened or closed; a satisfaction question not once
the callback is recorded."""


def answered(store: Store) -> Callable[[Any], bool]:
    """`Outbox.flush`'s ``moot``: whether a reporter's mail asks what its
    ticket already answers. Only reporter mails asking something are looked
    at (the P1 resolution for management is news whatever happens next); a
    ticket that cannot be read is not an answer."""
    read = _reader(store, {})

    def check(item: Any) -> bool:
        event = item.event or {}
        answers = ANSWERED_BY.get(str(event.get("type")))
        if answers is None or "/reporter@" not in item.key or not item.message.mail_id:
            return False
        ticket = read(str(event.get("ticket") or ""))
        if ticket is None:
            return False
        ids = [e.id for e in ticket.events]
        if event.get("id") not in ids:
            return False
        later = ticket.events[ids.index(str(event.get("id"))) + 1 :]
        return any(e.type in answers for e in later)

    return check


def send_pending(store: Store, now: dt.datetime, env: Mapping[str, str] | None = None) -> list[str]:
    """`sync`'s hook: a clone that never runs `check` (a laptop) sends the
    notices its steps queued when it goes online; notes for the desk.
    Nothing pending: nothing imported, nothing said."""
    pending = store.state_dir / "outbox" / "pending"
    try:
        if not any(pending.glob("*.json")):
            return []
    except OSError:
        return []
    from elinkctl.notify.records import delivery_notes

    try:
        results = flush(store, store.config.escalation.data, now, env)
    except ElinkError as exc:
        return [f"queued notices not sent: {exc}; `elinkctl check` sends them"]
    return delivery_notes(results)
