"""Zabbix webhook bodies → :class:`~elinkctl.ingest.alertmodel.Alert`.

Zabbix has no fixed webhook body: a media type's parameters are whatever
the administrator (or the official media type: Slack, MS Teams, PagerDuty,
Event-Driven Ansible …) defined, and elinkctl's receiver gets that
parameters object. Accepted is one JSON object (or a list of them). Key
names are matched case-insensitively, with ``.``, ``-`` and spaces read as
``_`` (``EVENT.ID``, ``eventId`` and ``event_id`` all work). Values that are
unexpanded macros such as ``{EVENT.RECOVERY.DATE}``, and ``*UNKNOWN*``,
count as absent. The keys, first match wins:

========================  ==================================================
name (required)           ``event_name``, ``eventname``, ``trigger_name``,
                          ``triggername``, ``subject``, ``alert_subject``,
                          ``name``, ``title`` — a message-template prefix ("Problem: ",
                          "Resolved in 5m: ", "Updated problem in 1h: ",
                          'Service "X" problem: ', "故障: ", "【恢复】" …)
                          is removed
status (required)         ``status``, ``event_status``, ``eventstatus``,
                          ``trigger_status``, ``state`` (``PROBLEM``/
                          ``RESOLVED``/``OK``/``RECOVERY``/``UPDATE``,
                          问题/已恢复/已解决), else ``event_value``,
                          ``eventvalue``, ``value`` (``1`` problem, ``0`` resolved)
event source              ``event_source`` ({EVENT.SOURCE}: 0 trigger, 1
                          discovery, 2 autoregistration, 3 internal, 4
                          service; absent = 0)
update                    ``event_update_status``/``eventupdate``
                          ({EVENT.UPDATE.STATUS}: 1 = a problem update) with
                          ``event_update_action``, ``event_update_user``
                          ({USER.FULLNAME}), ``event_update_message``,
                          ``event_update_date``/``_time``; without them the
                          default update message text is read
identity (one required)   ``trigger_id``, ``triggerid`` (else the event
                          link's ``triggerid``) — or ``host`` + name
                          (service events: ``service_name`` or the name)
event id                  ``event_id``, ``eventid``, ``alert_uid`` (per
                          occurrence, else from the event link; kept as
                          :attr:`Alert.event_id`, never the key)
severity                  ``severity``, ``event_severity``, ``trigger_severity``
                          (English or Chinese UI names), else ``event_nseverity``,
                          ``nseverity`` (0–5)
host                      ``host``, ``host_name``, ``hostname``, ``host_host``
host_ip                   ``host_ip``, ``hostip``, ``ip``, ``host_conn``
host groups               ``host_group``, ``hostgroup``, ``host_groups``,
                          ``trigger_hostgroup_name`` (text "a, b" or a list);
                          Zabbix's built-in groups ("Discovered hosts",
                          "Linux servers", "Templates/…" …) never stand for
                          the system
tags                      ``event_tags``, ``tags``, ``event_tagsjson``,
                          ``tagsjson`` — ``[{"tag":…, "value":…}]``, an object
                          (values may be lists: Event-Driven Ansible), or the
                          ``{EVENT.TAGS}`` text ``"a:1, b:2"``
message                   ``message``, ``alert_message``, ``event_message``,
                          ``description``, ``trigger_description``
start time                ``event_date`` + ``event_time`` (``2026.11.23`` +
                          ``10:05:00``, Zabbix server local time = ``tz``),
                          else ``timestamp``/``event_timestamp``/``clock``/
                          ``event_datetime_timestamp`` (Unix seconds or ISO 8601)
end time                  ``event_recovery_date`` + ``event_recovery_time``,
                          else ``recovery_timestamp``
url                       ``event_url``, ``trigger_url``,
                          ``link_to_upstream_details``, ``url``; a frontend
                          root ({$ZABBIX.URL}, as PagerDuty's ``url``) is not
                          an event link: the link is built from it (or from
                          ``zabbix_url``) + trigger and event id
========================  ==================================================

Event sources: discovery and autoregistration events are not incidents —
:func:`parse_zabbix` returns no alert and a note (the caller exits 0, so
Zabbix does not retry forever). An internal event (kind ``internal``) is
news about monitoring, never the problem. A problem update (kind
``update``) says who acknowledged, commented, changed severity or closed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from elinkctl.ingest.alertmodel import (
    FIRING_WORDS,
    RESOLVED_WORDS,
    ZABBIX_SEVERITY_COUNT,
    Alert,
    AlertKind,
    AlertStatus,
    ZabbixUpdate,
    first,
    normalise_severity,
    scalar,
    zabbix_nseverity,
)
from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.limits import load_json, time_in_range
from elinkctl.ingest.zabbixnames import is_builtin_group, strip_prefix
from elinkctl.ingest.zabbixtext import says_zabbix, with_text_fields

__all__ = ["looks_zabbix", "parse_zabbix"]

_MACRO_RE = re.compile(r"^\{[A-Z0-9_.:$#]+\}$")
# Zabbix's default "Problem update" message text, for media types (PagerDuty)
# that post only {ALERT.MESSAGE}.
_UPDATE_TEXT_RE = re.compile(
    r"^(?P<user>.{0,200}?)\s+(?P<action>(?:(?:un)?acknowledged|commented|changed\b|closed|"
    r"(?:un)?suppressed|ranked)[^\n]{0,300}?)\s+problem at\s+(?P<at>[\d.]+ [\d:]+)\.?[ \t]*\n?"
    r"(?P<message>.*?)(?:\n\s*\n\s*Current problem status.*)?$",
    re.DOTALL,
)


_Z_NAME = (
    "event_name",
    "eventname",
    "trigger_name",
    "triggername",
    "subject",
    "alert_subject",
    "name",
    "title",
    "entity_display_name",
)
_Z_STATUS = ("status", "event_status", "eventstatus", "trigger_status", "state")
_Z_VALUE = ("event_value", "eventvalue", "value")
_Z_SOURCE = ("event_source", "eventsource")
_Z_EVENT_ID = ("event_id", "eventid", "alert_uid", "entity_id")
_Z_TRIGGER_ID = ("trigger_id", "triggerid")
_Z_SEVERITY = ("severity", "event_severity", "eventseverity", "trigger_severity")
_Z_NSEVERITY = ("event_nseverity", "nseverity", "trigger_nseverity")
_Z_HOST = ("host", "host_name", "hostname", "host_host")
_Z_HOST_IP = ("host_ip", "hostip", "ip", "host_conn")
_Z_GROUP = ("host_group", "hostgroup", "host_groups", "trigger_hostgroup_name")
_Z_TAGS = (
    "event_tags",
    "tags",
    "event_tagsjson",
    "event_tags_json",
    "tagsjson",
    "tags_json",
    "eventtags",
)
_Z_MESSAGE = (
    "message",
    "alert_message",
    "event_message",
    "description",
    "trigger_description",
    "state_message",
)
_Z_URL = ("event_url", "trigger_url", "link_to_upstream_details", "url", "event_info")
_Z_UPDATE_STATUS = ("event_update_status", "eventupdate", "event_update", "update_status")
_Z_UPDATE_ACTION = ("event_update_action", "update_action")
_Z_UPDATE_USER = ("event_update_user", "user_fullname", "update_user", "zbxuser")
_Z_BASE_URL = ("zabbix_url", "zbxurl", "zbx_url")
_Z_UPDATE_MESSAGE = ("event_update_message", "update_message")
_Z_STAMPS = ("timestamp", "event_timestamp", "clock", "event_datetime_timestamp")
# Any of these marks a payload as Zabbix.
_Z_MARKERS = frozenset(
    _Z_EVENT_ID
    + _Z_TRIGGER_ID
    + _Z_VALUE
    + _Z_NSEVERITY
    + _Z_SOURCE
    + (
        "event_name",
        "eventname",
        "event_status",
        "eventstatus",
        "event_severity",
        "trigger_name",
        "event_date",
        "trigger_status",
        "link_to_upstream_details",
    )
)
_SOURCES = {
    "0": "0",
    "trigger": "0",
    "triggers": "0",
    "1": "1",
    "discovery": "1",
    "2": "2",
    "autoregistration": "2",
    "auto_registration": "2",
    "autoreg": "2",
    "3": "3",
    "internal": "3",
    "4": "4",
    "service": "4",
    "services": "4",
}


def _norm_key(key: object) -> str:
    key = re.sub(r"^field(?:_[a-z])?:", "", str(key).strip().lower())  # VictorOps
    return re.sub(r"[.\-\s]+", "_", key.strip("{}"))


def looks_zabbix(payload: dict[str, Any]) -> bool:
    keys = {_norm_key(k) for k in payload}
    if keys & _Z_MARKERS:
        return True
    if keys & set(_Z_HOST) and keys & set(_Z_SEVERITY):
        return True
    return says_zabbix(_z_fields(payload))  # Telegram: subject and message only


def _z_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """Keys normalised; unexpanded ``{MACRO}`` values, ``*UNKNOWN*`` and blanks dropped."""
    fields: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value or _MACRO_RE.match(value) or value == "*UNKNOWN*":
                continue
        fields.setdefault(_norm_key(key), value)
    return with_text_fields(fields)


def _z_get(fields: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in fields:
            return fields[key]
    return None


def _z_text(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    value = _z_get(fields, keys)
    if value is None or isinstance(value, dict | list):
        return None
    return scalar(value).strip() or None


def _tag_value(value: Any) -> str:
    # Event-Driven Ansible posts {tag: [value, …]}: several values of one tag.
    if isinstance(value, list):
        return ", ".join(scalar(v) for v in value if v is not None and scalar(v) != "")
    return scalar(value)


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
        return {str(k): _tag_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        tags = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict) or "tag" not in item:
                raise IngestError(
                    f"Zabbix payload: {where}[{index}] must be an object with 'tag' and 'value'"
                )
            tag = str(item["tag"])
            one = _tag_value(item.get("value", ""))
            # A tag may repeat with several values ({EVENT.TAGSJSON}).
            tags[tag] = (
                f"{tags[tag]}, {one}" if tags.get(tag) and one else (one or tags.get(tag, ""))
            )
        return tags
    raise IngestError(f"Zabbix payload: {where} must be a list, object or text")


def _z_groups(fields: Mapping[str, Any]) -> tuple[str, ...]:
    value = _z_get(fields, _Z_GROUP)
    if isinstance(value, list):
        names = [scalar(v).strip() for v in value if v is not None]
    elif value is None or isinstance(value, dict):
        names = []
    else:
        # {TRIGGER.HOSTGROUP.NAME}: every group, sorted, ", "-joined.
        names = [part.strip() for part in scalar(value).split(",")]
    return tuple(dict.fromkeys(n for n in names if n))


def _z_status(fields: Mapping[str, Any], where: str) -> AlertStatus:
    raw = _z_get(fields, _Z_STATUS)
    source = "status"
    if raw is None:
        raw = _z_get(fields, _Z_VALUE)
        source = "event_value"
    if raw is None:
        raise IngestError(f"Zabbix payload{where}: status is missing (status or event_value)")
    word = scalar(raw).strip().lower()
    if word in RESOLVED_WORDS:
        return "resolved"
    if word in FIRING_WORDS:
        return "firing"
    raise IngestError(
        f"Zabbix payload{where}: {source} {scalar(raw)[:40]!r} is neither PROBLEM/1 "
        "nor RESOLVED/OK/0"
    )


def _internal_status(fields: Mapping[str, Any], name: str, where: str) -> AlertStatus:
    """An internal event's state: 1/UNKNOWN/NOT SUPPORTED is "monitoring cannot
    evaluate" (firing), 0/NORMAL "can again" (resolved)."""
    for raw in (_z_text(fields, _Z_VALUE), _z_text(fields, _Z_STATUS), name):
        if raw is None:
            continue
        word = " ".join(raw.lower().replace("_", " ").split())
        if word in ("1", "unknown", "not supported", "notsupported", "problem"):
            return "firing"
        if word in ("0", "normal", "ok", "resolved"):
            return "resolved"
        if raw is name:
            if re.search(r"\b(unknown|not supported)\b", word):
                return "firing"
            if re.search(r"\bnormal\b", word):
                return "resolved"
    raise IngestError(f"Zabbix payload{where}: internal event: event_value is missing (1 or 0)")


def _z_severity(fields: Mapping[str, Any], where: str) -> str:
    named = _z_text(fields, _Z_SEVERITY)
    if named is not None and not named.isdigit():
        return normalise_severity(named)
    number = named if named is not None else _z_text(fields, _Z_NSEVERITY)
    if number is None:
        return "unknown"
    # isdigit() is true for "²" and for 10,000 digits, which int() refuses.
    if (
        not (number.isascii() and number.isdigit() and len(number) <= 2)
        or int(number) >= ZABBIX_SEVERITY_COUNT
    ):
        raise IngestError(f"Zabbix payload{where}: severity number {number[:40]!r} is not 0–5")
    return zabbix_nseverity(int(number))


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
                f"Zabbix payload{where}: {date_key}/{time_key} {date[:20]!r} {clock[:20]!r} "
                "is not YYYY.MM.DD HH:MM:SS"
            ) from None
    stamp = _z_get(fields, stamp_keys)
    if stamp is None:
        return None
    text = scalar(stamp).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        try:
            when = dt.datetime.fromtimestamp(float(text), tz=tz)
            return time_in_range(when, f"Zabbix payload{where}: timestamp")
        except (OverflowError, OSError, ValueError):
            raise IngestError(
                f"Zabbix payload{where}: timestamp {text[:40]} is out of range"
            ) from None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(f"Zabbix payload{where}: invalid timestamp {text[:40]!r}") from None
    when = when if when.tzinfo else when.replace(tzinfo=tz)
    return time_in_range(when, f"Zabbix payload{where}: timestamp")


def _is_frontend_root(url: str) -> bool:
    """Whether ``url`` is Zabbix's home page ({$ZABBIX.URL}), not an event link."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.query:
        return False
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1].lower()
    return not path or last in ("zabbix", "index.php", "zabbix.php")


def _z_url(
    fields: Mapping[str, Any], source: str, trigger_id: str | None, event_id: str | None
) -> str | None:
    """(event link, frontend root) — a root is never returned as the link."""
    url = _z_text(fields, _Z_URL)
    base = _z_text(fields, _Z_BASE_URL)
    if url is not None and (
        _is_frontend_root(url) or (base and url.rstrip("/") == base.rstrip("/"))
    ):
        base = base or url
        url = None
    if url is None and base and source == "0" and trigger_id and event_id:
        url = f"{base.rstrip('/')}/tr_events.php?triggerid={trigger_id}&eventid={event_id}"
    return url


def _ids_from_link(fields: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(trigger id, event id) from an event link ``…/tr_events.php?triggerid=…&eventid=…``
    (Grafana OnCall's media type posts only the link)."""
    url = _z_text(fields, _Z_URL)
    if url is None:
        return None, None
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return None, None

    def one(name: str) -> str | None:
        values = query.get(name) or []
        value = values[0] if values else ""
        return value if value.isascii() and value.isdigit() and len(value) <= 20 else None

    return one("triggerid"), one("eventid")


def _z_update(fields: Mapping[str, Any], event_id: str | None, message: str) -> ZabbixUpdate:
    action = _z_text(fields, _Z_UPDATE_ACTION)
    user = _z_text(fields, _Z_UPDATE_USER) or ""
    text = _z_text(fields, _Z_UPDATE_MESSAGE) or ""
    date = _z_text(fields, ("event_update_date",)) or ""
    clock = _z_text(fields, ("event_update_time",)) or ""
    at = f"{date} {clock}".strip()
    if action is None or not text or not user:
        # Missing pieces (PagerDuty posts only {ALERT.MESSAGE}; Opsgenie no
        # update message): read Zabbix's default update text.
        found = _UPDATE_TEXT_RE.match(message.replace("\r\n", "\n").strip())
        if found:
            user = user or found.group("user").strip()
            action = action or found.group("action").strip()
            text = text or found.group("message").strip()
            at = at or found.group("at")
        elif action is None:
            action = "updated"
            text = text or message.strip()
    identity = "\0".join((event_id or "", at, action, user, text))
    uid = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return ZabbixUpdate(action=action, user=user, message=text, at=at, uid=uid)


# What an internal event's subject says when the media type does not post
# {EVENT.SOURCE}: "Trigger changed state to UNKNOWN", "Item … became not
# supported", and the way back ("… changed state to NORMAL").
_INTERNAL_NAME_RE = re.compile(
    r"\b(?:changed\s+state\s+to|state\s+changed\s+to|became)\s+"
    r"(?:unknown|not\s+supported|unsupported|normal|supported)\b"
    r"|状态(?:变为|变成|改变为)\s*(?:未知|不支持|正常)",
    re.IGNORECASE,
)


def _source(fields: Mapping[str, Any], where: str) -> str:
    raw = _z_text(fields, _Z_SOURCE)
    if raw is None:
        # Without {EVENT.SOURCE} an internal event would be taken for the
        # problem of its trigger: recognise it by what it says.
        name = _z_text(fields, _Z_NAME) or ""
        return "3" if _INTERNAL_NAME_RE.search(name[:500]) else "0"
    found = _SOURCES.get(_norm_key(raw))
    if found is None:
        raise IngestError(
            f"Zabbix payload{where}: event_source {raw[:40]!r} is not 0–4 "
            "(trigger, discovery, autoregistration, internal, service)"
        )
    return found


def _not_an_incident(source: str, fields: Mapping[str, Any]) -> str:
    what = "discovery" if source == "1" else "autoregistration"
    subject = _z_text(fields, _Z_NAME) or ""
    shown = f" ({subject[:80]})" if subject else ""
    menu = "Discovery actions" if source == "1" else "Autoregistration actions"
    return (
        f"Zabbix {what} event (event_source {source}){shown} is not an incident; nothing "
        f"registered — to stop sending it, remove this media type from the operations of "
        f"the action under Alerts → Actions → {menu}"
    )


def parse_zabbix(
    payload: dict[str, Any], tz: dt.tzinfo, *, where: str
) -> tuple[Alert | None, str | None]:
    """One Zabbix notification: (alert, None), or (None, note) for an event
    that is not an incident (discovery, autoregistration)."""
    fields = _z_fields(payload)
    source = _source(fields, where)
    if source in ("1", "2"):
        return None, _not_an_incident(source, fields)
    kind: AlertKind = "problem"
    if source == "3":
        kind = "internal"
    elif source in ("0", "4") and (
        _z_text(fields, _Z_UPDATE_STATUS) == "1"
        # A hand-written media type posting {EVENT.STATUS}-like "UPDATE".
        or (_z_text(fields, _Z_STATUS) or "").lower() == "update"
    ):
        kind = "update"
    raw_name = _z_text(fields, _Z_NAME)
    if raw_name is None and kind == "problem":
        raise IngestError(f"Zabbix payload{where}: event name is missing (event_name or subject)")
    name, subject_service = strip_prefix(raw_name or "")
    status = (
        _internal_status(fields, name, where) if kind == "internal" else _z_status(fields, where)
    )
    host = _z_text(fields, _Z_HOST)
    linked_trigger, linked_event = _ids_from_link(fields)
    trigger_id = (_z_text(fields, _Z_TRIGGER_ID) or linked_trigger) if source != "4" else None
    service_name = _z_text(fields, ("service_name",)) or subject_service
    if not name:
        name = f"Zabbix internal event of trigger {trigger_id}" if trigger_id else "(unnamed event)"
    if source == "4":
        identity = (service_name or name).encode()
        key = f"service:{hashlib.sha256(identity).hexdigest()[:16]}"
    elif trigger_id is not None:
        key = f"trigger:{trigger_id}"
    elif host is not None:
        identity = f"{host}\0{name}".encode()
        key = f"host:{hashlib.sha256(identity).hexdigest()[:16]}"
    elif kind in ("internal", "update"):  # an update: noted, as no incident has its key
        item = _z_text(fields, ("item_id", "itemid")) or name
        key = f"{kind}:{hashlib.sha256(item.encode()).hexdigest()[:16]}"
    else:
        raise IngestError(
            f"Zabbix payload{where}: no identity — give trigger_id, or host and event_name"
        )
    tag_key = next((k for k in _Z_TAGS if k in fields), "tags")
    labels = _z_tags(fields.get(tag_key), tag_key)
    host_ip = _z_text(fields, _Z_HOST_IP)
    groups = _z_groups(fields)
    group = next((g for g in groups if not is_builtin_group(g)), None)
    severity = _z_severity(fields, where)
    # Host facts become labels unless a tag of the same name says otherwise.
    for label, value in (
        ("service", service_name if source == "4" else None),
        ("host", host),
        ("host_ip", host_ip),
        ("host_group", group),
        ("host_groups", ", ".join(groups) if len(groups) > 1 else None),
        ("trigger_id", trigger_id),
    ):
        if value is not None:
            labels.setdefault(label, value)
    labels.setdefault("severity", severity)
    message = _z_text(fields, _Z_MESSAGE) or ""
    annotations = {"message": message} if message else {}
    event_id = _z_text(fields, _Z_EVENT_ID) or linked_event
    starts_at = _z_time(fields, "event_date", "event_time", _Z_STAMPS, tz, where)
    ends_at = _z_time(
        fields,
        "event_recovery_date",
        "event_recovery_time",
        ("recovery_timestamp", "event_recovery_timestamp"),
        tz,
        where,
    )
    return (
        Alert(
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
            url=_z_url(fields, source, trigger_id, event_id),
            instance=host,
            service=first(labels, "service", "system", "host_group") or None,
            event_id=event_id,
            kind=kind,
            update=_z_update(fields, event_id, message) if kind == "update" else None,
            groups=groups,
        ),
        None,
    )
