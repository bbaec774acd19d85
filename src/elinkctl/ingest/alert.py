"""Parse monitoring webhooks into :class:`Alert` records (``elinkctl ingest alert``).

Monitoring is one of the procedure's incident sources (来源: 监控). Two
senders are understood; :func:`parse_alert_payload` tells them apart by
shape, so one endpoint/command serves both.

Prometheus Alertmanager (webhook ``version: "4"``)
    ``{version, groupKey, status, receiver, groupLabels, commonLabels,
    commonAnnotations, externalURL, alerts: [{status, labels, annotations,
    startsAt, endsAt, generatorURL, fingerprint}]}``. Required: ``alerts``
    (a non-empty list) and, per alert, ``labels`` (an object). ``status``
    falls back to the group's. Each alert's annotations are layered over
    ``commonAnnotations``. ``endsAt`` is only kept for resolved alerts
    (``0001-01-01T00:00:00Z`` and a firing alert's predicted expiry mean
    "not ended"). Another ``version`` is refused rather than misread.

Zabbix (the JSON a webhook media type script posts)
    Zabbix has no fixed webhook body: the media type's parameters are
    whatever the administrator typed. Accepted is one JSON object (or a
    list of them). Key names are matched case-insensitively, with ``.``,
    ``-`` and spaces read as ``_`` (so ``EVENT.ID``, ``eventId`` and
    ``event_id`` all work). Values that are unexpanded macros such as
    ``{EVENT.RECOVERY.DATE}`` count as absent. The keys, first match wins:

    ========================  ==================================================
    name (required)           ``event_name``, ``eventname``, ``trigger_name``,
                              ``triggername``, ``subject``, ``alert_subject``,
                              ``name``
    status (required)         ``status``, ``event_status``, ``eventstatus``
                              (``PROBLEM``/``RESOLVED``/``OK``/``RECOVERY``/
                              ``UPDATE``, 问题/已恢复/已解决), else ``event_value``,
                              ``value`` (``1`` problem, ``0`` resolved)
    identity (one required)   ``trigger_id``, ``triggerid`` — or ``host`` + name
    event id                  ``event_id``, ``eventid`` (per occurrence; kept as
                              :attr:`Alert.event_id`, never the key)
    severity                  ``severity``, ``event_severity``, ``trigger_severity``
                              (English or Chinese UI names), else ``event_nseverity``,
                              ``nseverity`` (0–5)
    host                      ``host``, ``host_name``, ``hostname``, ``host_host``
    host_ip                   ``host_ip``, ``hostip``, ``ip``, ``host_conn``
    host group                ``host_group``, ``hostgroup``, ``host_groups``,
                              ``trigger_hostgroup_name``
    tags                      ``event_tags``, ``tags``, ``event_tagsjson``,
                              ``tagsjson`` — ``[{"tag":…, "value":…}]``, an object,
                              or the ``{EVENT.TAGS}`` text ``"a:1, b:2"``
    message                   ``message``, ``alert_message``, ``event_message``,
                              ``description``, ``trigger_description``
    start time                ``event_date`` + ``event_time`` (``2026.11.23`` +
                              ``10:05:00``, Zabbix server local time = ``tz``),
                              else ``timestamp``/``event_timestamp``/``clock``
                              (Unix seconds or ISO 8601)
    end time                  ``event_recovery_date`` + ``event_recovery_time``,
                              else ``recovery_timestamp``
    url                       ``url``, ``event_url``, ``trigger_url``; else built
                              from ``zabbix_url`` + trigger and event id
    ========================  ==================================================

The key (:attr:`Alert.key`) identifies *the alert*, not one notification of
it, so repeats and the resolved notification find the same incident:
Alertmanager's ``fingerprint`` (else a hash of the sorted labels), Zabbix's
``trigger:<id>`` (else a hash of host and event name).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.limits import check_alert_count, load_json, time_in_range

__all__ = ["Alert", "AlertSource", "AlertStatus", "parse_alert_payload", "normalise_severity"]

AlertSource = Literal["alertmanager", "zabbix"]
AlertStatus = Literal["firing", "resolved"]

#: Zabbix times carry no zone; they are read in this one unless told otherwise.
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

_ZABBIX_NSEVERITY = ("not classified", "information", "warning", "average", "high", "disaster")
# The Chinese Zabbix frontend expands {EVENT.SEVERITY} to these names.
_SEVERITY_ALIASES = {
    "未分类": "not classified",
    "信息": "information",
    "警告": "warning",
    "一般严重": "average",
    "一般": "average",
    "严重": "high",
    "灾难": "disaster",
    "not_classified": "not classified",
    "notclassified": "not classified",
}
_FIRING_WORDS = frozenset({"problem", "firing", "update", "问题", "故障", "1"})
_RESOLVED_WORDS = frozenset(
    {"resolved", "ok", "recovery", "recovered", "已恢复", "已解决", "恢复", "0"}
)
_MACRO_RE = re.compile(r"^\{[A-Z0-9_.:$#]+\}$")
_AM_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Alert:
    """One alert as the desk sees it, whatever the monitoring system.

    ``severity`` is lower-case (``"critical"``, ``"high"``, ``"not
    classified"`` …) or ``"unknown"`` when the sender gave none; the
    mapping rules decide what it means. ``labels`` are the identifying
    labels (Alertmanager labels, Zabbix tags plus host facts);
    ``annotations`` the descriptive ones.
    """

    source: AlertSource
    key: str
    status: AlertStatus
    name: str
    severity: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    description: str = ""
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    url: str | None = None
    instance: str | None = None
    service: str | None = None
    event_id: str | None = None


def normalise_severity(value: object) -> str:
    """Lower-case, single-spaced severity; Chinese Zabbix names translated."""
    if value is None:
        return "unknown"
    text = " ".join(str(value).strip().lower().split())
    if not text:
        return "unknown"
    return _SEVERITY_ALIASES.get(text, text)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def parse_alert_payload(data: bytes, *, tz: dt.tzinfo | None = None) -> list[Alert]:
    """Every alert in one webhook body, in the order sent.

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
    if isinstance(payload, dict) and _looks_zabbix(payload):
        return [_parse_zabbix(payload, zone, where="")]
    if (
        isinstance(payload, list)
        and payload
        and all(isinstance(item, dict) and _looks_zabbix(item) for item in payload)
    ):
        check_alert_count(len(payload))
        return [_parse_zabbix(item, zone, where=f"[{i}]") for i, item in enumerate(payload)]
    if isinstance(payload, dict):
        shown = ", ".join(sorted(str(k) for k in payload)[:8]) or "no keys"
        raise IngestError(
            f"unknown alert payload: neither Alertmanager (no 'alerts') nor Zabbix "
            f"(no event/trigger fields); keys: {shown}"
        )
    raise IngestError(
        f"unknown alert payload: expected a JSON object, got {type(payload).__name__}"
    )


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _str_map(value: object, where: str) -> dict[str, str]:
    """A JSON object of labels as ``dict[str, str]`` (values stringified)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IngestError(f"{where} must be an object, got {type(value).__name__}")
    return {str(k): _scalar(v) for k, v in value.items() if v is not None}


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _parse_iso(value: object, where: str) -> dt.datetime | None:
    """RFC 3339 as Alertmanager writes it (``Z``, up to nanoseconds)."""
    if value is None or value == "" or value == _AM_ZERO_TIME:
        return None
    if not isinstance(value, str):
        raise IngestError(f"{where}: expected an RFC 3339 time, got {value!r}")
    text = value.strip()
    # Go writes nanoseconds; datetime keeps microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(f"{where}: invalid time {value!r}") from None
    if when.year <= 1:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return time_in_range(when, where)


def _labels_hash(labels: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _first(mapping: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


# ---------------------------------------------------------------------------
# Alertmanager
# ---------------------------------------------------------------------------


def _parse_alertmanager(payload: dict[str, Any]) -> list[Alert]:
    version = payload.get("version")
    if version is not None and str(version) != "4":
        raise IngestError(
            f'Alertmanager webhook version {version!r} is not supported (expected "4")'
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise IngestError("Alertmanager payload: 'alerts' must be a list")
    if not alerts:
        raise IngestError("Alertmanager payload: 'alerts' is empty")
    check_alert_count(len(alerts))
    common_labels = _str_map(payload.get("commonLabels"), "commonLabels")
    common_annotations = _str_map(payload.get("commonAnnotations"), "commonAnnotations")
    group_status = payload.get("status")
    external_url = payload.get("externalURL")
    parsed: list[Alert] = []
    for index, item in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            raise IngestError(f"Alertmanager payload: {where} must be an object")
        if "labels" not in item:
            raise IngestError(f"Alertmanager payload: {where}.labels is missing")
        labels = {**common_labels, **_str_map(item.get("labels"), f"{where}.labels")}
        if not labels:
            raise IngestError(f"Alertmanager payload: {where}.labels is empty")
        annotations = {
            **common_annotations,
            **_str_map(item.get("annotations"), f"{where}.annotations"),
        }
        raw_status = item.get("status", group_status)
        if raw_status not in ("firing", "resolved"):
            raise IngestError(
                f"Alertmanager payload: {where}.status must be 'firing' or 'resolved', "
                f"got {raw_status!r}"
            )
        status: AlertStatus = "firing" if raw_status == "firing" else "resolved"
        fingerprint = item.get("fingerprint")
        key = str(fingerprint).strip() if fingerprint else f"labels:{_labels_hash(labels)}"
        name = labels.get("alertname") or "(unnamed alert)"
        summary = _first(annotations, "summary", "title", "message") or name
        description = _first(annotations, "description", "message") or ""
        ends_at = _parse_iso(item.get("endsAt"), f"{where}.endsAt")
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
                starts_at=_parse_iso(item.get("startsAt"), f"{where}.startsAt"),
                ends_at=ends_at if status == "resolved" else None,
                url=url,
                instance=_first(labels, "instance", "host", "hostname", "node", "pod"),
                service=_first(labels, "service", "system"),
            )
        )
    return parsed


# ---------------------------------------------------------------------------
# Zabbix
# ---------------------------------------------------------------------------

_Z_NAME = (
    "event_name",
    "eventname",
    "trigger_name",
    "triggername",
    "subject",
    "alert_subject",
    "name",
)
_Z_STATUS = ("status", "event_status", "eventstatus")
_Z_VALUE = ("event_value", "eventvalue", "value")
_Z_EVENT_ID = ("event_id", "eventid")
_Z_TRIGGER_ID = ("trigger_id", "triggerid")
_Z_SEVERITY = ("severity", "event_severity", "eventseverity", "trigger_severity")
_Z_NSEVERITY = ("event_nseverity", "nseverity", "trigger_nseverity")
_Z_HOST = ("host", "host_name", "hostname", "host_host")
_Z_HOST_IP = ("host_ip", "hostip", "ip", "host_conn")
_Z_GROUP = ("host_group", "hostgroup", "host_groups", "trigger_hostgroup_name")
_Z_TAGS = ("event_tags", "tags", "event_tagsjson", "tagsjson", "eventtags")
_Z_MESSAGE = ("message", "alert_message", "event_message", "description", "trigger_description")
_Z_URL = ("url", "event_url", "trigger_url")
# Any of these marks a payload as Zabbix.
_Z_MARKERS = frozenset(
    _Z_EVENT_ID
    + _Z_TRIGGER_ID
    + _Z_VALUE
    + _Z_NSEVERITY
    + (
        "event_name",
        "eventname",
        "event_status",
        "eventstatus",
        "event_severity",
        "trigger_name",
        "event_date",
    )
)


def _norm_key(key: object) -> str:
    return re.sub(r"[.\-\s]+", "_", str(key).strip().strip("{}")).lower()


def _looks_zabbix(payload: dict[str, Any]) -> bool:
    keys = {_norm_key(k) for k in payload}
    if keys & _Z_MARKERS:
        return True
    return bool(keys & set(_Z_HOST)) and bool(keys & set(_Z_SEVERITY))


def _z_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """Keys normalised; unexpanded ``{MACRO}`` values and blanks dropped."""
    fields: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value or _MACRO_RE.match(value):
                continue
        fields.setdefault(_norm_key(key), value)
    return fields


def _z_get(fields: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in fields:
            return fields[key]
    return None


def _z_text(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    value = _z_get(fields, keys)
    if value is None or isinstance(value, dict | list):
        return None
    return _scalar(value).strip() or None


def _z_tags(value: Any, where: str) -> dict[str, str]:
    """Zabbix tags in any of the shapes media types send them."""
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "{")):
            try:
                value = load_json(text, f"Zabbix payload: {where}")
            except json.JSONDecodeError:
                raise IngestError(f"Zabbix payload: {where} is not valid JSON") from None
        else:
            tags: dict[str, str] = {}
            # {EVENT.TAGS} expands to "tag1:value1, tag2:value2, tag3".
            for item in text.split(","):
                tag, _, tag_value = item.strip().partition(":")
                if tag.strip():
                    tags[tag.strip()] = tag_value.strip()
            return tags
    if isinstance(value, dict):
        return {str(k): _scalar(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        tags = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict) or "tag" not in item:
                raise IngestError(
                    f"Zabbix payload: {where}[{index}] must be an object with 'tag' and 'value'"
                )
            tags[str(item["tag"])] = _scalar(item.get("value", ""))
        return tags
    raise IngestError(f"Zabbix payload: {where} must be a list, object or text")


def _z_status(fields: Mapping[str, Any], where: str) -> AlertStatus:
    raw = _z_get(fields, _Z_STATUS)
    source = "status"
    if raw is None:
        raw = _z_get(fields, _Z_VALUE)
        source = "event_value"
    if raw is None:
        raise IngestError(f"Zabbix payload{where}: status is missing (status or event_value)")
    word = _scalar(raw).strip().lower()
    if word in _RESOLVED_WORDS:
        return "resolved"
    if word in _FIRING_WORDS:
        return "firing"
    raise IngestError(
        f"Zabbix payload{where}: {source} {raw!r} is neither PROBLEM/1 nor RESOLVED/OK/0"
    )


def _z_severity(fields: Mapping[str, Any], where: str) -> str:
    named = _z_text(fields, _Z_SEVERITY)
    if named is not None and not named.isdigit():
        return normalise_severity(named)
    number = named if named is not None else _z_text(fields, _Z_NSEVERITY)
    if number is None:
        return "unknown"
    # isdigit() is true for "²" and for 10,000 digits, which int() refuses.
    if not (number.isascii() and number.isdigit() and len(number) <= 2) or int(number) >= len(
        _ZABBIX_NSEVERITY
    ):
        raise IngestError(f"Zabbix payload{where}: severity number {number[:40]!r} is not 0–5")
    return _ZABBIX_NSEVERITY[int(number)]


def _z_time(
    fields: Mapping[str, Any],
    date_key: str,
    time_key: str,
    stamp_keys: tuple[str, ...],
    tz: dt.tzinfo,
    where: str,
) -> dt.datetime | None:
    date = _z_text(fields, (date_key,))
    clock = _z_text(fields, (time_key,))
    if date and clock:
        text = f"{date.replace('.', '-').replace('/', '-')} {clock}"
        try:
            when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            return time_in_range(when, f"Zabbix payload{where}: {date_key}")
        except ValueError:
            raise IngestError(
                f"Zabbix payload{where}: {date_key}/{time_key} {date!r} {clock!r} "
                "is not YYYY.MM.DD HH:MM:SS"
            ) from None
    stamp = _z_get(fields, stamp_keys)
    if stamp is None:
        return None
    text = _scalar(stamp).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        try:
            when = dt.datetime.fromtimestamp(float(text), tz=tz)
            return time_in_range(when, f"Zabbix payload{where}: timestamp")
        except (OverflowError, OSError, ValueError):
            raise IngestError(f"Zabbix payload{where}: timestamp {text} is out of range") from None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(f"Zabbix payload{where}: invalid timestamp {text!r}") from None
    when = when if when.tzinfo else when.replace(tzinfo=tz)
    return time_in_range(when, f"Zabbix payload{where}: timestamp")


def _parse_zabbix(payload: dict[str, Any], tz: dt.tzinfo, *, where: str) -> Alert:
    fields = _z_fields(payload)
    name = _z_text(fields, _Z_NAME)
    if name is None:
        raise IngestError(f"Zabbix payload{where}: event name is missing (event_name or subject)")
    status = _z_status(fields, where)
    host = _z_text(fields, _Z_HOST)
    trigger_id = _z_text(fields, _Z_TRIGGER_ID)
    if trigger_id is not None:
        key = f"trigger:{trigger_id}"
    elif host is not None:
        identity = f"{host}\0{name}".encode()
        key = f"host:{hashlib.sha256(identity).hexdigest()[:16]}"
    else:
        raise IngestError(
            f"Zabbix payload{where}: no identity — give trigger_id, or host and event_name"
        )
    tag_key = next((k for k in _Z_TAGS if k in fields), "tags")
    labels = _z_tags(fields.get(tag_key), tag_key)
    host_ip = _z_text(fields, _Z_HOST_IP)
    groups = _z_text(fields, _Z_GROUP)
    # {TRIGGER.HOSTGROUP.NAME} lists every group ("财务系统, Linux servers"):
    # the first one stands for the host's service when no tag names it.
    group = groups.split(",")[0].strip() if groups else None
    severity = _z_severity(fields, where)
    # Host facts become labels unless a tag of the same name says otherwise.
    for label, value in (
        ("host", host),
        ("host_ip", host_ip),
        ("host_group", group),
        ("host_groups", groups if groups != group else None),
        ("trigger_id", trigger_id),
    ):
        if value is not None:
            labels.setdefault(label, value)
    labels.setdefault("severity", severity)
    message = _z_text(fields, _Z_MESSAGE) or ""
    annotations = {"message": message} if message else {}
    event_id = _z_text(fields, _Z_EVENT_ID)
    url = _z_text(fields, _Z_URL)
    base = _z_text(fields, ("zabbix_url",))
    if url is None and base and trigger_id and event_id:
        url = f"{base.rstrip('/')}/tr_events.php?triggerid={trigger_id}&eventid={event_id}"
    service = _first(labels, "service", "system", "host_group")
    starts_at = _z_time(
        fields, "event_date", "event_time", ("timestamp", "event_timestamp", "clock"), tz, where
    )
    ends_at = _z_time(
        fields,
        "event_recovery_date",
        "event_recovery_time",
        ("recovery_timestamp", "event_recovery_timestamp"),
        tz,
        where,
    )
    return Alert(
        source="zabbix",
        key=key,
        status=status,
        name=name,
        severity=severity,
        labels=labels,
        annotations=annotations,
        summary=name,
        description=message,
        starts_at=starts_at,
        ends_at=ends_at if status == "resolved" else None,
        url=url,
        instance=host,
        service=service or None,
        event_id=event_id,
    )
