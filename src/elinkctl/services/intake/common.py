"""What mail and alert intake share: results, bounded input, text cleaning,
the facts looked up per ticket, and the batch that stages one input's
changes in one transaction (see the package docstring for the rules)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from elinkctl.domain import lifecycle
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Ticket
from elinkctl.ingest import (
    IngestError,
)
from elinkctl.store.store import Store
from elinkctl.store.transaction import Transaction
from elinkctl.timeutil import as_time

#: Inputs larger than this are refused before parsing (a mail with a huge
#: attachment, a runaway payload): a ticket is not a file archive.
MAX_INPUT_BYTES = 10 * 1024 * 1024
#: Reason of the reopen of a flapping alert's incident.
ALERT_REOPEN_REASON = "告警再次触发"
#: Solution of an incident resolved by its alert's recovery (``auto_resolve``).
AUTO_RESOLVE_SOLUTION = "监控告警已恢复"

_TITLE_MAX = 120
_QUESTION_WORDS = ("咨询", "如何", "怎么", "怎样", "请教", "諮詢", "怎麼", "怎樣", "請教")
# C0/C1 controls except tab and newline: a mail must not move the terminal
# cursor or recolour `elinkctl show`.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FACTS_NAME = "intake"
_FACTS_VERSION = "2"

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one ticket: ``action`` is created, commented,
    duplicate (already ingested or a repeat of what is recorded: nothing
    written, the ID still reported), alert (folded), reopened or resolved."""

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


def one_line(text: str, limit: int = _TITLE_MAX) -> str:
    line = " ".join(clean_text(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def guess_type(subject: str) -> str:
    """``consultation`` when the subject asks a question, else ``failure``."""
    return "consultation" if any(word in subject for word in _QUESTION_WORDS) else "failure"


def instant(value: object) -> str:
    """A recorded or sent time as one comparable text: UTC ISO 8601, whole
    seconds ("" when absent) — an alert's start is stored in the store's
    zone, and the zone may change between two notifications."""
    when = as_time(value)
    if when is None:
        return ""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.replace(microsecond=0).isoformat()


def _facts(ticket: Ticket) -> dict[str, Any]:
    """What intake looks up per ticket (cached by the index when available).

    The cache is keyed by the ticket file's content, so a fact may be
    anything the file determines — including the current status, which
    lets alert intake load only the incidents it may act on. ``firings``
    lists every firing of an alert recorded on the ticket as ``[key,
    start (see :func:`instant`), Zabbix event id]``: a monitoring system's
    repeat of one of them belongs to this ticket, whatever its state.
    """
    keys: list[str] = []
    firings: list[list[str]] = []
    message_ids: list[str] = []
    for event in ticket.events:
        key = event.get("alert_key") if event.type == "created" else None
        firing = key is not None
        if event.type == "alert":
            key = event.get("key")
            firing = event.get("status") == "firing"
        if key and str(key) not in keys:
            keys.append(str(key))
        if key and firing:
            entry = [str(key), instant(event.get("starts_at")), str(event.get("event_id") or "")]
            if entry not in firings:
                firings.append(entry)
        message_id = event.get("message_id")
        if message_id and str(message_id) not in message_ids:
            message_ids.append(str(message_id))
    out: dict[str, Any] = {"id": ticket.id}
    if keys:
        out["alert_keys"] = keys
        out["firings"] = firings
        out["status"] = str(ticket.status)
        out["opened_at"] = ticket.opened_at.isoformat()
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


def ticket_facts(store: Store) -> Iterator[tuple[str, dict[str, Any]]]:
    """(ID, intake facts) of every readable ticket (broken ones skipped), from
    the index's content-keyed facts, so a mail pipe does not parse 100,000
    tickets per message."""
    for fact in store.iter_facts(_FACTS_NAME, _FACTS_VERSION, _facts, lambda exc: None):
        yield str(fact["id"]), fact


# ---------------------------------------------------------------------------
# Registration (the steps of services.registration.create, batched)
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Batch:
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
    before: dict[str, Ticket] = dataclasses.field(default_factory=dict)
    """Incidents this batch changed that existed before it, as they were."""
    told: list[Any] = dataclasses.field(default_factory=list)
    """The `notices.Queued` of those changes (an alert's reopen tells the handler)."""

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
        if ticket.id not in self.tickets:
            self.before[ticket.id] = ticket
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
            ids_ = list(
                dict.fromkeys(o.ticket_id for o in self.outcomes if o.action != "duplicate")
            )
            message = f"{what}: {len(ids_)} incidents\n\n" + "\n".join(messages)
        if self.due and self.rules is not None:
            from elinkctl.services import check

            # Before the commit, as in `new`: deterministic keys make it safe.
            self.queued = check.queue(check.outbox_for(self.store), self.rules, self.due, self.now)
        # The reporter of a mailed-in incident is told its ID (services.notices).
        from elinkctl.services.notices import acknowledge_mailed

        told = acknowledge_mailed(self.tx, self.tickets, self.now, self.notes)
        self._queue_steps()
        try:
            self.tx.commit(message)
        except BaseException:
            told.forget()
            for one in self.told:
                one.forget()
            raise
        return message

    def _queue_steps(self) -> None:
        """Queue the notices of what this batch did to existing incidents, as a
        command's step does (`notices.queue_step`): an alert firing again
        reopens an incident, and its handler hears of it like of any reopen."""
        from elinkctl.services.notices import queue_step

        for ticket_id, before in self.before.items():
            after = self.tickets[ticket_id]
            one = queue_step(self.store, before, after, self.now)
            self.notes.extend(one.notes)
            one.notes = []
            if one.ticket is not after:  # Message-IDs recorded on the events
                self.tickets[ticket_id] = one.ticket
                self.tx.put(one.ticket)
            self.told.append(one)

    def after_lock(self) -> None:
        """Send what was queued (outside the lock, as ``new`` does)."""
        for one in self.told:
            self.notes.extend(one.after_lock(self.now))  # a P1's notices at once
        if self.due and self.rules is not None:
            from elinkctl.services import check

            self.notes.extend(
                check.registration_notes(self.store, self.rules, self.due, self.queued, self.now)
            )

    def result(self, message: str | None) -> IntakeResult:
        return IntakeResult(tuple(self.outcomes), tuple(self.notes), message)


def local_time(when: dt.datetime | None, tz: dt.tzinfo) -> dt.datetime | None:
    if when is None:
        return None
    try:
        return when.astimezone(tz).replace(microsecond=0)
    except OverflowError:  # year 9999 shifted past the end of time
        return when.replace(microsecond=0)
