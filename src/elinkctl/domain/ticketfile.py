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
from elinkctl.fsio import MAX_TICKET_BYTES

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
    if len(text) * 4 > MAX_TICKET_BYTES:  # cheap first: most tickets are ~3 KB
        size = len(text.encode("utf-8", "replace"))
        if size > MAX_TICKET_BYTES:  # a pushed blob too (verify): parsing costs ~1 s a MiB
            raise FormatError(
                f"{size:,} bytes, more than the {MAX_TICKET_BYTES:,} a reader opens", 1
            )
    for marker in CONFLICT_MARKERS:
        pos = text.find(marker)
        if pos >= 0 and (pos == 0 or text[pos - 1] == "\n"):
            raise FormatError("git conflict marker in ticket", text.count("\n", 0, pos) + 1)
    try:
        data = yamlio.load(text, strict=True)
    except yamlio.Refused as exc:
        raise FormatError(str(exc), exc.line) from None
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
    try:
        dt.date(2000 + int(ticket_id[4:6]), int(ticket_id[6:8]), int(ticket_id[8:10]))
    except ValueError:
        raise fail(f"id: {ticket_id} names an impossible date", ["id"]) from None
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
        if not yamlio.YEARS[0] <= at.year <= yamlio.YEARS[1]:
            low, high = yamlio.YEARS
            raise fail(f"events[{i}].at: outside the years {low}–{high}", ["events", i, "at"])
        for key, kinds in _EVENT_TYPES.items():
            if key in raw and not isinstance(raw[key], kinds):
                raise fail(f"events[{i}].{key}: {_KIND_NAMES[kinds]}", ["events", i, key])
        for key, value in raw.items():
            if not _plain_value(value):
                raise fail(f"events[{i}].{key}: nested too deeply", ["events", i, key])
        score = raw.get("satisfaction")
        if score is not None and not _is_score(score):
            where: list[str | int] = ["events", i, "satisfaction"]
            raise fail(f"events[{i}].satisfaction: {score!r:.40} is not a score 1–5", where)
        for key in _EVENT_TIMES:
            value = raw.get(key)
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                raise fail(f"events[{i}].{key}: needs a time with offset", ["events", i, key])
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
    for key, value in fields.items():
        kinds = _FIELD_TYPES.get(key, _TEXT)
        if key != "reporter" and value is not None and not isinstance(value, kinds):
            raise fail(f"{key}: {_KIND_NAMES[kinds]}", [key])
    reporter = fields.get("reporter")
    if reporter is not None and not isinstance(reporter, dict):
        raise fail("reporter: must be a mapping (name, phone, department)", ["reporter"])
    for key, value in (reporter or {}).items():
        if value is not None and not isinstance(value, str | int):
            raise fail(f"reporter.{key}: must be text", ["reporter", key])
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list):
        raise fail("aliases: must be a list", ["aliases"])
    ticket = Ticket(ticket_id, fields, tuple(events), tuple(str(a) for a in aliases))
    try:
        ticket.state  # noqa: B018 - validates that the events fold
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise fail(f"events: {exc}", ["events"]) from None
    return ticket


# What a reader may assume of a value (a hand edit can put a list or a
# mapping anywhere; one bad ticket must cost one warning, not a crash).
_TEXT: tuple[type, ...] = (str,)
_TEXT_OR_NONE: tuple[type, ...] = (str, type(None))
_TIME_OR_NONE: tuple[type, ...] = (dt.datetime, type(None))
_ID: tuple[type, ...] = (str, int)
_FLAG: tuple[type, ...] = (bool,)
_KIND_NAMES = {
    _TEXT: "must be text",
    _TEXT_OR_NONE: "must be text",
    _TIME_OR_NONE: "must be a time with offset",
    _ID: "must be text",
    _FLAG: "must be true or false",
}
_FIELD_TYPES: dict[str, tuple[type, ...]] = {"key_user": _FLAG, "security": _FLAG}


def _is_score(value: Any) -> bool:
    """A callback's satisfaction as written (5) or hand-typed ("5"): 1–5."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)
    return isinstance(value, int) and 1 <= value <= 5


_EVENT_TIMES = ("promise", "due", "visit_at")
_EVENT_TYPES: dict[str, tuple[type, ...]] = {
    "id": _ID,
    "by": _TEXT,
    "type": _TEXT,
    **dict.fromkeys(("to", "assignee", "tier", "ref", "priority", "verdict"), _TEXT_OR_NONE),
    **dict.fromkeys(_EVENT_TIMES, _TIME_OR_NONE),
}


def unwritable(ticket: Ticket) -> str | None:
    """Why ``ticket`` would be written as a file the readers refuse (a time
    outside `yamlio.YEARS`, a number too long, data nested too deeply), or
    None. Checked before a write so no input — an alert's start in the year
    9999, a mail's date — can make a ticket unreadable."""
    for key, value in ticket.fields.items():
        problem = _unstorable(value)
        if problem:
            return f"{ticket.id}: {key}: {problem}"
    for i, event in enumerate(ticket.events):
        problem = _unstorable(event.at)
        if problem:
            return f"{ticket.id}: events[{i}].at: {problem}"
        for key, value in event.data.items():
            problem = _unstorable(value) or (None if _plain_value(value) else "nested too deeply")
            if problem:
                return f"{ticket.id}: events[{i}].{key}: {problem}"
    return None


def _unstorable(value: Any) -> str | None:
    if isinstance(value, dt.date):
        low, high = yamlio.YEARS
        if not low <= value.year <= high:
            return f"{value.isoformat()} is outside the years {low}–{high}"
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 200:
            return "a number too long to store"
    elif isinstance(value, list):
        return next((p for v in value if (p := _unstorable(v))), None)
    elif isinstance(value, dict):
        return next((p for v in value.values() if (p := _unstorable(v))), None)
    return None


def _plain_value(value: Any, depth: int = 0) -> bool:
    """Scalars, or lists and mappings of them at most three levels deep."""
    if isinstance(value, list):
        return depth < 3 and all(_plain_value(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return depth < 3 and all(_plain_value(v, depth + 1) for v in value.values())
    return True


def state_mismatches(data: dict[str, Any], ticket: Ticket) -> list[str]:
    """State keys in the file that disagree with what the events say (for fsck)."""
    derived = to_dict(ticket)
    problems = []
    for key in STATE_KEYS:
        if data.get(key) != derived.get(key):
            problems.append(
                f"{key}: file says {_shown(data.get(key))}, events say {_shown(derived.get(key))}"
            )
    return problems


def _shown(value: Any) -> str:
    """A value as the file would hold it (``2026-11-23T10:00:00+08:00``, not
    ``datetime.datetime(…)``), quoted when it is text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return "null" if value is None else repr(value)


__all__ = [
    "FormatError",
    "dumps",
    "loads",
    "from_dict",
    "to_dict",
    "state_mismatches",
    "derive_state",
]
