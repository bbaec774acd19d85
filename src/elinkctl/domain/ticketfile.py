"""Ticket ↔ YAML: the file format of DESIGN §6, for humans first.

Key order is fixed so that every write of the same ticket produces the same
bytes and a command shows in `git diff` as the changed state lines plus one
appended event. State lines are derived from events on every dump; on load
they are read only so `fsck` can notice a hand edit that contradicts the
events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from elinkctl import yamlio
from elinkctl.domain import ids
from elinkctl.domain.model import (
    DESCRIPTIVE_FIELDS,
    EVENT_HEAD,
    REPORTER_FIELDS,
    SCHEMA,
    Event,
    IncidentType,
    Priority,
    Ticket,
    derive_state,
)

STATE_KEYS = (
    "status",
    "tier",
    "assignee",
    "opened_at",
    "responded_at",
    "resolved_at",
    "closed_at",
)
TOP_ORDER = (
    "schema",
    "id",
    "aliases",
    "title",
    "type",
    "priority",
    *STATE_KEYS,
    *[f for f in DESCRIPTIVE_FIELDS if f not in ("title", "type", "priority")],
    "events",
)
KNOWN_TOP = frozenset(TOP_ORDER)
# Closed sets a file must keep to: `Ticket.type` and `Ticket.priority` are enums.
_TYPES = tuple(t.value for t in IncidentType)
_PRIORITIES = tuple(p.value for p in Priority)
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ", "=======\n")


class FormatError(Exception):
    """Invalid ticket content; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def to_dict(ticket: Ticket) -> dict[str, Any]:
    """The ordered mapping written to disk."""
    state = ticket.state
    values: dict[str, Any] = {
        "schema": SCHEMA,
        "id": ticket.id,
        "status": str(state.status),
        "tier": str(state.tier),
        "assignee": state.assignee,
        "opened_at": state.opened_at,
        "responded_at": state.responded_at,
        "resolved_at": state.resolved_at,
        "closed_at": state.closed_at,
    }
    if ticket.aliases:
        values["aliases"] = list(ticket.aliases)
    for key in DESCRIPTIVE_FIELDS:
        value = ticket.fields.get(key)
        if key == "reporter" and isinstance(value, dict):
            value = {k: value[k] for k in REPORTER_FIELDS if value.get(k) not in (None, "")}
        if value in (None, "", {}) and key not in ("title", "type", "priority"):
            continue
        values[key] = value
    values["events"] = [e.to_dict() for e in ticket.events]
    out: dict[str, Any] = {}
    for key in TOP_ORDER:
        if key in values:
            if key in STATE_KEYS[3:] and values[key] is None:
                continue  # not-yet timestamps are omitted, they appear when they happen
            out[key] = values[key]
    return out


def dumps(ticket: Ticket) -> str:
    return yamlio.dump(to_dict(ticket))


def _line(text: str, path: list[str | int]) -> int | None:
    return yamlio.line_of_key(text, path)


def loads(text: str) -> Ticket:
    """Parse and validate a ticket file's text; raise `FormatError` with a line."""
    for marker in CONFLICT_MARKERS:
        pos = text.find(marker)
        if pos >= 0 and (pos == 0 or text[pos - 1] == "\n"):
            raise FormatError("git conflict marker in ticket", text.count("\n", 0, pos) + 1)
    try:
        data = yamlio.load(text)
    except yamlio.YamlError as exc:
        raise FormatError(f"invalid YAML: {exc}", exc.line) from None
    if not isinstance(data, dict):
        raise FormatError("a ticket must be a YAML mapping", 1)
    return from_dict(data, text)


def from_dict(data: dict[str, Any], text: str = "") -> Ticket:
    def fail(message: str, path: list[str | int]) -> FormatError:
        # A missing key has no line of its own: point at the top of the file.
        return FormatError(message, (_line(text, path) or 1) if text else None)

    schema = data.get("schema")
    if schema != SCHEMA:
        raise fail(f"schema: expected {SCHEMA}, got {schema!r}", ["schema"])
    unknown = [k for k in data if k not in KNOWN_TOP]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}", [unknown[0]])
    ticket_id = data.get("id")
    if not isinstance(ticket_id, str) or not ids.is_valid(ticket_id):
        raise fail(f"id: not an incident ID: {ticket_id!r}", ["id"])
    raw_events = data.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise fail("events: must be a non-empty list", ["events"])
    events = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            raise fail(f"events[{i}]: must be a mapping", ["events", i])
        for key in EVENT_HEAD:
            if key not in raw:
                raise fail(f"events[{i}]: missing {key!r}", ["events", i])
        at = raw["at"]
        if isinstance(at, str):
            try:
                at = dt.datetime.fromisoformat(at)
            except ValueError:
                raise fail(f"events[{i}].at: invalid time {at!r}", ["events", i, "at"]) from None
        if not isinstance(at, dt.datetime) or at.tzinfo is None:
            raise fail(f"events[{i}].at: needs a time with offset", ["events", i, "at"])
        ev_id = str(raw["id"])
        if ev_id in seen:
            raise fail(f"events[{i}]: duplicate event id {ev_id!r}", ["events", i])
        seen.add(ev_id)
        extra = {k: v for k, v in raw.items() if k not in EVENT_HEAD}
        events.append(Event(ev_id, at, str(raw["by"]), str(raw["type"]), extra))
    for i in range(1, len(events)):
        if events[i].at < events[i - 1].at:
            raise fail(f"events[{i}]: out of time order", ["events", i])
    if events[0].type != "created":
        raise fail("events[0]: the first event must be 'created'", ["events", 0])
    fields = {k: data[k] for k in DESCRIPTIVE_FIELDS if k in data}
    for key in ("title", "type", "priority"):
        if not fields.get(key):
            raise fail(f"{key}: missing", [key])
    for key, known in (("type", _TYPES), ("priority", _PRIORITIES)):
        if fields[key] not in known:
            raise fail(f"{key}: unknown {key} {fields[key]!r} (use {', '.join(known)})", [key])
    reporter = fields.get("reporter")
    if reporter is not None and not isinstance(reporter, dict):
        raise fail("reporter: must be a mapping (name, phone, department)", ["reporter"])
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list):
        raise fail("aliases: must be a list", ["aliases"])
    ticket = Ticket(ticket_id, fields, tuple(events), tuple(str(a) for a in aliases))
    try:
        ticket.state  # noqa: B018 - validates that the events fold
    except (ValueError, TypeError) as exc:
        raise fail(f"events: {exc}", ["events"]) from None
    return ticket


def state_mismatches(data: dict[str, Any], ticket: Ticket) -> list[str]:
    """State keys in the file that disagree with what the events say (for fsck)."""
    derived = to_dict(ticket)
    problems = []
    for key in STATE_KEYS:
        if data.get(key) != derived.get(key):
            problems.append(f"{key}: file says {data.get(key)!r}, events say {derived.get(key)!r}")
    return problems


__all__ = [
    "FormatError",
    "dumps",
    "loads",
    "from_dict",
    "to_dict",
    "state_mismatches",
    "derive_state",
]
