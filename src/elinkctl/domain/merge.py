"""Three-way structural merge of tickets and knowledge articles (pure, no I/O).

Git calls ``elinkctl merge-file %O %A %B %P`` for every ticket both sides
changed (``.gitattributes``: ``merge=elinkctl-ticket``); that command hands
the three texts to `merge_ticket_texts`. A line merge of YAML would put two
appended events on the same lines and stop with conflict markers; a ticket
is instead merged as data, and the result never contains conflict markers.

Rules, and why:

* **Events** are facts; none may be lost or doubled. They are matched by
  *content* (time, actor, type and data — not the ``eN`` id, which two
  clones hand out independently), as multisets, three-way: an event either
  side added is kept once; an event one side deleted (a hand fix) and the
  other left alone stays deleted. The union is ordered by time (ours first
  at equal times). Two different events with the same id (both clones
  appended ``e5``) are both kept; the later one gets the next free ``eN``.
  Matching by content also makes a renumbered event recognisable in the
  next merge, so merging the same histories again converges.
* **Lifecycle conflicts**: when both sides moved the process (two people
  accepted, or resolved, the same incident at once) the union may hold a
  step the process does not allow (accept an incident already in progress).
  Such an event is kept but marked ``type: superseded`` with its original
  type in ``superseded:`` — visible in the timeline, ignored by the state
  fold, so the merged ticket passes ``fsck``. This marking is recomputed
  from scratch on every merge (marked events are read back as their
  original type first), so it is the same whoever merges.
* **State** (status, tier, assignee, timestamps) is never merged: it is
  derived again from the merged events when the file is written.
* **Descriptive fields** are merged three-way per field, ``reporter.name``,
  ``reporter.phone`` and ``reporter.department`` individually. When both
  sides changed a field to different values, the side whose latest
  ``edited`` event for that field is later wins; on equal times the greater
  value (as text) wins, so every clone picks the same. The merge records an
  ``edited`` event by ``merge`` with ``merge: true``, ``changes: {field:
  [discarded, kept]}`` and ``discarded`` naming the losing value, so no edit
  vanishes silently and ``log``/``show`` tell who has to look.
* **ID collision** (two clones created different incidents under the same
  ID — a different ``created`` event): both are kept. The *winner* (the
  earlier ``created`` event; ties by actor, then by content) keeps the ID
  and the merged path; the *loser* is returned in `TicketMerge.collision`
  for the caller to write under a new ID. The choice does not depend on
  which side is "ours", so every clone agrees on it (see
  ``elinkctl.services.sync`` for the repair and `renamed_id` for the new ID).

Knowledge articles (`merge_article_texts`): front matter per key three-way
(lists as sets, scalars: ours on a true conflict, theirs' value recorded in
the body); the body by a line merge supplied by the caller (git merge-file);
on a real body conflict both versions are kept, ours first and theirs in a
clearly labelled section, never conflict markers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from elinkctl import yamlio
from elinkctl.domain import ids, ticketfile
from elinkctl.domain.lifecycle import ALLOWED
from elinkctl.domain.model import DESCRIPTIVE_FIELDS, REPORTER_FIELDS, Event, Ticket, derive_state

MERGE_ACTOR = "merge"
SUPERSEDED = "superseded"
SUPERSEDED_NOTE = "made impossible by a concurrent change (merge)"
"""The note a superseded step gets when it had none (`verify` reads past it)."""


class MergeError(Exception):
    """The inputs cannot be merged structurally (e.g. a side is not a valid ticket)."""


@dataclasses.dataclass(frozen=True)
class TicketMerge:
    """The merged ticket text, and the other incident of an ID collision, if any."""

    text: str
    collision: Ticket | None = None
    collision_base: Ticket | None = None
    notes: tuple[str, ...] = ()


# --- parsing ---------------------------------------------------------------------


def _unsupersede(event: Event) -> Event:
    if event.type != SUPERSEDED or not event.get(SUPERSEDED):
        return event
    data = {k: v for k, v in event.data.items() if k != SUPERSEDED}
    return dataclasses.replace(event, type=str(event.get(SUPERSEDED)), data=data)


def parse(text: str) -> Ticket:
    """A ticket with superseded markings read back as the original events."""
    try:
        ticket = ticketfile.loads(text)
    except ticketfile.FormatError as exc:
        raise MergeError(f"not a valid ticket: {exc}") from None
    return dataclasses.replace(ticket, events=tuple(_unsupersede(e) for e in ticket.events))


def _canon(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


def content_key(event: Event) -> str:
    """What makes two events the same fact: everything but the ``eN`` id."""
    return json.dumps(
        [event.at.isoformat(), event.by, event.type, _canon(dict(event.data))],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )


def _same_incident(a: Ticket, b: Ticket) -> bool:
    return content_key(a.events[0]) == content_key(b.events[0])


def _creation_rank(t: Ticket) -> tuple[dt.datetime, str, str]:
    first = t.events[0]
    return (first.at, first.by, content_key(first) + ticketfile.dumps(t))


# --- events ------------------------------------------------------------------------


def _combine(d_ours: int, d_theirs: int) -> int:
    if d_ours > 0 and d_theirs > 0:
        return max(d_ours, d_theirs)  # both added the same fact: once
    if d_ours < 0 and d_theirs < 0:
        return min(d_ours, d_theirs)  # both deleted it
    return d_ours + d_theirs


def merge_events(
    base: Sequence[Event], ours: Sequence[Event], theirs: Sequence[Event]
) -> list[Event]:
    """Three-way multiset union by content, in time order, ids made unique."""
    c_base = Counter(content_key(e) for e in base)
    c_ours = Counter(content_key(e) for e in ours)
    c_theirs = Counter(content_key(e) for e in theirs)
    wanted = {
        k: c_base[k] + _combine(c_ours[k] - c_base[k], c_theirs[k] - c_base[k])
        for k in set(c_ours) | set(c_theirs)
    }
    kept: list[Event] = []
    taken: Counter[str] = Counter()
    for event in [*ours, *theirs]:
        key = content_key(event)
        if taken[key] < wanted.get(key, 0):
            taken[key] += 1
            kept.append(event)
    ordered = sorted(kept, key=lambda e: e.at)  # stable: ours first at equal times
    if ordered and ordered[0].type != "created":
        created = [e for e in ordered if e.type == "created"][:1]
        ordered = created + [e for e in ordered if e not in created]
    return renumber(ordered)


def renumber(events: Sequence[Event]) -> list[Event]:
    """Keep the first event holding each id; give a later duplicate the next free ``eN``."""
    next_seq = max((e.seq for e in events), default=0) + 1
    used: set[str] = set()
    out: list[Event] = []
    for event in events:
        if event.id in used:
            event = dataclasses.replace(event, id=f"e{next_seq}")
            next_seq += 1
        used.add(event.id)
        out.append(event)
    return out


def mark_superseded(events: Sequence[Event]) -> list[Event]:
    """Mark lifecycle steps the process does not allow at their place in time.

    Replays the events like `lifecycle.check_history`; an impossible step is
    kept, renamed ``superseded`` (ignored by the state fold), so the merged
    history is valid and still shows what everyone did.
    """
    out: list[Event] = [events[0]]
    for event in events[1:]:
        allowed = ALLOWED.get(event.type)
        if allowed is not None and derive_state(out).status not in allowed:
            data = {SUPERSEDED: event.type, **dict(event.data)}
            data.setdefault("note", SUPERSEDED_NOTE)
            event = dataclasses.replace(event, type=SUPERSEDED, data=data)
        out.append(event)
    return out


# --- descriptive fields --------------------------------------------------------------


def _flat(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in DESCRIPTIVE_FIELDS:
        if key == "reporter":
            reporter = fields.get("reporter") or {}
            for sub in REPORTER_FIELDS:
                value = reporter.get(sub) if isinstance(reporter, Mapping) else None
                if value not in (None, ""):
                    out[f"reporter.{sub}"] = value
        elif fields.get(key) not in (None, ""):
            out[key] = fields[key]
    return out


def _unflat(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reporter = {s: flat[f"reporter.{s}"] for s in REPORTER_FIELDS if f"reporter.{s}" in flat}
    for key in DESCRIPTIVE_FIELDS:
        if key == "reporter":
            if reporter:
                out["reporter"] = reporter
        elif key in flat:
            out[key] = flat[key]
    return out


def _last_edit(events: Sequence[Event], field: str) -> dt.datetime | None:
    latest: dt.datetime | None = None
    for event in events:
        if event.type != "edited":
            continue
        changes = event.get("changes")
        if not isinstance(changes, Mapping):
            continue
        touched = field in changes or (field.startswith("reporter.") and "reporter" in changes)
        if touched and (latest is None or event.at > latest):
            latest = event.at
    return latest


def merge_fields(
    base: Ticket | None, ours: Ticket, theirs: Ticket
) -> tuple[dict[str, Any], list[Event]]:
    """Per-field three-way merge; returns the fields and the merge's ``edited`` events."""
    f_base = _flat(base.fields) if base else {}
    f_ours, f_theirs = _flat(ours.fields), _flat(theirs.fields)
    merged: dict[str, Any] = {}
    notes: list[Event] = []
    for key in dict.fromkeys([*f_ours, *f_theirs]):
        b, o, t = f_base.get(key), f_ours.get(key), f_theirs.get(key)
        if o == t or t == b:
            value = o
        elif o == b:
            value = t
        else:
            when_o = _last_edit(ours.events, key)
            when_t = _last_edit(theirs.events, key)
            rank_o = (when_o or dt.datetime.min.replace(tzinfo=dt.UTC), str(o))
            rank_t = (when_t or dt.datetime.min.replace(tzinfo=dt.UTC), str(t))
            value, lost = (o, t) if rank_o > rank_t else (t, o)
            at = max(
                [w for w in (when_o, when_t) if w is not None]
                or [max(ours.events[-1].at, theirs.events[-1].at)]
            )
            notes.append(
                Event(
                    "e0",
                    at,
                    MERGE_ACTOR,
                    "edited",
                    {
                        "merge": True,
                        "changes": {key: [lost, value]},
                        "discarded": lost,
                        "reason": "both sides changed it; the later edit wins",
                    },
                )
            )
        if value not in (None, ""):
            merged[key] = value
    return _unflat(merged), notes


# --- tickets ---------------------------------------------------------------------------


def merge_tickets(base: Ticket | None, ours: Ticket, theirs: Ticket) -> Ticket:
    """Merge two versions of the same incident (same ``created`` event)."""
    if base is not None and not _same_incident(base, ours):
        base = None
    base_events = base.events if base else ()
    fields, field_notes = merge_fields(base, ours, theirs)
    events = merge_events(base_events, ours.events, theirs.events)
    present = {content_key(e) for e in events}
    extra = [n for n in field_notes if content_key(n) not in present]
    if extra:
        next_seq = max(e.seq for e in events) + 1
        for i, note in enumerate(extra):
            events.append(dataclasses.replace(note, id=f"e{next_seq + i}"))
        events = sorted(events, key=lambda e: e.at)
    aliases = tuple(dict.fromkeys([*ours.aliases, *theirs.aliases]))
    return Ticket(ours.id, fields, tuple(mark_superseded(events)), aliases)


def merge_ticket_texts(base: str | None, ours: str, theirs: str) -> TicketMerge:
    """Merge three texts of one ticket file (``base`` None or empty: added on both sides).

    Raises `MergeError` only when ours or theirs is not a ticket at all.
    """
    t_ours, t_theirs = parse(ours), parse(theirs)
    t_base: Ticket | None = None
    if base and base.strip():
        try:
            t_base = parse(base)
        except MergeError:
            t_base = None  # a broken ancestor: merge two-way
    if _same_incident(t_ours, t_theirs):
        merged = merge_tickets(t_base, t_ours, t_theirs)
        return TicketMerge(ticketfile.dumps(merged))
    winner, loser = sorted((t_ours, t_theirs), key=_creation_rank)
    base_l = t_base if t_base is not None and _same_incident(t_base, loser) else None
    # Only one side has the winner at this path: it is taken whole.
    kept = winner
    note = f"ID collision on {t_ours.id}: another incident was created under the same ID"
    return TicketMerge(finish(kept), collision=loser, collision_base=base_l, notes=(note,))


def renamed_id(loser: Ticket, attempt: int = 0) -> str:
    """The new ID of the losing incident of a collision: the same in every clone.

    Drawn by `ids.new_id` from a generator seeded with the incident's
    ``created`` event and old ID, so two clones repairing the same collision
    independently agree; the date part (and so the month shard, where
    `Store._resolve_alias` looks) stays that of the old ID.
    """
    m = ids.ID_RE.match(loser.id)
    if not m:
        raise MergeError(f"not an incident ID: {loser.id}")
    opened = dt.date(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
    seed = hashlib.sha256(f"{loser.id}\n{content_key(loser.events[0])}".encode()).hexdigest()
    rng = random.Random(seed)
    candidate = loser.id
    for _ in range(attempt + 1):
        candidate = ids.new_id(opened, {loser.id}, rand=rng.randrange)
    return candidate


def rename(ticket: Ticket, new_id: str) -> Ticket:
    """The same incident under ``new_id``, its old ID kept in ``aliases``."""
    aliases = tuple(dict.fromkeys([*ticket.aliases, ticket.id]))
    return dataclasses.replace(ticket, id=new_id, aliases=tuple(a for a in aliases if a != new_id))


def finished(ticket: Ticket) -> Ticket:
    """A ticket whose events came from a merge, with superseded marks recomputed."""
    events = tuple(mark_superseded([_unsupersede(e) for e in ticket.events]))
    return dataclasses.replace(ticket, events=events)


def finish(ticket: Ticket) -> str:
    """Text of `finished`."""
    return ticketfile.dumps(finished(ticket))


# --- knowledge articles ------------------------------------------------------------------

BodyMerge = Callable[[str, str, str], "tuple[str, bool]"]
"""(base, ours, theirs) -> (merged text, clean?) — a line merge such as git merge-file."""

LOST_HEADING = "## 合并冲突：被覆盖的字段（merge conflict — the other side's front matter）"
CONFLICT_HEADING = "## 合并冲突：另一版本（merge conflict — the other version, please reconcile）"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a Markdown article; no front matter → ({}, text)."""
    stripped = text.removeprefix("\ufeff")
    lines = stripped.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, stripped
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        return {}, stripped
    try:
        data = yamlio.load("\n".join(lines[1:end])) or {}
    except yamlio.YamlError:
        return {}, stripped
    if not isinstance(data, dict):
        return {}, stripped
    return data, "\n".join(lines[end + 1 :]).lstrip("\n")


def _merge_list(b: list[Any], o: list[Any], t: list[Any]) -> list[Any]:
    removed = {json.dumps(_canon(x)) for x in b} - {json.dumps(_canon(x)) for x in t}
    removed |= {json.dumps(_canon(x)) for x in b} - {json.dumps(_canon(x)) for x in o}
    out: list[Any] = []
    seen: set[str] = set()
    for item in [*o, *t]:
        key = json.dumps(_canon(item))
        if key not in seen and key not in removed:
            seen.add(key)
            out.append(item)
    return out


def merge_article_texts(base: str | None, ours: str, theirs: str, body_merge: BodyMerge) -> str:
    """Merge three texts of a knowledge article; never leaves conflict markers."""
    fm_b, body_b = split_front_matter(base or "")
    fm_o, body_o = split_front_matter(ours)
    fm_t, body_t = split_front_matter(theirs)
    front: dict[str, Any] = {}
    lost: list[str] = []
    for key in dict.fromkeys([*fm_o, *fm_t]):
        b, o, t = fm_b.get(key), fm_o.get(key), fm_t.get(key)
        if o == t or t == b:
            value = o
        elif o == b:
            value = t
        elif isinstance(o, list) and isinstance(t, list):
            value = _merge_list(b if isinstance(b, list) else [], o, t)
        else:
            value = o
            lost.append(f"- `{key}`: {t}")
        if value is None and (key not in fm_o or key not in fm_t):
            continue  # deleted on one side
        front[key] = value
    if body_o == body_t or body_t == body_b:
        body = body_o
    elif body_o == body_b:
        body = body_t
    else:
        merged, clean = body_merge(body_b, body_o, body_t)
        if clean and not _has_markers(merged):
            body = merged
        else:
            lines = body_t.strip("\n").split("\n")
            demoted = "\n".join("#" + ln if ln.startswith("#") else ln for ln in lines)
            body = f"{body_o.rstrip()}\n\n{CONFLICT_HEADING}\n\n{demoted}\n"
    if lost:
        body = f"{body.rstrip()}\n\n{LOST_HEADING}\n\n" + "\n".join(lost) + "\n"
    head = yamlio.dump(front) if front else ""
    if not fm_o and not fm_t:
        return body
    body = body.strip("\n")
    return "---\n" + head + "---\n\n" + (body + "\n" if body else "")


def _has_markers(text: str) -> bool:
    return any(
        line.startswith(("<<<<<<< ", ">>>>>>> ", "||||||| ")) or line == "======="
        for line in text.split("\n")
    )
