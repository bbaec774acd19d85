"""`verify`'s rules for one pushed commit: file texts in, findings out (no I/O).

The shared remote's ``pre-receive`` hook (or a CI job) runs ``elinkctl
verify OLD..NEW``; `elinkctl.services.verify` reads each commit and the
files it changes from git and hands them here. The rules, each a finding's
``rule``:

* **schema** — a changed ticket file loads, is named by its ID, lives in its
  month's folder, its state lines agree with its events and its history is
  possible (fsck's checks); a rule file is YAML;
* **append_only** — every event of the parent is still there unchanged (same
  id, same content). A merge is compared by content with each parent (the
  merge driver renumbers clashing ids and marks impossible steps
  ``superseded``), and one whose result is exactly what the merge driver
  makes of the three versions is accepted as it is;
* **actor** — a new event is recorded under the name of the commit's author
  (or an alias of that person), or under the cron identity for what
  `check` records;
* **permission** — its recorder holds the role the step needs
  (`Permissions.refusal`, escalation.yaml at that commit);
* **time** — no event is later than its commit (beyond a clock skew of five
  minutes), and an event claiming a time more than the tolerance before its
  commit says when it was really entered (``recorded_at``, as the CLI's
  ``--at`` writes it), and that within the tolerance of the commit: a
  hand-edited time that pretends otherwise is a finding;
* **rules** — sla.yaml, escalation.yaml and templates/ are changed only by
  the ``rule_owners`` of escalation.yaml as it was before the change, when
  it names any.

What verify cannot see: a commit's date is what its author's git wrote, so
a forger who also sets ``GIT_COMMITTER_DATE`` passes the time rule; the
hook on the server is what keeps them from rewriting what is already there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from elinkctl import yamlio
from elinkctl.domain import ticketcheck, ticketfile
from elinkctl.domain.merge import (
    MERGE_ACTOR,
    SUPERSEDED,
    SUPERSEDED_NOTE,
    MergeError,
    content_key,
    finished,
    merge_ticket_texts,
)
from elinkctl.domain.model import Event, Ticket
from elinkctl.domain.permissions import CHECK_EVENTS, Permissions
from elinkctl.errors import ElinkError

SCHEMA = "schema"
APPEND_ONLY = "append_only"
ACTOR = "actor"
PERMISSION = "permission"
TIME = "time"
RULES = "rules"
SIGNATURE = "signature"

RULE_FILES = ("sla.yaml", "escalation.yaml")
RULE_DIR = "templates/"
DEFAULT_TOLERANCE = dt.timedelta(hours=1)
"""How far ``recorded_at`` may be from its commit, and how far back an event
may claim without one (escalation.yaml ``verify: {tolerance: 1h}``)."""
SKEW = dt.timedelta(minutes=5)
"""Clocks of the desk's machines may disagree by this much."""
SHORT = 10
"""Hex digits of a commit ID in a finding's line."""
COMMIT_FILE = "(commit)"
"""The ``file`` of a finding about the commit itself (its signature)."""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One broken rule: ``{commit, file, rule, message}`` of ``verify --json``."""

    commit: str
    file: str
    rule: str
    message: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """``<short commit> <file>: <rule>: <message>``."""
        return f"{self.commit[:SHORT]} {self.file}: {self.rule}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Commit:
    """What the rules need of a commit: its ID, author's name, committer date, parents."""

    id: str
    author: str
    date: dt.datetime
    parents: tuple[str, ...] = ()

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclasses.dataclass(frozen=True)
class Policy:
    """People, permissions and the time tolerance of one escalation.yaml."""

    permissions: Permissions
    tolerance: dt.timedelta = DEFAULT_TOLERANCE

    @classmethod
    def from_text(cls, text: str | None) -> Policy:
        """From escalation.yaml's text (absent or unreadable: the defaults;
        `config check` is where a broken file is explained)."""
        data: Any = None
        if text:
            try:
                data = yamlio.load(text)
            except yamlio.YamlError:
                data = None
        return cls.from_mapping(data if isinstance(data, Mapping) else {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        tolerance = DEFAULT_TOLERANCE
        section = data.get("verify")
        if isinstance(section, Mapping) and section.get("tolerance") is not None:
            from elinkctl.timeutil import parse_duration

            try:
                tolerance = parse_duration(section["tolerance"])
            except ElinkError:
                tolerance = DEFAULT_TOLERANCE
        return cls(Permissions.from_mapping(data), tolerance)


def is_ticket_path(path: str) -> bool:
    return path.startswith("tickets/")


def is_rule_path(path: str) -> bool:
    return path in RULE_FILES or path.startswith(RULE_DIR)


# --- reading a ticket ---------------------------------------------------------------


def load_ticket(text: str) -> Ticket | None:
    """The ticket in ``text``, or None when it is not one."""
    try:
        return ticketfile.loads(text)
    except ticketfile.FormatError:
        return None


def incident_key(ticket: Ticket) -> str:
    """What makes two files the same incident: its ``created`` event."""
    return content_key(ticket.events[0])


def _schema(path: str, text: str) -> tuple[Ticket | None, list[str]]:
    """The ticket and fsck's problems with it (one line each)."""
    name = path.rsplit("/", 1)[-1]
    if name == ".gitkeep":
        return None, []  # keeps the empty folder in git (fsck skips it too)
    if not name.endswith(".yaml"):
        return None, ["not a ticket file (tickets/ holds tickets/YYYY/MM/<ID>.yaml)"]
    return ticketcheck.check_text(path, text)


# --- comparing events ------------------------------------------------------------------


def _t(when: dt.datetime) -> str:
    return when.isoformat(timespec="minutes")


def _what(event: Event) -> str:
    return f"event {event.id} ({event.type} by {event.by} at {_t(event.at)})"


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def plain_key(event: Event) -> str:
    """`content_key` of the event as recorded, read past a merge's superseded mark."""
    kind, data = event.type, dict(event.data)
    if kind == SUPERSEDED and data.get(SUPERSEDED):
        kind = str(data.pop(SUPERSEDED))
    if data.get("note") == SUPERSEDED_NOTE:
        del data["note"]
    return content_key(Event("", event.at, event.by, kind, data))


def _changed(old: Event, new: Event) -> str:
    a, b = old.to_dict(), new.to_dict()
    parts = []
    for key in dict.fromkeys([*a, *b]):
        if _norm(a.get(key)) != _norm(b.get(key)):
            parts.append(f"{key} {_value(a.get(key))} → {_value(b.get(key))}")
    return ", ".join(parts) or "reordered"


def _norm(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _value(value: Any) -> str:
    if value is None:
        return "∅"
    text = _t(value) if isinstance(value, dt.datetime) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _by_id(old: Ticket, new: Ticket, add: Callable[[str, str], None]) -> set[str]:
    """Every event of ``old`` unchanged in ``new``; the ids of the old events."""
    child = {e.id: e for e in new.events}
    for event in old.events:
        mine = child.get(event.id)
        if mine is None:
            add(APPEND_ONLY, f"{_what(event)} was removed")
        elif content_key(mine) != content_key(event):
            add(APPEND_ONLY, f"{_what(event)} was changed: {_changed(event, mine)}")
    return {e.id for e in old.events}


def _by_content(
    sources: Sequence[Ticket], new: Ticket, add: Callable[[str, str], None]
) -> set[str]:
    """Every event of each source still in ``new`` (by content); the known keys."""
    have = Counter(plain_key(e) for e in new.events)
    known: set[str] = set()
    reported: set[str] = set()
    for source in sources:
        need = Counter(plain_key(e) for e in source.events)
        for event in source.events:
            key = plain_key(event)
            if have[key] < need[key] and key not in reported:
                reported.add(key)
                add(APPEND_ONLY, f"{_what(event)} was removed or changed")
        known.update(need)
    marks = finished(new).events
    for mine, expected in zip(new.events, marks, strict=True):
        if mine.type == SUPERSEDED and expected.type != SUPERSEDED:
            add(APPEND_ONLY, f"{_what(mine)} is marked superseded though its step was possible")
    return known


def _driver_agrees(base: str | None, parents: Sequence[str | None], after: str) -> bool:
    """Whether ``after`` is what the merge driver makes of base, ours and theirs."""
    ours, theirs = parents[0], parents[1]
    if ours is None or theirs is None:
        return False
    try:
        return merge_ticket_texts(base, ours, theirs).text == after
    except MergeError:
        return False


# --- one ticket file ---------------------------------------------------------------------


def check_ticket(
    commit: Commit,
    path: str,
    parents: Sequence[str | None],
    after: str | None,
    policy: Policy,
    *,
    base: str | None = None,
    moved: Sequence[Ticket] = (),
) -> list[Finding]:
    """The findings of one ticket file as ``commit`` leaves it.

    ``parents``: the file's text in each parent (None where absent); ``base``:
    in the merge base (two-parent merges); ``moved``: earlier versions of this
    incident that an ID collision displaced from another file (their events
    come from history, not from this commit).
    """
    found: list[Finding] = []

    def add(rule: str, message: str) -> None:
        found.append(Finding(commit.id, path, rule, message))

    if after is None:
        present = [p for p in parents if p is not None]
        if commit.is_merge and len(present) < len(parents):
            return found  # absent on one side: the merge took that side
        if present and path.endswith(".yaml"):
            old = load_ticket(present[0])
            count = f" with its {len(old.events)} events" if old else ""
            add(APPEND_ONLY, f"ticket file deleted{count}")
        return found
    ticket, problems = _schema(path, after)
    for problem in problems:
        add(SCHEMA, problem)
    if ticket is None:
        return found
    if commit.is_merge:
        if after in parents:
            return found
        if len(parents) == 2 and _driver_agrees(base, parents, after):
            return found
    key = incident_key(ticket)
    olds: list[Ticket] = []
    for text in parents:
        old = load_ticket(text) if text is not None else None
        if old is None:
            continue  # absent, or broken there (that commit was the finding)
        if incident_key(old) == key or (old.id == ticket.id and not commit.is_merge):
            olds.append(old)  # (a merge tells incidents apart by their creation: collisions)
        elif not commit.is_merge and not moved:
            add(
                APPEND_ONLY,
                f"replaces incident {old.id} ({old.title}) and its {len(old.events)} events",
            )
    if commit.is_merge or moved:
        known = _by_content([*olds, *moved], ticket, add)
        new = [i for i, e in enumerate(ticket.events) if plain_key(e) not in known]
    else:
        old_ids = _by_id(olds[0], ticket, add) if olds else set()
        new = [i for i, e in enumerate(ticket.events) if e.id not in old_ids]
    for i in new:
        _check_new_event(commit, ticket, i, policy, add)
    return found


def _same_person(perms: Permissions, a: str, b: str) -> bool:
    if a == b:
        return True
    person = perms.person(a)
    return person is not None and person == perms.person(b)


def _check_new_event(
    commit: Commit, ticket: Ticket, i: int, policy: Policy, add: Callable[[str, str], None]
) -> None:
    event = ticket.events[i]
    perms = policy.permissions
    if commit.is_merge and event.by == MERGE_ACTOR and event.get("merge") is True:
        return  # the merge driver's note of a field both sides changed
    if event.by == perms.cron_identity and event.type in CHECK_EVENTS:
        pass  # check's marks, whoever's machine committed them
    elif not _same_person(perms, event.by, commit.author):
        add(
            ACTOR,
            f"{_what(event)} is recorded under another name than the commit's "
            f"author ({commit.author})",
        )
    before = dataclasses.replace(ticket, events=ticket.events[:i]) if i else None
    refusal = perms.refusal(event.by, event, before)
    if refusal:
        add(PERMISSION, f"{_what(event)}: {refusal}")
    _check_time(commit, event, policy, add)


def _check_time(
    commit: Commit, event: Event, policy: Policy, add: Callable[[str, str], None]
) -> None:
    date, tolerance = commit.date, policy.tolerance
    if event.at > date + SKEW:
        add(TIME, f"{_what(event)} is later than its commit ({_t(date)})")
    raw = event.get("recorded_at")
    recorded = _as_time(raw)
    if raw is not None and recorded is None:
        add(TIME, f"{_what(event)}: recorded_at {raw!r} is not a time with offset")
    elif recorded is not None:
        if not date - tolerance <= recorded <= date + SKEW:
            add(
                TIME,
                f"{_what(event)} says it was recorded at {_t(recorded)}, but its commit is "
                f"dated {_t(date)} (tolerance {_span(tolerance)})",
            )
    elif date - event.at > tolerance:
        add(
            TIME,
            f"{_what(event)} claims a time {_span(date - event.at)} before its commit "
            f"({_t(date)}) without saying when it was recorded (recorded_at, as --at writes it)",
        )


def _as_time(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value
    return None


# --- rule files ----------------------------------------------------------------------------


def check_rule_file(commit: Commit, path: str, after: str | None, owners: Policy) -> list[Finding]:
    """A change of sla.yaml, escalation.yaml or templates/: by a rule owner
    (of ``owners``, escalation.yaml before the change), and still YAML."""
    found: list[Finding] = []
    perms = owners.permissions
    if perms.rule_owners:
        allowed = {perms.person(o) or o for o in perms.rule_owners}
        if (perms.person(commit.author) or commit.author) not in allowed:
            what = "deleted" if after is None else "changed"
            found.append(
                Finding(
                    commit.id,
                    path,
                    RULES,
                    f"{what} by {commit.author}, who is not a rule owner "
                    f"(escalation.yaml rule_owners: {', '.join(perms.rule_owners)})",
                )
            )
    if after is not None and path in RULE_FILES:
        try:
            yamlio.load(after)
        except yamlio.YamlError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            found.append(Finding(commit.id, path, SCHEMA, f"{where}invalid YAML: {exc}"))
    return found
