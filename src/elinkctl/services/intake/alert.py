"""``ingest alert``: monitoring alerts become incidents, alert events, reopens.

What each notification does (the package docstring has the whole rule set):

* A *repeat* of a firing already recorded on some incident — same alert key
  and same Zabbix event ID, or, when either lacks an event ID, same key and
  same start — is matched to that incident whatever its state, and nothing
  is written: Alertmanager re-sends every ``repeat_interval`` and Zabbix
  repeats escalation steps, and a false alarm rejected once must stay
  silent. The ID is printed and a note says what state the incident is in.
* A *new* firing folds onto the open incident of the alert, reopens one
  resolved less than ``flap_window`` ago, or registers a new incident.
* Zabbix problem updates become ``commented`` events (who, what they did,
  what they wrote), once each; a "closed" update is also the resolution.
* Zabbix internal events (a trigger monitoring cannot evaluate, and back)
  are a comment on the trigger's open incident, never the problem.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from elinkctl.config import Config
from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.errors import TransitionError
from elinkctl.ingest import Alert, AlertRules, Registration, parse_alerts
from elinkctl.services.intake.common import (
    ALERT_REOPEN_REASON,
    AUTO_RESOLVE_SOLUTION,
    Batch,
    IntakeResult,
    Outcome,
    clean_text,
    instant,
    local_time,
    one_line,
    ticket_facts,
)
from elinkctl.store.store import Store
from elinkctl.timeutil import as_time

_TEXT_MAX = 2000


@dataclasses.dataclass
class _Ref:
    """What the intake facts say of one incident bearing an alert key."""

    id: str
    status: str
    opened_at: str
    firings: list[tuple[str, str, str]]


@dataclasses.dataclass
class _Known:
    """The incidents of the alert keys in one payload, from the intake facts
    (no ticket parsed), kept up to date as the batch records."""

    batch: Batch
    tz: dt.tzinfo
    by_key: dict[str, list[_Ref]] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, batch: Batch, tz: dt.tzinfo, keys: set[str]) -> _Known:
        known = cls(batch, tz)
        for tid, fact in ticket_facts(store):
            hits = [k for k in fact.get("alert_keys", []) if k in keys]
            if not hits:
                continue
            firings = [
                (str(f[0]), str(f[1]), str(f[2]))
                for f in fact.get("firings", [])
                if isinstance(f, list) and len(f) == 3
            ]
            ref = _Ref(tid, str(fact.get("status", "")), str(fact.get("opened_at", "")), firings)
            for key in hits:
                known.by_key.setdefault(key, []).append(ref)
        return known

    def ticket(self, ref: _Ref) -> Ticket:
        return self.batch.tickets.get(ref.id) or self.batch.tx.load(ref.id)

    def _status(self, ref: _Ref) -> str:
        current = self.batch.tickets.get(ref.id)
        return str(current.status) if current is not None else ref.status

    def firing_of(self, alert: Alert) -> _Ref | None:
        """The incident on which this very firing is recorded (latest opened)."""
        start = instant(local_time(alert.starts_at, self.tz))
        eid = alert.event_id or ""
        hits = [
            ref
            for ref in self.by_key.get(alert.key, [])
            if any(k == alert.key and _same_firing(s, e, start, eid) for k, s, e in ref.firings)
        ]
        return max(hits, key=_opened) if hits else None

    def latest(self, key: str, *, open_: bool) -> _Ref | None:
        """The latest opened incident of ``key`` that is open (or resolved)."""
        refs = [
            r
            for r in self.by_key.get(key, [])
            if (self._status(r) in _OPEN if open_ else self._status(r) == Status.RESOLVED)
        ]
        return max(refs, key=_opened) if refs else None

    def add_firing(self, ticket: Ticket, alert: Alert) -> None:
        firing = (alert.key, instant(local_time(alert.starts_at, self.tz)), alert.event_id or "")
        refs = self.by_key.setdefault(alert.key, [])
        ref = next((r for r in refs if r.id == ticket.id), None)
        if ref is None:
            ref = _Ref(ticket.id, str(ticket.status), ticket.opened_at.isoformat(), [])
            refs.append(ref)
        ref.firings.append(firing)


_OPEN = frozenset(str(s) for s in OPEN_STATUSES)
_EPOCH = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _opened(ref: _Ref) -> dt.datetime:
    """When the incident was opened (ISO text from the facts; offsets may differ)."""
    when = as_time(ref.opened_at)
    if when is None:
        return _EPOCH
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _same_firing(rec_start: str, rec_eid: str, start: str, eid: str) -> bool:
    """Same Zabbix event when both have an ID; else the same start."""
    if rec_eid and eid:
        return rec_eid == eid
    return bool(rec_start and start and rec_start == start)


def _alert_rules(config: Config) -> AlertRules:
    return AlertRules.from_config(config.sla.data.get("alerts"))


def _last_alert_state(ticket: Ticket, key: str) -> tuple[str, dt.datetime | None] | None:
    """(status, starts_at) of the last notification of ``key`` recorded on ``ticket``."""
    last: tuple[str, dt.datetime | None] | None = None
    for event in ticket.events:
        if event.type == "created" and event.get("alert_key") == key:
            last = ("firing", as_time(event.get("starts_at")))
        elif event.type == "alert" and event.get("key") == key:
            last = (str(event.get("status")), as_time(event.get("starts_at")))
    return last


def _firing_state(ticket: Ticket, alert: Alert, tz: dt.tzinfo) -> str | None:
    """The last status recorded on ``ticket`` for this very firing of ``alert``."""
    start = instant(local_time(alert.starts_at, tz))
    eid = alert.event_id or ""
    last: str | None = None
    for event in ticket.events:
        if event.type == "created" and event.get("alert_key") == alert.key:
            status = "firing"
        elif event.type == "alert" and event.get("key") == alert.key:
            status = str(event.get("status"))
        else:
            continue
        if _same_firing(
            instant(event.get("starts_at")), str(event.get("event_id") or ""), start, eid
        ):
            last = status
    return last


def _is_repeat(ticket: Ticket, alert: Alert, tz: dt.tzinfo, status: str | None = None) -> bool:
    """Whether this notification says nothing the ticket does not already say."""
    last = _last_alert_state(ticket, alert.key)
    if last is None or alert.starts_at is None or last[1] is None:
        return False
    return last[0] == (status or alert.status) and instant(last[1]) == instant(
        local_time(alert.starts_at, tz)
    )


def ingest_alerts(store: Store, data: bytes, actor: str, now: dt.datetime) -> IntakeResult:
    """Record every alert of one webhook payload, in one commit.

    The payload is parsed and every alert mapped before the store is
    touched, so a malformed alert anywhere writes nothing.
    """
    config = store.config
    tz = config.tz
    rules = _alert_rules(config)
    parsed = parse_alerts(data, tz=tz)
    mapped = [
        (alert, rules.map(alert, tz=tz) if alert.kind == "problem" else None)
        for alert in parsed.alerts
    ]
    scope = config.scope
    with store.transaction(actor) as tx:
        batch = Batch(tx, now)
        batch.notes.extend(parsed.notes)
        known = _Known.load(store, batch, tz, {alert.key for alert in parsed.alerts})
        for alert, registration in mapped:
            if alert.kind == "internal":
                _internal(batch, known, alert)
            elif alert.kind == "update":
                _update(batch, known, rules, alert)
            elif registration is not None:
                _one_alert(batch, known, rules, alert, registration, scope)
        message = batch.commit("ingest alert")
    batch.after_lock()
    # Notes quote the sender's text (names, keys): no terminal control characters.
    batch.notes[:] = [clean_text(note) for note in batch.notes]
    return batch.result(message)


def _alert_event(alert: Alert, tz: dt.tzinfo, status: str | None = None) -> dict[str, Any]:
    status = status or alert.status
    return {
        "key": alert.key,
        "status": status,
        "summary": one_line(alert.summary or alert.name, 200),
        "starts_at": local_time(alert.starts_at, tz),
        "ends_at": local_time(alert.ends_at, tz) if status == "resolved" else None,
        "severity": alert.severity,
        "event_id": alert.event_id,
    }


def _matched(batch: Batch, ticket: Ticket, note: str) -> None:
    """Nothing written; the ID reported (like a mail delivered twice)."""
    batch.notes.append(note)
    batch.outcomes.append(Outcome(ticket.id, "duplicate", ""))


def _state(ticket: Ticket) -> str:
    """``rejected (false-alarm)``, ``resolved``, … for a note."""
    if ticket.status == Status.REJECTED:
        reason = next(
            (e.get("reason") for e in reversed(ticket.events) if e.type == "rejected"), None
        )
        return f"rejected ({one_line(str(reason), 40)})" if reason else "rejected"
    return str(ticket.status)


def _one_alert(
    batch: Batch,
    known: _Known,
    rules: AlertRules,
    alert: Alert,
    registration: Registration,
    scope: list[str],
) -> None:
    tz = known.tz
    label = one_line(alert.summary or alert.name, 60)
    matched = known.firing_of(alert)
    if alert.status == "firing":
        if matched is not None:
            ticket = known.ticket(matched)
            if (
                alert.source == "alertmanager"
                and ticket.is_open
                and _firing_state(ticket, alert, tz) == "resolved"
            ):
                # Alertmanager said this firing had ended, and now says it fires
                # (after a restart): news, but no new incident. A Zabbix event
                # that ended never fires again: its late problem notification (a
                # media type retry delivered after the recovery) is a repeat.
                ticket = batch.record(
                    ticket,
                    "alert",
                    "alert",
                    f"alert firing again: {label}",
                    **_alert_event(alert, tz),
                )
                return
            if ticket.is_open:
                note = (
                    f"{ticket.id}: alert {label!r} already recorded (a repeat of the firing "
                    "recorded on it); nothing written"
                )
            elif ticket.status == Status.RESOLVED:
                note = (
                    f"{ticket.id} is resolved, but alert {label!r} still fires: a repeat of the "
                    "firing recorded on it (the problem never left); not reopened, not "
                    f"registered again — `elinkctl reopen {ticket.id}` if it is not solved"
                )
            else:
                note = (
                    f"{ticket.id} is {_state(ticket)}: alert {label!r} is a repeat of the "
                    "firing recorded on it; not registered again"
                )
            _matched(batch, ticket, note)
            return
        open_ref = known.latest(alert.key, open_=True)
        if open_ref is not None:
            ticket = batch.record(
                known.ticket(open_ref),
                "alert",
                "alert",
                f"alert firing again: {label}",
                **_alert_event(alert, tz),
            )
            known.add_firing(ticket, alert)
            return
        resolved_ref = known.latest(alert.key, open_=False)
        resolved = known.ticket(resolved_ref) if resolved_ref is not None else None
        if resolved is not None and rules.should_fold(resolved.state.resolved_at, batch.now):
            batch.record(
                resolved,
                "alert",
                "alert",
                f"alert firing again: {label}",
                **_alert_event(alert, tz),
            )
            ticket = batch.record(
                resolved,
                "reopened",
                "reopened",
                f"reopened: {ALERT_REOPEN_REASON}",
                reason=ALERT_REOPEN_REASON,
            )
            known.add_firing(ticket, alert)
            return
        known.add_firing(_register_alert(batch, alert, registration, scope, tz), alert)
        return
    # resolved notification
    if matched is not None:
        target: Ticket | None = known.ticket(matched)
    else:
        ref = known.latest(alert.key, open_=True) or known.latest(alert.key, open_=False)
        target = known.ticket(ref) if ref is not None else None
    if target is None:
        batch.notes.append(
            f"alert {label!r} resolved: no open or resolved incident has its key "
            f"{one_line(alert.key, 60)}; not recorded"
        )
        return
    _resolve(batch, rules, target, alert, tz, label)


def _resolve(
    batch: Batch,
    rules: AlertRules,
    target: Ticket,
    alert: Alert,
    tz: dt.tzinfo,
    label: str,
) -> None:
    """The resolved notification of ``alert`` on ``target`` (auto_resolve applies)."""
    if not target.is_open and target.status != Status.RESOLVED:
        _matched(
            batch,
            target,
            f"{target.id} is {_state(target)}: alert {label!r} resolved; not recorded",
        )
        return
    if _is_repeat(target, alert, tz, "resolved"):
        _matched(batch, target, f"{target.id}: alert {label!r} resolved: already recorded")
        return
    target = batch.record(
        target, "alert", "alert", f"alert resolved: {label}", **_alert_event(alert, tz, "resolved")
    )
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


def _update(batch: Batch, known: _Known, rules: AlertRules, alert: Alert) -> None:
    """A Zabbix problem update: who did what, as a comment on the event's incident."""
    update = alert.update
    if update is None:  # pragma: no cover - the parser always sets it
        return
    label = one_line(alert.summary or alert.name, 60)
    ref = known.firing_of(alert)
    if ref is None and not alert.event_id and alert.starts_at is None:
        ref = known.latest(alert.key, open_=True)
    if ref is None:
        event = f"event {one_line(alert.event_id, 40)}" if alert.event_id else "this event"
        batch.notes.append(
            f"Zabbix update of {label!r} ({one_line(update.action, 80)}): no incident has "
            f"{event} of {one_line(alert.key, 60)}; not recorded"
        )
        return
    ticket = known.ticket(ref)
    if any(e.get("zabbix_update") == update.uid for e in ticket.events):
        shown = one_line(update.action, 80)
        _matched(batch, ticket, f"{ticket.id}: Zabbix update {shown!r} already recorded")
        return
    who = one_line(update.user, 80) or "a Zabbix user"
    action = one_line(update.action, 200)
    text = f"Zabbix: {who} {action}"
    if update.message.strip():
        text += f": {clean_text(update.message.strip())}"
    if len(text) > _TEXT_MAX:
        text = text[: _TEXT_MAX - 1] + "…"
    ticket = batch.record(
        ticket,
        "commented",
        "commented",
        one_line(f"Zabbix: {who} {action}", 120),
        via="zabbix",
        text=text,
        zabbix_update=update.uid,
        event_id=alert.event_id,
    )
    if "severity" in action.lower():
        batch.notes.append(
            f"{ticket.id}: Zabbix {action}; the incident's priority {ticket.priority} is "
            "unchanged (`elinkctl edit` if it should follow)"
        )
    if update.closes:
        _resolve(batch, rules, ticket, alert, known.tz, label)


def _internal(batch: Batch, known: _Known, alert: Alert) -> None:
    """A Zabbix internal event: monitoring of the trigger cannot (or can again)
    evaluate it. News about monitoring, noted on the trigger's open incident —
    never "firing again", never a resolution, never a new incident."""
    label = one_line(alert.name, 80)
    cannot = alert.status == "firing"
    meaning = (
        "Zabbix cannot currently evaluate this trigger: until it can, no alert (and no "
        "recovery) from it says anything about the problem"
        if cannot
        else "Zabbix can evaluate this trigger again"
    )
    ref = known.latest(alert.key, open_=True)
    if ref is None:
        batch.notes.append(
            f"Zabbix internal event {label!r}: {meaning}; no open incident of "
            f"{one_line(alert.key, 60)}, nothing recorded (an internal event is never "
            "taken for the problem)"
        )
        return
    ticket = known.ticket(ref)
    uid = f"{alert.event_id or instant(alert.starts_at)}:{alert.status}"
    if any(e.get("zabbix_internal") == uid for e in ticket.events):
        _matched(batch, ticket, f"{ticket.id}: Zabbix internal event {label!r} already recorded")
        return
    batch.record(
        ticket,
        "commented",
        "commented",
        one_line(f"Zabbix internal event: {label}", 120),
        via="zabbix",
        text=f"{meaning} (internal event: {label})",
        zabbix_internal=uid,
    )


def _register_alert(
    batch: Batch,
    alert: Alert,
    registration: Registration,
    scope: list[str],
    tz: dt.tzinfo,
) -> Ticket:
    system = registration.system
    force = bool(scope and system and system not in scope)
    if force:
        batch.notes.append(
            f"system {system!r} of alert {alert.name!r} is not in the service scope list; "
            "registered anyway (an alert is never dropped) — reject it if it is not ours"
        )
    raw = {
        "title": one_line(registration.title) or "(unnamed alert)",
        "type": registration.type,
        "priority": registration.priority,
        "system": clean_text(system) if system else None,
        "module": clean_text(registration.module) if registration.module else None,
        "source": registration.source,
        "description": clean_text(registration.description),
        "security": registration.security or None,
    }
    return batch.register(
        raw,
        {
            "alert_key": alert.key,
            "alert_source": alert.source,
            "starts_at": local_time(alert.starts_at, tz),
            "event_id": alert.event_id,
        },
        force=force,
    )
