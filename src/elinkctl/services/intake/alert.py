"""``ingest alert``: monitoring alerts become incidents, alert events, reopens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from elinkctl.config import Config
from elinkctl.domain.model import Status, Ticket
from elinkctl.errors import TransitionError
from elinkctl.ingest import (
    Alert,
    AlertRules,
    parse_alert_payload,
)
from elinkctl.services.intake.common import (
    ALERT_REOPEN_REASON,
    AUTO_RESOLVE_SOLUTION,
    Batch,
    IntakeResult,
    clean_text,
    local_time,
    one_line,
    ticket_facts,
)
from elinkctl.store.store import Store
from elinkctl.timeutil import as_time

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
            last = ("firing", as_time(event.get("starts_at")))
        elif event.type == "alert" and event.get("key") == key:
            last = (str(event.get("status")), as_time(event.get("starts_at")))
    return last


def _is_repeat(ticket: Ticket, alert: Alert, tz: dt.tzinfo) -> bool:
    """Whether this notification says nothing the ticket does not already say."""
    last = _last_alert_state(ticket, alert.key)
    if last is None or alert.starts_at is None or last[1] is None:
        return False
    return last[0] == alert.status and last[1] == local_time(alert.starts_at, tz)


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
        batch = Batch(tx, now)
        wanted = {alert.key for alert in alerts}
        by_key: dict[str, list[str]] = {}
        for tid, fact in ticket_facts(store):
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
        "summary": one_line(alert.summary or alert.name, 200),
        "starts_at": local_time(alert.starts_at, tz),
        "ends_at": local_time(alert.ends_at, tz) if alert.status == "resolved" else None,
        "severity": alert.severity,
        "event_id": alert.event_id,
    }


def _one_alert(
    batch: Batch,
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
    label = one_line(alert.summary or alert.name, 60)
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
    batch: Batch,
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
        "title": one_line(registration.title) or "(unnamed alert)",
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
            "starts_at": local_time(alert.starts_at, tz),
            "event_id": alert.event_id,
        },
        force=force,
    )
    by_key.setdefault(alert.key, []).append(ticket.id)
