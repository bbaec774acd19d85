"""What a Zabbix notification says in its text, for media types that post
only ``{ALERT.SUBJECT}`` and ``{ALERT.MESSAGE}``.

Zabbix's Telegram media type, most hand-written WeCom/DingTalk/Feishu
scripts of Chinese desks, and the mail-like webhooks post nothing but the
subject and the message the action's template expanded. The facts are still
there, one per line, in Zabbix's default templates
(``ui/include/classes/helpers/CMediatypeHelper.php``)::

    Problem started at 10:05:00 on 2026.11.23
    Problem name: 磁盘空间不足
    Host: fin-db01
    Severity: High
    Original problem ID: 5120331

and in the Chinese templates desks copy from one another::

    告警主机: fin-db01
    告警时间: 2026.11.23 10:05:00
    告警等级: High
    告警信息: 磁盘空间不足
    当前状态: PROBLEM
    事件ID: 5120331

:func:`text_fields` reads those lines into the parameter names the
structured media types use (``event_id``, ``host``, ``event_date`` …), so
one parser serves both; what the payload states as a parameter always wins.
Only the first 200 lines of at most 500 characters are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from elinkctl.ingest.alertmodel import FIRING_WORDS, RESOLVED_WORDS

__all__ = ["text_fields"]

_MAX_LINES = 200
_MAX_LINE = 500

# caption (lower-case, no spaces) → the parameter it stands for
_CAPTIONS: dict[str, str] = {
    "problemname": "event_name",
    "eventname": "event_name",
    "告警信息": "event_name",
    "告警名称": "event_name",
    "故障名称": "event_name",
    "问题名称": "event_name",
    "触发器名称": "event_name",
    "告警标题": "event_name",
    "host": "host",
    "hostname": "host",
    "告警主机": "host",
    "故障主机": "host",
    "主机名称": "host",
    "主机名": "host",
    "主机": "host",
    "hostip": "host_ip",
    "主机地址": "host_ip",
    "主机ip": "host_ip",
    "ip地址": "host_ip",
    "告警地址": "host_ip",
    "severity": "severity",
    "告警等级": "severity",
    "告警级别": "severity",
    "故障等级": "severity",
    "故障级别": "severity",
    "严重级别": "severity",
    "严重性": "severity",
    "originalproblemid": "event_id",
    "eventid": "event_id",
    "problemid": "event_id",
    "事件id": "event_id",
    "故障id": "event_id",
    "告警id": "event_id",
    "triggerid": "trigger_id",
    "触发器id": "trigger_id",
    "当前状态": "status",
    "告警状态": "status",
    "状态": "status",
    "告警时间": "start",
    "故障时间": "start",
    "发生时间": "start",
    "问题时间": "start",
    "恢复时间": "end",
}
_LINE_RE = re.compile(r"^\s*([^:：]{1,30}?)\s*[:：]\s*(.+?)\s*$")
_STARTED_RE = re.compile(
    r"problem\s+started\s+at\s+(\d{1,2}:\d{2}:\d{2})\s+on\s+(\d{4}[./-]\d{1,2}[./-]\d{1,2})",
    re.IGNORECASE,
)
_RESOLVED_RE = re.compile(
    r"problem\s+has\s+been\s+resolved\s+(?:in\s+\S+(?:\s+\S+)*?\s+)?at\s+"
    r"(\d{1,2}:\d{2}:\d{2})\s+on\s+(\d{4}[./-]\d{1,2}[./-]\d{1,2})",
    re.IGNORECASE,
)
_UPDATED_RE = re.compile(r"^.{1,200}?\s+problem\s+at\s+\d{4}[./-]\d{1,2}[./-]\d{1,2}", re.I)
# The event link the default templates end with ({TRIGGER.URL} is often the
# event page): its trigger and event IDs identify the alert.
_LINK_RE = re.compile(r"^\s*https?://\S{1,400}[?&]triggerid=\d+\S*\s*$", re.IGNORECASE)
_CURRENT_RE = re.compile(r"current\s+problem\s+status\s+is\s+(\w+)", re.IGNORECASE)
_WHEN_RE = re.compile(r"(\d{4}[./-]\d{1,2}[./-]\d{1,2})[ T]+(\d{1,2}:\d{2}:\d{2})")
_SUBJECT_STATUS = (
    (re.compile(r"^\W*(?:resolved|recovered|recovery|ok)\b", re.I), "RESOLVED"),
    (re.compile(r"^\W*(?:updated?\b|[\[【]?\s*(?:更新|确认))", re.I), "UPDATE"),
    (re.compile(r"^\W*[\[【]?\s*(?:恢复|已恢复|已解决|恢复正常)"), "RESOLVED"),
    (re.compile(r"^\W*(?:problem\b|[\[【]?\s*(?:故障|问题|告警|报警))", re.I), "PROBLEM"),
)
# The media type's own parameters that make a reading from text needless.
_STATUS_KEYS = ("status", "event_status", "eventstatus", "event_value", "eventvalue", "value")
_SEVERITY_KEYS = ("severity", "event_severity", "trigger_severity", "event_nseverity")
_TIME_KEYS = ("event_date", "event_time", "timestamp", "event_timestamp", "clock")
# Other names media types post the same facts under (ingest.zabbix reads them).
_ALIASES = {
    "host": {"host_name", "hostname", "host_host"},
    "host_ip": {"hostip", "ip", "host_conn"},
    "event_id": {"eventid", "alert_uid", "entity_id"},
    "trigger_id": {"triggerid"},
    "event_name": {"eventname", "trigger_name", "triggername", "entity_display_name"},
}
_URL_KEYS = ("event_url", "trigger_url", "url", "link_to_upstream_details", "event_info")


def _lines(message: str) -> list[str]:
    return [line[:_MAX_LINE] for line in message.replace("\r\n", "\n").split("\n")[:_MAX_LINES]]


def _status_word(value: str) -> str:
    """``当前状态: PROBLEM:98%`` → ``PROBLEM`` (the item value follows a colon)."""
    return re.split(r"[:：\s]", value.strip(), maxsplit=1)[0]


def text_fields(fields: Mapping[str, Any], subject: str, message: str) -> dict[str, str]:
    """Parameters stated only in ``subject``/``message``, for the ones ``fields``
    (the payload's normalised parameters) lack."""
    found: dict[str, str] = {}
    for line in _lines(message):
        started = _STARTED_RE.search(line)
        if started:
            found.setdefault("event_time", started.group(1))
            found.setdefault("event_date", started.group(2))
            found.setdefault("status", "PROBLEM")
            continue
        resolved = _RESOLVED_RE.search(line)
        if resolved:
            found.setdefault("event_recovery_time", resolved.group(1))
            found.setdefault("event_recovery_date", resolved.group(2))
            found.setdefault("status", "RESOLVED")
            continue
        if not found and _UPDATED_RE.match(line):
            found["event_update_status"] = "1"
            continue
        current = _CURRENT_RE.search(line)
        if current:
            found.setdefault("status", current.group(1))
            continue
        if _LINK_RE.match(line):
            found.setdefault("event_url", line.strip())
            continue
        match = _LINE_RE.match(line)
        if match is None:
            continue
        caption = "".join(match.group(1).lower().split())
        name = _CAPTIONS.get(caption)
        value = match.group(2)
        if name is None or not value:
            continue
        if name in ("start", "end"):
            when = _WHEN_RE.search(value)
            if when:
                prefix = "event" if name == "start" else "event_recovery"
                found.setdefault(f"{prefix}_date", when.group(1))
                found.setdefault(f"{prefix}_time", when.group(2))
            continue
        if name == "status":
            value = _status_word(value)
        found.setdefault(name, value)
    if found.get("status", "").lower() not in FIRING_WORDS | RESOLVED_WORDS | {"ok"}:
        found.pop("status", None)  # "状态: 磁盘使用率 95%" says no state
    for pattern, status in _SUBJECT_STATUS:
        if pattern.match(subject):
            if status == "UPDATE":
                found["event_update_status"] = "1"
            else:
                found.setdefault("status", status)
            break
    if found.get("event_update_status") == "1":
        found.setdefault("status", "PROBLEM")  # an update is of a problem
    have = set(fields)
    if have & set(_STATUS_KEYS):
        found.pop("status", None)
    if have & set(_SEVERITY_KEYS):
        found.pop("severity", None)
    if have & set(_TIME_KEYS):
        for key in ("event_date", "event_time"):
            found.pop(key, None)
    if have & set(_URL_KEYS):
        found.pop("event_url", None)
    for name, aliases in _ALIASES.items():
        if have & aliases:
            found.pop(name, None)
    return {k: v for k, v in found.items() if k not in have}


_SUBJECT_KEYS = ("subject", "alert_subject", "title")
_MESSAGE_KEYS = ("message", "alert_message", "event_message", "content")


def with_text_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` (normalised parameters) completed from their subject and message."""
    subject = next((fields[k] for k in _SUBJECT_KEYS if isinstance(fields.get(k), str)), "")
    message = next((fields[k] for k in _MESSAGE_KEYS if isinstance(fields.get(k), str)), "")
    if not (subject or message):
        return dict(fields)
    return {**fields, **text_fields(fields, subject, message)}


def says_zabbix(fields: Mapping[str, Any]) -> bool:
    """Whether a payload without Zabbix's parameter names (a subject/message-only
    media type) is a Zabbix notification: its fields, completed from its text
    (:func:`with_text_fields`), name the event, or the host and its state."""
    return (
        bool(set(fields) & {"event_id", "event_url"})
        or fields.get("event_update_status") == "1"
        or ("host" in fields and "status" in fields)
    )
