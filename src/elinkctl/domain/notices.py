"""Who is told of a hand-off, and what they read (escalation.yaml ``notices:``).

Pure: a committed step's new events → `Notice`s (which rule, whom), a
notice's template values, its rendering, a deterministic Message-ID, and
the quiet hours that hold robot posts overnight. The shell
(`elinkctl.services.notices`) routes people to channels and queues them in
the outbox in the same transaction as the event.

The rules, with their defaults (a key set to ``[]`` tells nobody)::

    notices:
      registered: [reporter]        # 登记: acknowledgement with the incident ID
      assigned: [handler]           # 派单: the person it is assigned to
      escalated: [handler]          # l2 / vendor / pm: --to, else the tier's role
      reopened: [handler]           # the assignee it goes back to (also review --return)
      transferred: [pm]             # 转项目经理 for a decision
      rejected: [reporter]          # with the reason (由服务台告知事件申报人并退回)
      redirected: [reporter]        # with the process and its reference
      resolved: [reporter]          # asks the reporter to confirm (reply 已解决)
      resolved_major: [management, pm]  # a P1's resolution (the PM reviews it)
      closed: [reporter]            # asks for satisfaction (reply 1–5)
      quiet_hours: {from: '22:00', until: '08:00', except: [P1, P2],
                    channels: [wecom, dingtalk, feishu]}
      send_now: [P1]                # the command itself sends these at once

A rule's value is a list of recipients — ``reporter``, ``handler`` (whom
the step hands to), ``assignee``, a role of ``roles:`` or a person of
``people:`` — or a mapping ``{to: [...], channels: [...], template: NAME}``
(``channels`` limits the routes; ``template`` picks ``templates/NAME.txt``).
The person who took the step is not told of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from elinkctl.domain.glossary import ROLES, STATUSES, zh
from elinkctl.domain.model import Event, Ticket
from elinkctl.domain.notice_templates import LABELS, SECURITY_GROUP, TEMPLATES
from elinkctl.errors import ConfigError

RULE_NAMES = tuple(TEMPLATES)
DEFAULT_TO: dict[str, tuple[str, ...]] = {
    "registered": ("reporter",),
    "assigned": ("handler",),
    "escalated": ("handler",),
    "reopened": ("handler",),
    "transferred": ("pm",),
    "rejected": ("reporter",),
    "redirected": ("reporter",),
    "resolved": ("reporter",),
    "resolved_major": ("management", "pm"),
    "closed": ("reporter",),
}
# Event type → the rule it triggers (resolved also triggers resolved_major for a P1).
RULE_OF_EVENT = {
    "created": "registered",
    "assigned": "assigned",
    "escalated": "escalated",
    "reopened": "reopened",
    "transferred": "transferred",
    "rejected": "rejected",
    "redirected": "redirected",
    "resolved": "resolved",
    "closed": "closed",
}
REPLY_KINDS = {"resolved": "confirm", "closed": "satisfaction"}
"""Notices the reporter answers by mail, and what the answer records."""
ROBOT_TYPES = ("wecom", "dingtalk", "feishu")
PROCESSES = {"change": "变更", "requirement": "需求"}
_OPTIONS = frozenset({"quiet_hours", "send_now"})
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclasses.dataclass(frozen=True)
class Rule:
    to: tuple[str, ...]
    channels: tuple[str, ...] | None = None
    template: str = ""


@dataclasses.dataclass(frozen=True)
class QuietHours:
    """Robots stay quiet from ``start`` to ``end`` (store time) except for
    ``urgent`` priorities; what falls inside waits until ``end``."""

    start: dt.time | None = dt.time(22, 0)
    end: dt.time = dt.time(8, 0)
    urgent: frozenset[str] = frozenset({"P1", "P2"})
    types: frozenset[str] = frozenset(ROBOT_TYPES)

    def hold_until(self, now: dt.datetime, priority: str, channel_type: str) -> dt.datetime | None:
        """When a post made ``now`` may go out, or None for at once."""
        if self.start is None or priority in self.urgent or channel_type not in self.types:
            return None
        t = now.timetz().replace(tzinfo=None)
        start, end = self.start, self.end
        inside = (start <= t or t < end) if start > end else (start <= t < end)
        if not inside:
            return None
        day = now.date() if t < end else now.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, end, tzinfo=now.tzinfo)


@dataclasses.dataclass(frozen=True)
class NoticeRules:
    rules: Mapping[str, Rule]
    quiet: QuietHours = QuietHours()
    send_now: frozenset[str] = frozenset({"P1"})

    @classmethod
    def from_mapping(cls, data: Any) -> NoticeRules:
        """escalation.yaml ``notices:`` (None: the defaults); ConfigError naming the field."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError("notices: must be a mapping of event to recipients")
        rules = {name: Rule(to) for name, to in DEFAULT_TO.items()}
        for key, value in data.items():
            key = str(key)
            if key in _OPTIONS:
                continue
            if key not in DEFAULT_TO:
                raise ConfigError(
                    f"notices.{key}: unknown notice (use {', '.join(RULE_NAMES)}, "
                    "quiet_hours, send_now)"
                )
            rules[key] = _rule(key, value)
        return cls(rules, _quiet(data.get("quiet_hours")), _priorities("send_now", data, {"P1"}))


def _names(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: must be a list of names")
    return tuple(v.strip() for v in value)


def _rule(key: str, value: Any) -> Rule:
    where = f"notices.{key}"
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in ("to", "channels", "template")]
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown key (use to, channels, template)")
        template = value.get("template") or ""
        if not isinstance(template, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", template):
            raise ConfigError(f"{where}.template: a template name (letters, digits, _ and -)")
        channels = value.get("channels")
        return Rule(
            _names(f"{where}.to", value.get("to")),
            None if channels is None else _names(f"{where}.channels", channels),
            template,
        )
    return Rule(_names(where, value))


def _priorities(key: str, data: Mapping[str, Any], default: set[str]) -> frozenset[str]:
    if key not in data:
        return frozenset(default)
    found = _names(f"notices.{key}", data.get(key))
    bad = [p for p in found if p not in ("P1", "P2", "P3", "P4")]
    if bad:
        raise ConfigError(f"notices.{key}: {bad[0]!r} is not a priority (P1–P4)")
    return frozenset(found)


def _time(where: str, value: Any) -> dt.time:
    match = _TIME_RE.match(str(value).strip()) if isinstance(value, str | int) else None
    if not match:
        raise ConfigError(f"{where}: a time of day like '22:00'")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _quiet(value: Any) -> QuietHours:
    if value is None:
        return QuietHours()
    if value is False or value == "off":
        return QuietHours(start=None)
    if not isinstance(value, Mapping):
        raise ConfigError("notices.quiet_hours: a mapping {from, until, except, channels} or off")
    unknown = [k for k in value if k not in ("from", "until", "except", "channels")]
    if unknown:
        raise ConfigError(f"notices.quiet_hours.{unknown[0]}: unknown key")
    base = QuietHours()
    start = _time("notices.quiet_hours.from", value["from"]) if "from" in value else base.start
    end = _time("notices.quiet_hours.until", value["until"]) if "until" in value else base.end
    urgent = _priorities("except", value, set(base.urgent))
    types = frozenset(_names("notices.quiet_hours.channels", value.get("channels"))) or base.types
    return QuietHours(start, end, urgent, types)


def rules_of(config: Mapping[str, Any]) -> NoticeRules:
    """The notice rules of a parsed escalation.yaml."""
    return NoticeRules.from_mapping(config.get("notices"))


def validate(config: Mapping[str, Any]) -> list[str]:
    """Problems with ``notices:`` (for ``config check``), one line each."""
    try:
        rules_of(config)
    except ConfigError as exc:
        return [str(exc)]
    return []


# --- which notices a step makes ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Notice:
    """One rule fired by one event: whom to tell (roles, people, the reporter)."""

    name: str
    ticket: Ticket
    event: Event
    roles: tuple[str, ...]
    people: tuple[str, ...]
    reporter: bool
    channels: tuple[str, ...] | None
    template: str

    @property
    def key(self) -> str:
        """The event part of the outbox key: ticket, event and notice."""
        return f"{self.ticket.id}/{self.event.id}/{self.name}"

    @property
    def reply_kind(self) -> str | None:
        """``confirm`` or ``satisfaction`` when the reporter is asked something."""
        return REPLY_KINDS.get(self.name) if self.reporter else None


def handler_of(ticket: Ticket, event: Event) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(roles, people) the step hands to: its ``to``, else its tier's role,
    else (a reopen) the assignee it returns to."""
    to = event.get("to")
    if event.type == "escalated":
        if to:
            return (), (str(to),)
        return (str(event.get("tier") or "l2"),), ()
    if event.type == "assigned" and to:
        return (), (str(to),)
    if event.type == "transferred":
        return ("pm",), ()
    state = ticket.state
    if state.assignee:
        return (), (state.assignee,)
    return (str(state.tier),), ()


def notices_for(
    rules: NoticeRules, ticket: Ticket, events: Sequence[Event], known_roles: Sequence[str]
) -> list[Notice]:
    """The notices of ``events`` (new on ``ticket``), in event order."""
    out: list[Notice] = []
    for event in events:
        names = [RULE_OF_EVENT[event.type]] if event.type in RULE_OF_EVENT else []
        if event.type == "reviewed" and event.get("verdict") == "returned":
            names = ["reopened"]  # the PM's review sends it back to work, like a reopen
        if event.type == "resolved" and str(ticket.priority) == "P1":
            names.append("resolved_major")
        for name in names:
            rule = rules.rules.get(name)
            if rule is None or not rule.to:
                continue
            roles: list[str] = []
            people: list[str] = []
            reporter = False
            for who in rule.to:
                if who == "reporter":
                    reporter = True
                elif who == "handler":
                    hr, hp = handler_of(ticket, event)
                    roles += hr
                    people += hp
                elif who == "assignee":
                    if ticket.state.assignee:
                        people.append(ticket.state.assignee)
                elif who in known_roles or who in ROLES:
                    roles.append(who)
                else:
                    people.append(who)
            if name == "closed" and reporter and _scored(ticket):
                reporter = False  # the desk's callback already asked (回访): not twice
            out.append(
                Notice(
                    name,
                    ticket,
                    event,
                    tuple(dict.fromkeys(roles)),
                    tuple(dict.fromkeys(people)),
                    reporter,
                    rule.channels,
                    rule.template or name,
                )
            )
    return out


def _scored(ticket: Ticket) -> bool:
    """Whether a callback since the last resolution recorded a satisfaction."""
    for event in reversed(ticket.events):
        if event.type == "resolved":
            return False
        if event.type == "callback" and event.get("satisfaction") is not None:
            return True
    return False


# --- what it says ---------------------------------------------------------------------


def _local(value: Any, tz: dt.tzinfo | None) -> str:
    if not isinstance(value, dt.datetime):
        return ""
    return (value.astimezone(tz) if tz else value).strftime("%Y-%m-%d %H:%M")


def notice_values(
    notice: Notice, handler: str, tz: dt.tzinfo | None, mask: Any = None
) -> dict[str, str]:
    """The ``$name`` values of a notice; with ``mask`` (a function hiding
    phone numbers) the group-safe set: no reporter or department."""
    t, ev = notice.ticket, notice.event
    reporter = t.fields.get("reporter") or {}
    tier = ev.get("tier") if ev.type in ("assigned", "escalated") else t.state.tier
    process = str(ev.get("to") or "") if ev.type == "redirected" else ""
    values = {
        "id": t.id,
        "title": t.title,
        "priority": str(t.priority),
        "status": zh(STATUSES, t.status),
        "tier": zh(ROLES, tier) if tier else "",
        "handler": handler,
        "actor": ev.by,
        "at": _local(ev.at, tz),
        "opened": _local(t.opened_at, tz),
        "reason": str(ev.get("reason") or ""),
        "solution": str(ev.get("solution") or ""),
        "process": PROCESSES.get(process, process),
        "ref": str(ev.get("ref") or ""),
        "due": _local(ev.get("due"), tz),
        "system": " / ".join(str(t.fields.get(k)) for k in ("system", "module") if t.fields.get(k)),
        "reporter": str(reporter.get("name") or "") if isinstance(reporter, Mapping) else "",
        "department": str(reporter.get("department") or "")
        if isinstance(reporter, Mapping)
        else "",
        "command": f"elinkctl show {t.id}",
        "notice": LABELS.get(notice.name, notice.name),
    }
    if mask is not None:
        values = {k: " ".join(mask(v).split()) for k, v in values.items()}
        values["reporter"] = values["department"] = ""
    return values


def render(template: str, values: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) of ``template`` filled with ``values``.

    Lines left with nothing after their label (``原因：`` without a reason)
    are dropped, so optional facts need no conditionals in templates."""
    text = string.Template(template).safe_substitute(values)
    subject, _, body = text.partition("\n")
    kept = [line for line in body.strip("\n").split("\n") if not re.search(r"[：:]\s*$", line)]
    return " ".join(subject.split()), "\n".join(kept).strip("\n") + "\n"


def group_template(notice: Notice, template: str) -> str:
    """The template a group chat gets: a security incident's is fixed."""
    return SECURITY_GROUP if notice.ticket.fields.get("security") else template


def mail_id(notice: Notice, domain: str) -> str:
    """The notice's Message-ID: the same for the same ticket, event and notice,
    so a retry or a second queueing never makes a different mail."""
    return f"<{notice.ticket.id}.{notice.event.id}.{notice.name}@{domain}>"


_MAIL_ID_RE = re.compile(r"<?(INC-[0-9A-Z-]+)\.(e\d+)\.([a-z_]+)@[^>\s]+>?")


def parse_mail_id(value: str) -> tuple[str, str, str] | None:
    """(ticket, event id, notice) of a Message-ID `mail_id` made, else None."""
    match = _MAIL_ID_RE.fullmatch(value.strip())
    return (match.group(1), match.group(2), match.group(3)) if match else None
