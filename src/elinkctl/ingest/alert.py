"""Parse monitoring webhooks into :class:`Alert` records (``elinkctl ingest alert``).

Monitoring is one of the procedure's incident sources (来源: 监控). Two
senders are understood; :func:`parse_alerts` tells them apart by shape, so
one endpoint/command serves both.

Prometheus Alertmanager (webhook ``version: "4"``)
    ``{version, groupKey, truncatedAlerts, status, receiver, groupLabels,
    commonLabels, commonAnnotations, externalURL, alerts: [{status, labels,
    annotations, startsAt, endsAt, generatorURL, fingerprint}]}``. Required:
    ``alerts`` (a non-empty list) and, per alert, ``labels`` (an object).
    ``status`` falls back to the group's. Each alert's annotations are
    layered over ``commonAnnotations``. ``endsAt`` is only kept for resolved
    alerts (``0001-01-01T00:00:00Z`` and a firing alert's predicted expiry
    mean "not ended"). Version ``"3"`` (Alertmanager before 0.8: the same
    fields) is read too, and so is Grafana Alerting's webhook (``orgId``,
    ``version: "1"``: the same alerts); another ``version`` is refused
    rather than misread.
    ``truncatedAlerts`` > 0 (the receiver's ``max_alerts`` cut the group)
    becomes a note: those alerts were never sent, so they cannot be
    registered, and the desk must know.

Zabbix (the JSON a webhook media type script posts)
    See :mod:`elinkctl.ingest.zabbix` for the accepted keys, event sources
    and update notifications.

The key (:attr:`Alert.key`) identifies *the alert*, not one notification of
it, so repeats and the resolved notification find the same incident:
Alertmanager's ``fingerprint`` (else a hash of the sorted labels), Zabbix's
``trigger:<id>`` (else a hash of host and event name). One *firing* of the
alert is the key plus its start (``startsAt``) or, for Zabbix, its event ID:
a repeat of the same firing (Alertmanager's ``repeat_interval``, Zabbix's
escalation steps) carries the same, a new firing a new one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from elinkctl.ingest.alertmodel import (
    DEFAULT_TZ,
    Alert,
    AlertBatch,
    AlertKind,
    AlertSource,
    AlertStatus,
    ZabbixUpdate,
    first,
    labels_hash,
    normalise_severity,
    parse_iso,
    str_map,
)
from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.limits import check_alert_count, load_json
from elinkctl.ingest.zabbix import looks_zabbix, parse_zabbix

__all__ = [
    "DEFAULT_TZ",
    "Alert",
    "AlertBatch",
    "AlertKind",
    "AlertSource",
    "AlertStatus",
    "ZabbixUpdate",
    "normalise_severity",
    "parse_alert_payload",
    "parse_alerts",
]


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def parse_alert_payload(data: bytes, *, tz: dt.tzinfo | None = None) -> list[Alert]:
    """Every alert in one webhook body, in the order sent (see :func:`parse_alerts`;
    the notes about what was not taken are dropped)."""
    return list(parse_alerts(data, tz=tz).alerts)


def parse_alerts(data: bytes, *, tz: dt.tzinfo | None = None) -> AlertBatch:
    """Every alert in one webhook body, in the order sent, and notes about
    what the body holds but is not an alert to act on.

    ``tz`` is the zone of Zabbix's zone-less ``event_date``/``event_time``
    (pass the store's time zone; default Asia/Shanghai). Raises
    :class:`IngestError` for invalid JSON, a shape that is neither
    Alertmanager nor Zabbix, or a missing required field — the message
    names the field.
    """
    if not isinstance(data, bytes | bytearray):
        raise IngestError(f"alert payload must be bytes, not {type(data).__name__}")
    if not bytes(data).strip():
        raise IngestError("alert payload is empty")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"alert payload is not UTF-8 (byte {exc.start})") from None
    try:
        payload = load_json(text)
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"alert payload is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    zone = tz or DEFAULT_TZ
    if isinstance(payload, dict) and "alerts" in payload:
        return _parse_alertmanager(payload)
    items: list[dict[str, Any]] | None = None
    if isinstance(payload, dict) and looks_zabbix(payload):
        items = [payload]
    elif (
        isinstance(payload, list)
        and payload
        and all(isinstance(item, dict) and looks_zabbix(item) for item in payload)
    ):
        check_alert_count(len(payload))
        items = payload
    if items is not None:
        alerts: list[Alert] = []
        notes: list[str] = []
        for index, item in enumerate(items):
            where = f"[{index}]" if isinstance(payload, list) else ""
            one, note = parse_zabbix(item, zone, where=where)
            if one is not None:
                alerts.append(one)
            if note:
                notes.append(note)
        return AlertBatch(tuple(alerts), tuple(dict.fromkeys(notes)))
    if isinstance(payload, dict):
        shown = ", ".join(sorted(str(k)[:40] for k in payload)[:8]) or "no keys"
        raise IngestError(
            f"unknown alert payload: neither Alertmanager (no 'alerts') nor Zabbix "
            f"(no event/trigger fields); keys: {shown}"
        )
    raise IngestError(
        f"unknown alert payload: expected a JSON object, got {type(payload).__name__}"
    )


# ---------------------------------------------------------------------------
# Alertmanager
# ---------------------------------------------------------------------------


def _truncated_note(payload: dict[str, Any], received: int) -> str | None:
    """The note for ``truncatedAlerts`` > 0, or None (absent, 0, or not a count)."""
    raw = payload.get("truncatedAlerts")
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    try:
        count = int(raw)
    except ValueError:
        return None
    if count <= 0:
        return None
    return (
        f"Alertmanager left {count:,} more alert(s) of this group out of the notification "
        f"(truncatedAlerts; {received:,} received and recorded): those were never sent, so "
        "they are not registered — set max_alerts: 0 (no limit) or a larger max_alerts in "
        "the webhook_config of this receiver, and check Alertmanager's UI for the rest"
    )


def _parse_alertmanager(payload: dict[str, Any]) -> AlertBatch:
    version = payload.get("version")
    grafana = "orgId" in payload  # Grafana Alerting's webhook: the same shape, version "1"
    if version is not None and str(version) not in (("1", "4") if grafana else ("3", "4")):
        raise IngestError(
            f'Alertmanager webhook version {str(version)[:20]!r} is not supported (expected "4")'
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise IngestError("Alertmanager payload: 'alerts' must be a list")
    if not alerts:
        raise IngestError("Alertmanager payload: 'alerts' is empty")
    check_alert_count(len(alerts))
    common_labels = str_map(payload.get("commonLabels"), "commonLabels")
    common_annotations = str_map(payload.get("commonAnnotations"), "commonAnnotations")
    group_status = payload.get("status")
    external_url = payload.get("externalURL")
    parsed: list[Alert] = []
    for index, item in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise IngestError(f"Alertmanager payload: {where} must be an object")
        if "labels" not in item:
            raise IngestError(f"Alertmanager payload: {where}.labels is missing")
        labels = {**common_labels, **str_map(item.get("labels"), f"{where}.labels")}
        if not labels:
            raise IngestError(f"Alertmanager payload: {where}.labels is empty")
        annotations = {
            **common_annotations,
            **str_map(item.get("annotations"), f"{where}.annotations"),
        }
        raw_status = item.get("status", group_status)
        if raw_status not in ("firing", "resolved"):
            raise IngestError(
                f"Alertmanager payload: {where}.status must be 'firing' or 'resolved', "
                f"got {str(raw_status)[:40]!r}"
            )
        status: AlertStatus = "firing" if raw_status == "firing" else "resolved"
        fingerprint = item.get("fingerprint")
        key = str(fingerprint).strip() if fingerprint else f"labels:{labels_hash(labels)}"
        name = labels.get("alertname") or "(unnamed alert)"
        summary = first(annotations, "summary", "title", "message") or name
        description = first(annotations, "description", "message") or ""
        ends_at = parse_iso(item.get("endsAt"), f"{where}.endsAt")
        generator = item.get("generatorURL")
        url = str(generator) if generator else (str(external_url) if external_url else None)
        parsed.append(
            Alert(
                source="alertmanager",
                key=key,
                status=status,
                name=name,
                severity=normalise_severity(labels.get("severity")),
                labels=labels,
                annotations=annotations,
                summary=summary,
                description=description,
                starts_at=parse_iso(item.get("startsAt"), f"{where}.startsAt"),
                ends_at=ends_at if status == "resolved" else None,
                url=url,
                instance=first(labels, "instance", "host", "hostname", "node", "pod"),
                service=first(labels, "service", "system"),
            )
        )
    note = _truncated_note(payload, len(parsed))
    return AlertBatch(tuple(parsed), (note,) if note else ())
