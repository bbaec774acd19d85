"""Turn an :class:`~elinkctl.ingest.alert.Alert` into a ticket registration.

The procedure registers monitoring alerts like any other incident (来源:
监控): a failure, with a priority, a system and a description. The mapping
is declarative — the ``alerts:`` section of ``sla.yaml`` — so a reviewer
sees in a diff why a disk alert became a P2. Everything here is pure:
``now`` is passed in and nothing is read or written.

Default rules (also used when ``alerts:`` is absent; each key may be
overridden, ``severity`` entries are merged over the defaults):

* Priority, first rule that applies:

  1. the alert's ``priority`` label, when it is ``P1``–``P4`` (the
     monitoring team already decided);
  2. *major rule*: a ``critical``/``disaster`` alert whose ``impact`` label
     is ``major``/``high``/``重大`` or whose ``scope`` label is
     ``major``/``global``/``all``/``全局`` is **P1** — a major incident is a
     judgement about reach, which severity alone does not carry;
  3. the severity table: critical, disaster, high, error → P2;
     warning, average → P3; info, information, not classified → P4;
  4. any other severity (or none) → ``default_priority`` P3.

* System: the first of the labels ``service``, ``system``, ``host_group``
  that is set, else ``default_system`` (none). For Zabbix, ``host_group``
  is the first host group that is neither one of Zabbix's built-in groups
  ("Discovered hosts", "Linux servers", "Zabbix servers", "Templates/…" …)
  nor listed under ``generic_groups`` (optional: the desk's own catch-all
  groups such as "核心网络设备" that say what a host is, not whose service
  it carries); a tag ``service``/``system`` always wins. Module: the alert's
  instance/host. Security flag: label ``security`` is true/yes/1/是.
* ``flap_window`` (10m): a firing alert whose incident was resolved less
  than this ago reopens that incident instead of opening a new one
  (:func:`should_fold`). ``auto_resolve`` (false): a resolved notification
  is recorded as an event; only when true does it also resolve the ticket,
  because "the metric is back" is not "the user's service works".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from elinkctl.errors import ConfigError, UsageProblem
from elinkctl.ingest.alert import Alert
from elinkctl.ingest.zabbixnames import is_builtin_group
from elinkctl.timeutil import iso, parse_duration

__all__ = [
    "DEFAULT_ALERT_RULES",
    "AlertRules",
    "Registration",
    "should_fold",
    "validate_alert_rules",
]

PRIORITIES = ("P1", "P2", "P3", "P4")
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "是"})
_TITLE_MAX = 120

#: The defaults, in the shape of the ``alerts:`` section of sla.yaml.
DEFAULT_ALERT_RULES: dict[str, Any] = {
    "severity": {
        "critical": "P2",
        "disaster": "P2",
        "high": "P2",
        "error": "P2",
        "warning": "P3",
        "average": "P3",
        "info": "P4",
        "information": "P4",
        "not classified": "P4",
    },
    "default_priority": "P3",
    "major": {
        "severities": ["critical", "disaster"],
        "labels": {
            "impact": ["major", "high", "重大"],
            "scope": ["major", "global", "all", "全局"],
        },
        "priority": "P1",
    },
    "priority_label": "priority",
    "system_labels": ["service", "system", "host_group"],
    "default_system": None,
    "security_label": "security",
    "flap_window": "10m",
    "auto_resolve": False,
}

#: Optional keys, absent from the shipped sla.yaml.
_OPTIONAL_KEYS = frozenset({"generic_groups"})
_KEYS = frozenset(DEFAULT_ALERT_RULES) | _OPTIONAL_KEYS
_MAJOR_KEYS = frozenset({"severities", "labels", "priority"})


@dataclass(frozen=True)
class Registration:
    """The fields ``elinkctl new`` needs, derived from one alert.

    ``opened_at`` is the alert's start (the incident's true start time, as
    for a backfilled ticket); ``alert_key`` lets the caller find the ticket
    of a repeat or resolved notification.
    """

    title: str
    priority: str
    system: str | None
    module: str | None
    description: str
    security: bool = False
    type: str = "failure"
    key_user: bool = False
    source: str = "monitoring"
    opened_at: dt.datetime | None = None
    alert_key: str = ""


def should_fold(
    last_resolved_at: dt.datetime | None, now: dt.datetime, window: dt.timedelta
) -> bool:
    """Whether a firing alert belongs to its recently resolved incident.

    True when the incident was resolved less than ``window`` before ``now``
    (a resolution stamped slightly in the future by clock skew also
    counts). A flapping check then reopens one ticket instead of filing a
    new one every few minutes. ``window`` ≤ 0 disables folding.
    """
    if last_resolved_at is None or window <= dt.timedelta(0):
        return False
    return now - last_resolved_at < window


def _priority(value: object) -> str | None:
    text = str(value).strip().upper()
    return text if text in PRIORITIES else None


def _str_list(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    return None


def validate_alert_rules(mapping: object) -> list[str]:
    """Problems in an ``alerts:`` section, each naming its field; [] if fine."""
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        return [f"alerts: must be a mapping, got {type(mapping).__name__}"]
    problems: list[str] = []
    for key in mapping:
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            problems.append(f"alerts.{key}: unknown key (known: {known})")

    severity = mapping.get("severity")
    if severity is not None:
        if not isinstance(severity, dict):
            problems.append("alerts.severity: must be a mapping of severity → P1–P4")
        else:
            for name, prio in severity.items():
                if _priority(prio) is None:
                    problems.append(f"alerts.severity.{name}: unknown priority {prio} (use P1–P4)")

    if "default_priority" in mapping and _priority(mapping["default_priority"]) is None:
        problems.append(
            f"alerts.default_priority: unknown priority {mapping['default_priority']} (use P1–P4)"
        )

    major = mapping.get("major")
    if major is not None:
        if not isinstance(major, dict):
            problems.append("alerts.major: must be a mapping (severities, labels, priority)")
        else:
            for key in major:
                if key not in _MAJOR_KEYS:
                    problems.append(
                        f"alerts.major.{key}: unknown key (known: labels, priority, severities)"
                    )
            if "severities" in major and _str_list(major["severities"]) is None:
                problems.append("alerts.major.severities: must be a list of severities")
            if "priority" in major and _priority(major["priority"]) is None:
                problems.append(
                    f"alerts.major.priority: unknown priority {major['priority']} (use P1–P4)"
                )
            labels = major.get("labels")
            if labels is not None:
                if not isinstance(labels, dict):
                    problems.append("alerts.major.labels: must map a label to its major values")
                else:
                    for label, values in labels.items():
                        if _str_list(values) is None:
                            problems.append(
                                f"alerts.major.labels.{label}: must be a value or list of values"
                            )

    for key in ("priority_label", "default_system", "security_label"):
        if mapping.get(key) is not None and not isinstance(mapping[key], str):
            problems.append(f"alerts.{key}: must be text or null")
    if "system_labels" in mapping:
        value = mapping["system_labels"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append("alerts.system_labels: must be a list of label names")

    if "generic_groups" in mapping:
        value = mapping["generic_groups"]
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            problems.append("alerts.generic_groups: must be a list of host group names")
    if "flap_window" in mapping:
        try:
            parse_duration(mapping["flap_window"])
        except UsageProblem as exc:
            problems.append(f"alerts.flap_window: {exc}")
    if "auto_resolve" in mapping and not isinstance(mapping["auto_resolve"], bool):
        problems.append(
            f"alerts.auto_resolve: must be true or false, got {mapping['auto_resolve']!r}"
        )
    return problems


def _norm(value: str) -> str:
    return " ".join(value.strip().lower().split())


@dataclass(frozen=True)
class AlertRules:
    """The alert → registration rules in effect (see the module docstring)."""

    severity: Mapping[str, str] = field(default_factory=dict)
    default_priority: str = "P3"
    major_severities: frozenset[str] = frozenset()
    major_labels: Mapping[str, frozenset[str]] = field(default_factory=dict)
    major_priority: str = "P1"
    priority_label: str | None = "priority"
    system_labels: tuple[str, ...] = ()
    default_system: str | None = None
    security_label: str | None = "security"
    flap_window: dt.timedelta = dt.timedelta(minutes=10)
    auto_resolve: bool = False
    generic_groups: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None) -> AlertRules:
        """Rules from an ``alerts:`` section (None or absent → the defaults).

        Raises :class:`~elinkctl.errors.ConfigError` listing every problem.
        """
        problems = validate_alert_rules(dict(mapping) if mapping is not None else None)
        if problems:
            raise ConfigError("sla.yaml: " + "; ".join(problems))
        given = dict(mapping or {})
        severity = {
            _norm(str(k)): str(_priority(v))
            for k, v in {**DEFAULT_ALERT_RULES["severity"], **(given.get("severity") or {})}.items()
        }
        major = {**DEFAULT_ALERT_RULES["major"], **(given.get("major") or {})}
        major_labels = {
            str(label): frozenset(_norm(v) for v in (_str_list(values) or []))
            for label, values in (major.get("labels") or {}).items()
        }
        merged = {**DEFAULT_ALERT_RULES, **given}
        return cls(
            severity=severity,
            default_priority=str(_priority(merged["default_priority"])),
            major_severities=frozenset(_norm(s) for s in (_str_list(major["severities"]) or [])),
            major_labels=major_labels,
            major_priority=str(_priority(major["priority"])),
            priority_label=merged["priority_label"],
            system_labels=tuple(merged["system_labels"] or ()),
            default_system=merged["default_system"],
            security_label=merged["security_label"],
            flap_window=parse_duration(merged["flap_window"]),
            auto_resolve=bool(merged["auto_resolve"]),
            generic_groups=frozenset(_norm(g) for g in (given.get("generic_groups") or [])),
        )

    # -- decisions ------------------------------------------------------
    def priority_for(self, alert: Alert) -> str:
        """The priority of a new incident for ``alert`` (rules 1–4)."""
        if self.priority_label:
            forced = _priority(alert.labels.get(self.priority_label, ""))
            if forced:
                return forced
        severity = _norm(alert.severity)
        if severity in self.major_severities and self.is_major(alert):
            return self.major_priority
        return self.severity.get(severity, self.default_priority)

    def is_major(self, alert: Alert) -> bool:
        """Whether a label says the alert's reach is major (impact/scope)."""
        for label, values in self.major_labels.items():
            value = alert.labels.get(label)
            if value is not None and _norm(value) in values:
                return True
        return False

    def system_for(self, alert: Alert) -> str | None:
        """The first system label set; for ``host_group``, the first of the
        alert's host groups that names a service (see the module docstring)."""
        for label in self.system_labels:
            if label == "host_group" and alert.groups:
                value = next((g for g in alert.groups if self.is_service_group(g)), "")
            else:
                value = (alert.labels.get(label) or "").strip()
            if value:
                return value
        return self.default_system

    def is_service_group(self, group: str) -> bool:
        """Whether a Zabbix host group may stand for the system (not built-in, not generic)."""
        return not is_builtin_group(group) and _norm(group) not in self.generic_groups

    def is_security(self, alert: Alert) -> bool:
        if not self.security_label:
            return False
        return _norm(alert.labels.get(self.security_label, "")) in _TRUE_WORDS

    def should_fold(self, last_resolved_at: dt.datetime | None, now: dt.datetime) -> bool:
        """:func:`should_fold` with this store's ``flap_window``."""
        return should_fold(last_resolved_at, now, self.flap_window)

    def map(self, alert: Alert, *, tz: dt.tzinfo | None = None) -> Registration:
        """The registration for a new incident raised by ``alert``.

        ``tz`` (the store's zone) is only used to show times in the
        description; ``opened_at`` keeps the alert's own instant.
        """
        return Registration(
            title=_title(alert),
            priority=self.priority_for(alert),
            system=self.system_for(alert),
            module=alert.instance,
            description=_description(alert, tz),
            security=self.is_security(alert),
            opened_at=alert.starts_at,
            alert_key=alert.key,
        )


def _title(alert: Alert) -> str:
    title = " ".join((alert.summary or alert.name).split())
    # "web-01:9090" adds nothing to "High CPU usage on web-01": the host is named.
    host = alert.instance.rsplit(":", 1)[0] if alert.instance else ""
    if alert.instance and alert.instance not in title and not (host and host in title):
        title = f"{title} ({alert.instance})"
    if len(title) > _TITLE_MAX:
        title = title[: _TITLE_MAX - 1].rstrip() + "…"
    return title


def _description(alert: Alert, tz: dt.tzinfo | None) -> str:
    """Human-readable facts of the alert, one per line, Chinese captions."""

    def shown(when: dt.datetime | None) -> str | None:
        if when is None:
            return None
        try:
            return iso(when.astimezone(tz) if tz is not None else when)
        except OverflowError:  # year 9999 in a zone ahead of the sender's
            return iso(when)

    lines: list[str] = []
    text = alert.description.strip() or alert.summary.strip()
    if text:
        lines += [text, ""]
    facts: list[tuple[str, str | None]] = [
        ("告警来源", alert.source),
        ("告警名称", alert.name),
        ("严重级别", alert.severity),
        ("状态", alert.status),
        ("实例", alert.instance),
        ("服务", alert.service),
        ("开始时间", shown(alert.starts_at)),
        ("结束时间", shown(alert.ends_at)),
        ("事件ID", alert.event_id),
        ("链接", alert.url),
    ]
    lines += [f"{caption}: {value}" for caption, value in facts if value]
    if alert.labels:
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        lines.append(f"标签: {pairs}")
    extra = {
        k: v
        for k, v in alert.annotations.items()
        if k not in ("summary", "description", "message") and v.strip()
    }
    for key, value in sorted(extra.items()):
        lines.append(f"{key}: {' '.join(value.split())}")
    return "\n".join(lines)
