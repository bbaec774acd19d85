"""Intake: incidents registered from a mail message or a monitoring alert.

The parsing layer (:mod:`elinkctl.ingest`) turns bytes into facts; this
module decides what those facts mean for the store and writes them in ONE
commit per input, so a mail server or webhook either gets everything
recorded or nothing (a half-ingested payload would be re-sent and doubled).

Order of work, for both kinds of input: read (size-capped) → parse → map
(all pure; any problem raises before the store is touched) → under the
store lock: look up what is already recorded, build every change, commit.

**Mail** (``ingest email``)

* The message's own ``Message-ID`` already recorded on some event → it was
  delivered twice (mail servers retry on timeouts): nothing is written,
  the ticket's ID is reported.
* A reply — an incident ID in the subject that exists in this store, else
  ``In-Reply-To``/``References`` naming a ``message_id`` recorded on a
  ticket's events, else an incident ID inside those thread headers — becomes
  a ``commented`` event (``via: email``, ``message_id``, ``from``, the reply
  text without the quoted history). A comment is allowed in any status, so
  a reply to a closed incident is recorded too (with a note to the desk).
* Anything else registers an incident: source ``email``, the sender as
  reporter, the cleaned subject as title, the text body (HTML as text,
  attachment names listed) as description, ``message_id`` and ``from`` on
  the ``created`` event. Type: ``consultation`` when the subject asks a
  question (咨询, 如何, 怎么, 怎样, 请教), else ``failure`` — mail to the
  desk is mostly "something is broken"; the desk corrects it with
  ``edit --type … --reason``. ``--type`` overrides (e.g. a separate
  ``requests@`` alias piped with ``--type request``). Priority comes from
  the urgency × impact matrix at medium × medium, like ``new``.
* Reporter: the mail's display name (else the address). A reporter of an
  earlier ticket from the same address is reused (with the phone and
  department the desk recorded). Key user: the name, the address or that
  phone listed under ``key_users`` in sla.yaml.

**Alerts** (``ingest alert``)

* Mapped by the ``alerts:`` rules of sla.yaml (:class:`AlertRules`).
* Registered at *now*, not at the alert's ``starts_at``: the procedure's
  clocks (response, escalation) run from when the incident was reported to
  the desk, and the notification is that report. An alert delivered late
  (group_wait, a replay after an Alertmanager restart, a Zabbix queue) would
  otherwise be born overdue and fire every escalation level at once. The
  true start is kept as ``starts_at`` on the event and in the description.
* The incident of an alert is found by ``alert_key`` (recorded on the
  ``created`` event and on every ``alert`` event). Firing, incident open →
  an ``alert`` event (key, status, summary, starts_at). Firing, incident
  resolved less than ``flap_window`` ago → an ``alert`` event and a reopen
  ("告警再次触发"): the problem is back, and the reopen is counted like any
  other. Otherwise a new incident.
* Resolved → an ``alert`` event with status resolved on the open (or
  resolved) incident; with ``auto_resolve: true`` the open incident is also
  resolved ("监控告警已恢复"). A resolved notification for an alert with no
  incident (or a closed/rejected one) is not recorded.
* A notification that repeats what is already recorded — same key, same
  status, same ``starts_at`` (Alertmanager re-sends a whole group whenever
  one member changes, and every ``repeat_interval``) — is not recorded
  again: it carries no news and would bloat the ticket.
* Every alert of one payload goes into ONE commit.

Text from mail and alerts is stored as plain text with control characters
(terminal escapes) removed; the HTML renderers escape it on output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from elinkctl.config import Config
from elinkctl.domain import lifecycle
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Status, Ticket
from elinkctl.errors import NotFound, TransitionError, UsageProblem
from elinkctl.ingest import (
    Alert,
    AlertRules,
    IngestError,
    ParsedEmail,
    clean_subject,
    find_ticket_ids,
    parse_alert_payload,
    parse_email,
)
from elinkctl.store.store import Store
from elinkctl.store.transaction import Transaction

__all__ = [
    "ALERT_REOPEN_REASON",
    "AUTO_RESOLVE_SOLUTION",
    "MAX_INPUT_BYTES",
    "IntakeResult",
    "Outcome",
    "guess_type",
    "ingest_alerts",
    "ingest_email",
    "read_input",
    "reply_text",
]

#: Inputs larger than this are refused before parsing (a mail with a huge
#: attachment, a runaway payload): a ticket is not a file archive.
MAX_INPUT_BYTES = 10 * 1024 * 1024
#: Reason of the reopen of a flapping alert's incident.
ALERT_REOPEN_REASON = "告警再次触发"
#: Solution of an incident resolved by its alert's recovery (``auto_resolve``).
AUTO_RESOLVE_SOLUTION = "监控告警已恢复"

_TITLE_MAX = 120
_QUESTION_WORDS = ("咨询", "如何", "怎么", "怎样", "请教")
# C0/C1 controls except tab and newline: a mail must not move the terminal
# cursor or recolour `elinkctl show`.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FACTS_NAME = "intake"
_FACTS_VERSION = "1"

# Where a reply's quoted history starts (common Chinese and English clients).
_SEPARATOR_RE = re.compile(
    r"^\s*-{2,}\s*(原始邮件|original message|forwarded message|转发邮件|转发的邮件)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_RE = re.compile(r"^\s*(on\s.+\swrote|在\s*.+写道)\s*[:：]?\s*$", re.IGNORECASE)
_HEADER_BLOCK_RE = re.compile(r"^\s*(发件人|from)\s*[:：]", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\s*(发送时间|日期|收件人|主题|sent|date|to|subject)\s*[:：]", re.IGNORECASE
)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one ticket: ``action`` is created, commented,
    duplicate (already ingested, nothing written), alert (folded), reopened
    or resolved."""

    ticket_id: str
    action: str
    message: str


@dataclasses.dataclass(frozen=True)
class IntakeResult:
    """Everything one ``ingest`` did; ``notes`` go to the desk on stderr."""

    outcomes: tuple[Outcome, ...]
    notes: tuple[str, ...] = ()
    commit_message: str | None = None

    @property
    def ids(self) -> list[str]:
        """IDs created or updated (or matched, for a duplicate mail), in order, once each."""
        seen: list[str] = []
        for outcome in self.outcomes:
            if outcome.ticket_id not in seen:
                seen.append(outcome.ticket_id)
        return seen


# ---------------------------------------------------------------------------
# Reading input
# ---------------------------------------------------------------------------


def read_input(path: str | None, stdin: BinaryIO, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of ``path`` (``None`` or ``-``: ``stdin``), at most ``limit``.

    Reads one byte more than allowed to tell "exactly the limit" from "too
    big" without slurping a runaway stream into memory.
    """
    what = "standard input" if path in (None, "-") else path
    try:
        if path in (None, "-"):
            data = stdin.read(limit + 1)
        else:
            with Path(str(path)).open("rb") as fh:
                data = fh.read(limit + 1)
    except FileNotFoundError:
        raise IngestError(f"{what}: no such file") from None
    except IsADirectoryError:
        raise IngestError(f"{what}: is a directory") from None
    except OSError as exc:
        raise IngestError(f"{what}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise IngestError(
            f"{what}: input is larger than {limit // (1024 * 1024)} MB; nothing registered"
        )
    return bytes(data)


# ---------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """``text`` without control characters (tab and newline kept)."""
    return _CONTROL_RE.sub("", text)


def _one_line(text: str, limit: int = _TITLE_MAX) -> str:
    line = " ".join(clean_text(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def guess_type(subject: str) -> str:
    """``consultation`` when the subject asks a question, else ``failure``."""
    return "consultation" if any(word in subject for word in _QUESTION_WORDS) else "failure"


def reply_text(body: str) -> str:
    """A reply's new text: cut at the quoted history, ``>`` lines dropped.

    Falls back to the whole body when nothing would be left (a reply that
    is all quote is still worth recording).
    """
    lines = body.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _SEPARATOR_RE.match(line) or _ATTRIBUTION_RE.match(line):
            break
        if _HEADER_BLOCK_RE.match(line) and any(
            _HEADER_NEXT_RE.match(following) for following in lines[index + 1 : index + 4]
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return text or body.strip()


def _email_description(mail: ParsedEmail) -> str:
    parts = [clean_text(mail.body).strip()]
    if mail.attachments:
        parts.append("附件: " + ", ".join(_one_line(a, 200) for a in mail.attachments))
    sender = f"{mail.from_name} <{mail.from_addr}>" if mail.from_name else mail.from_addr
    if sender:
        parts.append("来信: " + _one_line(sender, 200))
    return "\n\n".join(p for p in parts if p)


def _email_title(mail: ParsedEmail) -> str:
    title = _one_line(clean_subject(mail.subject))
    if title:
        return title
    for line in clean_text(mail.body).split("\n"):
        if line.strip():
            return _one_line(line, 60)
    return "(无主题邮件)"


def _facts(ticket: Ticket) -> dict[str, Any]:
    """What intake looks up per ticket (cached by the index when available).

    Only append-only facts (events, the reporter) so the cache stays right;
    the current status is read from the ticket itself when it matters.
    """
    keys: list[str] = []
    message_ids: list[str] = []
    for event in ticket.events:
        key = event.get("alert_key") if event.type == "created" else None
        if event.type == "alert":
            key = event.get("key")
        if key and str(key) not in keys:
            keys.append(str(key))
        message_id = event.get("message_id")
        if message_id and str(message_id) not in message_ids:
            message_ids.append(str(message_id))
    out: dict[str, Any] = {"id": ticket.id}
    if keys:
        out["alert_keys"] = keys
    if message_ids:
        out["message_ids"] = message_ids
    sender = ticket.events[0].get("from") if ticket.events else None
    if sender:
        out["from"] = str(sender).lower()
        out["opened_at"] = ticket.opened_at.isoformat()
        reporter = ticket.fields.get("reporter")
        if isinstance(reporter, Mapping):
            out["reporter"] = {str(k): str(v) for k, v in reporter.items() if v}
    return out


def _ticket_facts(store: Store) -> Iterator[tuple[str, dict[str, Any]]]:
    """(ID, intake facts) of every readable ticket (broken ones skipped), from
    the index's content-keyed facts, so a mail pipe does not parse 100,000
    tickets per message."""
    for fact in store.iter_facts(_FACTS_NAME, _FACTS_VERSION, _facts, lambda exc: None):
        yield str(fact["id"]), fact


# ---------------------------------------------------------------------------
# Registration (the steps of services.registration.create, batched)
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class _Batch:
    """Changes of one input, staged in one transaction and committed together;
    escalations queued before the commit and sent after the lock."""

    tx: Transaction
    now: dt.datetime
    tickets: dict[str, Ticket] = dataclasses.field(default_factory=dict)
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    due: list[Any] = dataclasses.field(default_factory=list)
    rules: Any = None
    queued: int = 0

    @property
    def store(self) -> Store:
        return self.tx.store

    def register(
        self,
        raw: Mapping[str, Any],
        event_data: Mapping[str, Any],
        *,
        force: bool = False,
    ) -> Ticket:
        """A new incident with extra facts on its ``created`` event: the rules
        of `elinkctl.services.registration.prepare`, staged in this batch's
        transaction (one input may register several incidents in one commit)."""
        from elinkctl.services import registration

        prepared = registration.prepare(
            self.tx.config, raw, self.tx.actor, self.now, self.tx.taken,
            force=force, event_data=event_data,
        )  # fmt: skip
        ticket = prepared.change.ticket
        if prepared.due:
            self.due.extend(prepared.due)
            self.rules = prepared.rules
        self.notes.extend(n for n in prepared.notes if "--force" not in n)
        self.tx.put(ticket, is_new=True)
        self.tickets[ticket.id] = ticket
        self.outcomes.append(Outcome(ticket.id, "created", prepared.change.message))
        return ticket

    def record(self, ticket: Ticket, type_: str, action: str, message: str, **data: Any) -> Ticket:
        """Append one event to ``ticket`` (as changed so far in this batch)."""
        current = self.tickets.get(ticket.id, ticket)
        change: Change = lifecycle.record(
            current, type_, self.tx.actor, self.now, self.now, message, **data
        )
        self.tx.put(change.ticket)
        self.tickets[ticket.id] = change.ticket
        self.outcomes.append(Outcome(ticket.id, action, change.message))
        return change.ticket

    def commit(self, what: str) -> str | None:
        """Commit every touched ticket in one commit; queue escalations first."""
        if not self.tickets:
            return None
        messages = [o.message for o in self.outcomes if o.action != "duplicate"]
        if len(messages) == 1:
            message = messages[0]
        else:
            ids_ = list(dict.fromkeys(o.ticket_id for o in self.outcomes))
            message = f"{what}: {len(ids_)} incidents\n\n" + "\n".join(messages)
        if self.due and self.rules is not None:
            from elinkctl.services import check

            # Before the commit, as in `new`: deterministic keys make it safe.
            self.queued = check.queue(check.outbox_for(self.store), self.rules, self.due, self.now)
        self.tx.commit(message)
        return message

    def after_lock(self) -> None:
        """Send what was queued (outside the lock, as ``new`` does)."""
        if self.due and self.rules is not None:
            from elinkctl.services import check

            self.notes.extend(
                check.registration_notes(self.store, self.rules, self.due, self.queued, self.now)
            )

    def result(self, message: str | None) -> IntakeResult:
        return IntakeResult(tuple(self.outcomes), tuple(self.notes), message)


# ---------------------------------------------------------------------------
# Mail
# ---------------------------------------------------------------------------


def _known_reporter(
    facts: Iterable[tuple[str, dict[str, Any]]], address: str
) -> dict[str, str] | None:
    """The reporter of the most recent earlier ticket sent from ``address``."""
    best: tuple[str, dict[str, str]] | None = None
    for _tid, fact in facts:
        if fact.get("from") == address and isinstance(fact.get("reporter"), dict):
            opened = str(fact.get("opened_at", ""))
            if best is None or opened >= best[0]:
                best = (opened, dict(fact["reporter"]))
    return best[1] if best else None


def _is_key_user(config: Config, reporter: Mapping[str, str], address: str) -> bool:
    keys = {k.strip().lower() for k in config.key_users}
    candidates = (reporter.get("name"), reporter.get("phone"), address)
    return any(c and c.strip().lower() in keys for c in candidates)


def _thread_target(
    store: Store, mail: ParsedEmail, facts: list[tuple[str, dict[str, Any]]]
) -> tuple[str | None, str]:
    """The incident a reply is about, and how it was found ("" if none)."""
    for ticket_id in mail.ticket_ids:
        try:
            return store.resolve_id(ticket_id), "subject"
        except (NotFound, UsageProblem):
            continue
    thread = [mail.in_reply_to] if mail.in_reply_to else []
    thread += [m for m in reversed(mail.references) if m not in thread]
    by_message: dict[str, str] = {}
    for tid, fact in facts:
        for message_id in fact.get("message_ids", []):
            by_message.setdefault(str(message_id), tid)
    for message_id in thread:
        if message_id in by_message:
            return by_message[message_id], "thread"
    for message_id in thread:
        for ticket_id in find_ticket_ids(message_id):
            try:
                return store.resolve_id(ticket_id), "thread"
            except (NotFound, UsageProblem):
                continue
    return None, ""


def ingest_email(
    store: Store,
    data: bytes,
    actor: str,
    now: dt.datetime,
    *,
    type_: str | None = None,
) -> IntakeResult:
    """Register a mail as an incident, or record a reply on its incident.

    Parsing happens before the store is touched; lookups and the write
    happen under one lock, so two deliveries of the same mail cannot both
    register it.
    """
    if type_ is not None:
        lifecycle.validate_choice("--type", type_, lifecycle.TYPES)
    mail = parse_email(data)
    address = mail.from_addr.strip().lower()
    with store.transaction(actor) as tx:
        batch = _Batch(tx, now)
        facts = list(_ticket_facts(store))
        if mail.message_id:
            for tid, fact in facts:
                if mail.message_id in fact.get("message_ids", []):
                    batch.notes.append(
                        f"message {mail.message_id} was already recorded on {tid}; nothing written"
                    )
                    batch.outcomes.append(Outcome(tid, "duplicate", ""))
                    return batch.result(None)
        target, how = _thread_target(store, mail, facts)
        if target is not None:
            ticket = tx.load(target)
            text = clean_text(reply_text(mail.body))
            if mail.attachments:
                text += "\n\n附件: " + ", ".join(_one_line(a, 200) for a in mail.attachments)
            sender = _one_line(mail.from_name or mail.from_addr or "unknown sender", 60)
            first = _one_line(text.split("\n")[0] if text else "(空)", 60)
            batch.record(
                ticket,
                "commented",
                "commented",
                f"email from {sender}: {first}",
                via="email",
                message_id=mail.message_id,
                **{"from": mail.from_addr},
                text=text or "(正文为空)",
            )
            if not ticket.is_open:
                batch.notes.append(
                    f"{ticket.id} is {ticket.status}: the reply was recorded as a comment; "
                    f"reopen it (`elinkctl reopen {ticket.id} --reason …`) if the problem is back"
                )
            if how == "thread" and mail.ticket_ids:
                batch.notes.append(
                    f"{', '.join(mail.ticket_ids)} in the subject is not in this store; "
                    f"threaded onto {ticket.id} by the mail's In-Reply-To/References"
                )
        else:
            if mail.ticket_ids:
                batch.notes.append(
                    f"{', '.join(mail.ticket_ids)} in the subject is not in this store; "
                    "registered as a new incident"
                )
            reporter = (_known_reporter(facts, address) if address else None) or {}
            name = _one_line(mail.from_name or mail.from_addr or "", 60)
            if name and not reporter.get("name"):
                reporter["name"] = name
            config = store.config
            raw: dict[str, Any] = {
                "title": _email_title(mail),
                "type": type_ or guess_type(mail.subject),
                "source": "email",
                "description": _email_description(mail),
                "reporter": reporter,
            }
            if _is_key_user(config, reporter, address):
                raw["key_user"] = True
                batch.notes.append(
                    f"{reporter.get('name') or address} is a key user (关键用户): handle first"
                )
            batch.register(
                raw,
                {
                    "via": "email",
                    "message_id": mail.message_id,
                    "from": mail.from_addr,
                    "sent_at": _local(mail.date, config.tz),
                    "attachments": [_one_line(a, 200) for a in mail.attachments],
                },
            )
        if mail.truncated:
            batch.notes.append("the mail body was too long and was truncated")
        message = batch.commit("ingest email")
    batch.after_lock()
    return batch.result(message)


# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------


def _alert_rules(config: Config) -> AlertRules:
    return AlertRules.from_config(config.sla.data.get("alerts"))


def _last_alert_state(ticket: Ticket, key: str) -> tuple[str, dt.datetime | None] | None:
    """(status, starts_at) of the last notification of ``key`` recorded on ``ticket``."""
    last: tuple[str, dt.datetime | None] | None = None
    for event in ticket.events:
        if event.type == "created" and event.get("alert_key") == key:
            last = ("firing", _as_time(event.get("starts_at")))
        elif event.type == "alert" and event.get("key") == key:
            last = (str(event.get("status")), _as_time(event.get("starts_at")))
    return last


def _as_time(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _local(when: dt.datetime | None, tz: dt.tzinfo) -> dt.datetime | None:
    if when is None:
        return None
    try:
        return when.astimezone(tz).replace(microsecond=0)
    except OverflowError:  # year 9999 shifted past the end of time
        return when.replace(microsecond=0)


def _is_repeat(ticket: Ticket, alert: Alert, tz: dt.tzinfo) -> bool:
    """Whether this notification says nothing the ticket does not already say."""
    last = _last_alert_state(ticket, alert.key)
    if last is None or alert.starts_at is None or last[1] is None:
        return False
    return last[0] == alert.status and last[1] == _local(alert.starts_at, tz)


def _pick(candidates: Sequence[Ticket], status: Status | None = None) -> Ticket | None:
    """The most recently opened candidate (in ``status``, or open when None)."""
    chosen = [t for t in candidates if (t.is_open if status is None else t.status == status)]
    return max(chosen, key=lambda t: t.opened_at) if chosen else None


def ingest_alerts(store: Store, data: bytes, actor: str, now: dt.datetime) -> IntakeResult:
    """Record every alert of one webhook payload, in one commit.

    The payload is parsed and every alert mapped before the store is
    touched, so a malformed alert anywhere writes nothing.
    """
    config = store.config
    tz = config.tz
    rules = _alert_rules(config)
    alerts = parse_alert_payload(data, tz=tz)
    mapped = [(alert, rules.map(alert, tz=tz)) for alert in alerts]
    scope = config.scope
    with store.transaction(actor) as tx:
        batch = _Batch(tx, now)
        wanted = {alert.key for alert in alerts}
        by_key: dict[str, list[str]] = {}
        for tid, fact in _ticket_facts(store):
            for key in fact.get("alert_keys", []):
                if key in wanted:
                    by_key.setdefault(key, []).append(tid)
        for alert, registration in mapped:
            ids_ = by_key.get(alert.key, [])
            candidates = [tx.load(tid) for tid in ids_]
            _one_alert(batch, rules, alert, registration, candidates, scope, tz, by_key)
        message = batch.commit("ingest alert")
    batch.after_lock()
    return batch.result(message)


def _alert_event(alert: Alert, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "key": alert.key,
        "status": alert.status,
        "summary": _one_line(alert.summary or alert.name, 200),
        "starts_at": _local(alert.starts_at, tz),
        "ends_at": _local(alert.ends_at, tz) if alert.status == "resolved" else None,
        "severity": alert.severity,
        "event_id": alert.event_id,
    }


def _one_alert(
    batch: _Batch,
    rules: AlertRules,
    alert: Alert,
    registration: Any,
    candidates: list[Ticket],
    scope: list[str],
    tz: dt.tzinfo,
    by_key: dict[str, list[str]],
) -> None:
    open_ticket = _pick(candidates)
    resolved = _pick(candidates, Status.RESOLVED)
    label = _one_line(alert.summary or alert.name, 60)
    if alert.status == "firing":
        if open_ticket is not None:
            if _is_repeat(open_ticket, alert, tz):
                batch.notes.append(f"{open_ticket.id}: alert {label!r} already recorded")
                return
            batch.record(
                open_ticket,
                "alert",
                "alert",
                f"alert firing again: {label}",
                **_alert_event(alert, tz),
            )
            return
        if resolved is not None and rules.should_fold(resolved.state.resolved_at, batch.now):
            if _is_repeat(resolved, alert, tz):
                batch.notes.append(f"{resolved.id}: alert {label!r} already recorded")
                return
            batch.record(
                resolved,
                "alert",
                "alert",
                f"alert firing again: {label}",
                **_alert_event(alert, tz),
            )
            batch.record(
                resolved,
                "reopened",
                "reopened",
                f"reopened: {ALERT_REOPEN_REASON}",
                reason=ALERT_REOPEN_REASON,
            )
            return
        _register_alert(batch, alert, registration, scope, tz, by_key)
        return
    # resolved notification
    target = open_ticket or resolved
    if target is None:
        batch.notes.append(
            f"alert {label!r} resolved: no open or resolved incident has its key "
            f"{alert.key}; not recorded"
        )
        return
    if _is_repeat(target, alert, tz):
        batch.notes.append(f"{target.id}: alert {label!r} resolved: already recorded")
        return
    batch.record(target, "alert", "alert", f"alert resolved: {label}", **_alert_event(alert, tz))
    if rules.auto_resolve and target.is_open:
        try:
            batch.record(
                target,
                "resolved",
                "resolved",
                "resolved (auto_resolve)",
                solution=AUTO_RESOLVE_SOLUTION,
            )
        except TransitionError as exc:
            batch.notes.append(f"{target.id}: not resolved automatically: {exc}")


def _register_alert(
    batch: _Batch,
    alert: Alert,
    registration: Any,
    scope: list[str],
    tz: dt.tzinfo,
    by_key: dict[str, list[str]],
) -> None:
    system = registration.system
    force = bool(scope and system and system not in scope)
    if force:
        batch.notes.append(
            f"system {system!r} of alert {alert.name!r} is not in the service scope list; "
            "registered anyway (an alert is never dropped) — reject it if it is not ours"
        )
    raw = {
        "title": _one_line(registration.title) or "(unnamed alert)",
        "type": registration.type,
        "priority": registration.priority,
        "system": clean_text(system) if system else None,
        "module": clean_text(registration.module) if registration.module else None,
        "source": registration.source,
        "description": clean_text(registration.description),
        "security": registration.security or None,
    }
    ticket = batch.register(
        raw,
        {
            "alert_key": alert.key,
            "alert_source": alert.source,
            "starts_at": _local(alert.starts_at, tz),
            "event_id": alert.event_id,
        },
        force=force,
    )
    by_key.setdefault(alert.key, []).append(ticket.id)
