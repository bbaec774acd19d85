"""When each event was recorded: what one commit did to one ticket file (pure).

`audit` compares the time an event claims (``at``) with the time it was
recorded. elinkctl makes one commit per command, dated when the command ran
(at ``ELINKCTL_NOW`` in replays), so the commit that first holds an event
is its recording; an event that declares ``recorded_at`` (a backfill, a
step recorded with ``--at``) says so itself, and that wins.

`scan` reads just the parts of a ticket file's text history needs — the
priority, whether it carries aliases, and each event's id, time, actor,
type and ``recorded_at`` — several times faster than a full parse, since
`audit` may read every version of every ticket. Text outside the subset
our writer produces falls back to the YAML loader; text that is no ticket
at all gives None. `diff` then says what a commit did: events it added
(late ones kept), events whose time it changed, a priority changed without
an ``edited`` event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from elinkctl.domain.permissions import CHECK_EVENTS

FLOOR = dt.timedelta(minutes=1)
"""History keeps the steps recorded more than this after the time they
claim (what `lifecycle` marks with ``recorded_at``); `audit`'s tolerance is
never below it, so one reading of history serves every tolerance."""

UNDATED = frozenset({"created", "commented", "complained", "edited", "attached", "superseded"})
"""Events whose recording time is not audited: the registration (a backfill
declares its true start, and clocks run from it, so recording late never
helps a KPI), notes, edits (audited for what they change) and `check`'s
marks (`CHECK_EVENTS`: levels are recorded when cron runs, as of when they
fell due)."""


@dataclasses.dataclass(frozen=True)
class Head:
    """What history needs of one event."""

    id: str
    at: dt.datetime
    type: str
    by: str
    recorded_at: dt.datetime | None = None
    priority_change: bool = False  # an ``edited`` event whose changes name the priority


@dataclasses.dataclass(frozen=True)
class Version:
    """One version of a ticket file, as far as history needs it."""

    priority: str | None
    events: Mapping[str, Head]
    aliases: bool = False


@dataclasses.dataclass(frozen=True)
class Commit:
    """A non-merge commit: who made it and when (its author date)."""

    sha: str
    date: dt.datetime
    author: str


@dataclasses.dataclass(frozen=True)
class Late:
    """An event recorded more than `FLOOR` after the time it claims."""

    event: str
    type: str
    by: str
    at: dt.datetime
    recorded: dt.datetime
    declared: bool  # recorded_at in the event, else the commit's date
    commit: str
    author: str


@dataclasses.dataclass(frozen=True)
class TimeEdit:
    """An event already recorded whose time a later commit changed."""

    event: str
    type: str
    old: dt.datetime
    new: dt.datetime
    commit: str
    author: str
    date: dt.datetime


@dataclasses.dataclass(frozen=True)
class PriorityEdit:
    """The priority changed in the file without an ``edited`` event (a hand edit)."""

    old: str
    new: str
    commit: str
    author: str
    date: dt.datetime


@dataclasses.dataclass
class History:
    """What the commits of one ticket file did that `audit` looks at."""

    late: list[Late] = dataclasses.field(default_factory=list)
    time_edits: list[TimeEdit] = dataclasses.field(default_factory=list)
    priority_edits: list[PriorityEdit] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.late or self.time_edits or self.priority_edits)


# --- reading a version ------------------------------------------------------------


class _Fallback(Exception):
    """Not in the subset the line scanner reads: use the YAML loader."""


def _scalar(raw: str) -> str:
    value = raw.strip()
    if value.startswith("'"):
        if len(value) < 2 or not value.endswith("'"):
            raise _Fallback
        return value[1:-1].replace("''", "'")
    if value.startswith(('"', "{", "[", "&", "*", "!", "|", ">")) or " #" in value:
        raise _Fallback
    return value


def _time(raw: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(_scalar(raw))
    except ValueError:
        raise _Fallback from None
    if value.tzinfo is None:
        raise _Fallback
    return value


_EVENTS = "\nevents:\n"
_PRIORITY_LINE = re.compile(r"^priority:(.*)$", re.M)
_ID_LINE = re.compile(r"^- id: ([^\n]*)$", re.M)


def _head(head: str) -> tuple[str | None, bool]:
    """(priority, has aliases) from the text above ``events:``."""
    found = _PRIORITY_LINE.search(head)
    priority = (_scalar(found.group(1)) or None) if found else None
    return priority, head.startswith("aliases:") or "\naliases:" in head


def _items(events: str) -> dict[str, Head]:
    """The events of the text below ``events:``, block style as our writer puts it."""
    heads: dict[str, Head] = {}
    current: dict[str, Any] | None = None

    def close(item: dict[str, Any] | None) -> None:
        if item is None:
            return
        if not {"id", "at", "type"} <= item.keys():
            raise _Fallback
        head = Head(
            str(item["id"]), item["at"], str(item["type"]), str(item.get("by", "")),
            item.get("recorded_at"), bool(item.get("changes_priority")),
        )  # fmt: skip
        if head.id in heads:
            raise _Fallback  # duplicate ids: let the loader decide
        heads[head.id] = head

    for line in events.split("\n"):
        if line.startswith("- "):
            close(current)
            current = {}
            line = "  " + line[2:]
        elif line.startswith("    priority:") and current is not None:
            current["changes_priority"] = True  # under changes: (nothing else nests it)
            continue
        elif not line or line.startswith(("   ", "  - ")):
            continue  # blank, a nested value, an item of a list an event holds
        elif not line.startswith("  ") or current is None:
            raise _Fallback
        key, sep, rest = line[2:].partition(":")
        if not sep:
            raise _Fallback
        if key in ("at", "recorded_at"):
            if rest.strip():
                current[key] = _time(rest)
        elif key in ("id", "type", "by"):
            current[key] = _scalar(rest)
    close(current)
    if not heads:
        raise _Fallback
    return heads


def _fast(text: str) -> Version:
    head, found, events = text.partition(_EVENTS)
    if not found:
        raise _Fallback
    priority, aliases = _head(head)
    return Version(priority, _items(events), aliases)


def _loaded(text: str) -> Version | None:
    from elinkctl import yamlio

    try:
        data = yamlio.load(text)
    except yamlio.YamlError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return None
    heads: dict[str, Head] = {}
    for raw in data["events"]:
        if not isinstance(raw, dict):
            continue
        at, rec = raw.get("at"), raw.get("recorded_at")
        if not isinstance(at, dt.datetime) or at.tzinfo is None or "id" not in raw:
            continue
        rec = rec if isinstance(rec, dt.datetime) and rec.tzinfo is not None else None
        changes = raw.get("changes")
        priority_change = isinstance(changes, dict) and "priority" in changes
        head = Head(
            str(raw["id"]), at, str(raw.get("type")), str(raw.get("by", "")), rec,
            priority_change,
        )  # fmt: skip
        heads.setdefault(head.id, head)
    priority = data.get("priority")
    return Version(str(priority) if priority else None, heads, bool(data.get("aliases")))


def scan(text: str) -> Version | None:
    """The version ``text`` is, or None when it is not a readable ticket."""
    try:
        return _fast(text)
    except _Fallback:
        return _loaded(text)


def _appended(old: str, new: str) -> tuple[Version, Version] | None:
    """(old, new) when ``new`` only appends events to ``old`` — what almost
    every command does — with only the appended events read; None otherwise."""
    old_head, found, old_events = old.partition(_EVENTS)
    new_head, found_too, new_events = new.partition(_EVENTS)
    if not (found and found_too and new_events.startswith(old_events)):
        return None
    if old_events and not old_events.endswith("\n"):
        return None
    suffix = new_events[len(old_events) :]
    try:
        before = Version(_head(old_head)[0], {})
        priority, aliases = _head(new_head)
        if not suffix:
            return before, Version(priority, {}, aliases)
        if not suffix.startswith("- "):
            return None  # the last event changed
        after = Version(priority, _items(suffix), aliases)
        if any(_scalar(i) in after.events for i in _ID_LINE.findall(old_events)):
            return None  # an id used twice: let the full comparison judge
    except _Fallback:
        return None
    return before, after


def diff_texts(
    old: str | None,
    new: str,
    commit: Commit,
    into: History,
    *,
    imported: bool = False,
) -> None:
    """`diff` of two versions' texts (old None: the file is new); versions
    that cannot be read are skipped."""
    quick = _appended(old, new) if old is not None else None
    if quick is not None:
        before: Version | None = quick[0]
        after: Version | None = quick[1]
    else:
        before = scan(old) if old is not None else None
        after = scan(new)
        if after is None or (old is not None and before is None):
            return
    assert after is not None
    diff(before, after, commit, into, imported=imported)


# --- what a commit did ------------------------------------------------------------


def diff(
    old: Version | None,
    new: Version,
    commit: Commit,
    into: History,
    *,
    imported: bool = False,
) -> None:
    """Add to ``into`` what ``commit`` did to the file, from ``old`` (None: the
    file is new) to ``new``.

    ``imported``: the commit brought in history recorded elsewhere (a bulk
    import, a generated store, an incident re-placed after an ID collision);
    its date says nothing about when those events were recorded, so only
    their own ``recorded_at`` dates them.
    """
    before = old.events if old is not None else {}
    imported = imported or (old is None and new.aliases)  # re-placed after an ID collision
    priority_edited = False
    for head in new.events.values():
        previous = before.get(head.id)
        if previous is not None:
            if previous.at != head.at:
                into.time_edits.append(
                    TimeEdit(
                        head.id,
                        head.type,
                        previous.at,
                        head.at,
                        commit.sha,
                        commit.author,
                        commit.date,
                    )  # fmt: skip
                )
            continue
        priority_edited = priority_edited or head.priority_change
        if head.type in UNDATED or head.type in CHECK_EVENTS:
            continue
        if head.recorded_at is not None:
            recorded, declared = head.recorded_at, True
        elif imported:
            continue
        else:
            recorded, declared = commit.date, False
        if recorded - head.at > FLOOR:
            into.late.append(
                Late(
                    head.id,
                    head.type,
                    head.by,
                    head.at,
                    recorded,
                    declared,
                    commit.sha,
                    commit.author,
                )  # fmt: skip
            )
    if (
        old is not None
        and not imported
        and not priority_edited
        and old.priority
        and new.priority
        and old.priority != new.priority
    ):
        into.priority_edits.append(
            PriorityEdit(old.priority, new.priority, commit.sha, commit.author, commit.date)
        )
