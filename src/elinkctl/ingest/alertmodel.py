"""What a monitoring notification is, once parsed: :class:`Alert` and the
:class:`AlertBatch` of one webhook body, plus the small helpers the
Alertmanager (:mod:`elinkctl.ingest.alert`) and Zabbix
(:mod:`elinkctl.ingest.zabbix`) readers share.

Kept apart from both readers so neither imports the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from elinkctl.ingest.errors import IngestError
from elinkctl.ingest.limits import time_in_range

__all__ = [
    "Alert",
    "AlertBatch",
    "AlertKind",
    "AlertSource",
    "AlertStatus",
    "ZabbixUpdate",
    "normalise_severity",
]

AlertSource = Literal["alertmanager", "zabbix"]
AlertStatus = Literal["firing", "resolved"]
AlertKind = Literal["problem", "update", "internal"]
"""``problem``: a firing or resolved notification of the problem itself
(Alertmanager; Zabbix trigger and service events). ``update``: a Zabbix
problem update (someone acknowledged, commented, changed severity or closed
it). ``internal``: a Zabbix internal event (a trigger or item monitoring can
no longer evaluate, and back) — news *about monitoring*, never the problem."""

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
_AM_ZERO_TIME = "0001-01-01T00:00:00Z"

#: Status words monitoring systems send (Zabbix {EVENT.STATUS} and the
#: Chinese words of hand-written media types): input vocabulary, not the
#: desk's status labels (those live in elinkctl.domain.glossary).
FIRING_WORDS = frozenset({"problem", "firing", "update", "问题", "故障", "1"})
RESOLVED_WORDS = frozenset(
    {"resolved", "ok", "recovery", "recovered", "已恢复", "已解决", "恢复", "0"}
)


@dataclass(frozen=True)
class ZabbixUpdate:
    """One Zabbix problem update ({EVENT.UPDATE.*}, {USER.FULLNAME}).

    ``action`` is Zabbix's own words ("acknowledged", "commented", "changed
    severity from Warning to High", "closed", joined by ", " and " and ").
    ``uid`` identifies the update (event, time, who, what), so a webhook
    retried by Zabbix is recorded once.
    """

    action: str
    user: str = ""
    message: str = ""
    at: str = ""
    uid: str = ""

    @property
    def closes(self) -> bool:
        """Whether the update closed the problem (a manual resolution)."""
        return bool(re.search(r"\bclosed\b", self.action.lower()))


@dataclass(frozen=True)
class Alert:
    """One alert as the desk sees it, whatever the monitoring system.

    ``severity`` is lower-case (``"critical"``, ``"high"``, ``"not
    classified"`` …) or ``"unknown"`` when the sender gave none; the
    mapping rules decide what it means. ``labels`` are the identifying
    labels (Alertmanager labels, Zabbix tags plus host facts);
    ``annotations`` the descriptive ones. ``groups`` are Zabbix host groups
    in the order sent (the rules pick the system among them).
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
    kind: AlertKind = "problem"
    update: ZabbixUpdate | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertBatch:
    """Everything one webhook body says: the alerts to act on, and notes for
    the desk about what was deliberately not taken (a Zabbix discovery
    event, alerts Alertmanager left out of the body)."""

    alerts: tuple[Alert, ...] = ()
    notes: tuple[str, ...] = ()


def normalise_severity(value: object) -> str:
    """Lower-case, single-spaced severity; Chinese Zabbix names translated."""
    if value is None:
        return "unknown"
    text = " ".join(str(value).strip().lower().split())
    if not text:
        return "unknown"
    return _SEVERITY_ALIASES.get(text, text)


def str_map(value: object, where: str) -> dict[str, str]:
    """A JSON object of labels as ``dict[str, str]`` (values stringified)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IngestError(f"{where} must be an object, got {type(value).__name__}")
    return {str(k): scalar(v) for k, v in value.items() if v is not None}


def scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def parse_iso(value: object, where: str) -> dt.datetime | None:
    """RFC 3339 as Alertmanager writes it (``Z``, up to nanoseconds)."""
    if value is None or value == "" or value == _AM_ZERO_TIME:
        return None
    if not isinstance(value, str):
        raise IngestError(f"{where}: expected an RFC 3339 time, got {str(value)[:40]!r}")
    text = value.strip()
    # Go writes nanoseconds; datetime keeps microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(f"{where}: invalid time {value[:40]!r}") from None
    if when.year <= 1:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return time_in_range(when, where)


def labels_hash(labels: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def first(mapping: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def zabbix_nseverity(number: int) -> str:
    return _ZABBIX_NSEVERITY[number]


ZABBIX_SEVERITY_COUNT = len(_ZABBIX_NSEVERITY)
