"""The on-site visit to its end (上门服务, procedure §5 一线工程师): the work
done and the user's signature recorded from the service form, and files
attached to an incident (the scanned signed form, photos, logs).

Pure: a ticket and plain values in, a `Change` (the new ticket and the
commit message) out. Reading the files and writing them under
``attachments/<ID>/`` is the service's part; here they are names, sizes and
digests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from elinkctl.domain import lifecycle
from elinkctl.domain.layout import safe_name
from elinkctl.domain.model import Event, Status, Ticket, derive_state
from elinkctl.errors import TransitionError, UsageProblem

DONE_FROM = frozenset({Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED})
"""A visit is recorded done while the incident is being worked on, or after
the engineer resolved it on site (the form is entered back at the office)."""


def _when(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def done(
    ticket: Ticket,
    by: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    work: str | None,
    signed_by: str | None,
    at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[lifecycle.Change, list[str]]:
    """Record ``visit_done {start, end, work, signed_by}`` and the notes to tell.

    The event happens when the user signed the form: ``at``, by default the
    end of the work. A visit nobody booked is recorded as a walk-in
    (``walk_in: true``) with a note, not refused: an engineer who passes by
    and fixes it still has a signed form to enter.
    """
    if start is None or end is None:
        raise UsageProblem("--done needs --start and --end: when the work on site began and ended")
    if not (work and work.strip()):
        raise UsageProblem("--done needs -m WORK: what was done on site")
    if not (signed_by and signed_by.strip()):
        raise UsageProblem("--done needs --signed-by NAME: who signed the service form")
    if end < start:
        raise UsageProblem(f"--end {_when(end)} is before --start {_when(start)}")
    for option, value in (("--start", start), ("--end", end)):
        if value > now:
            raise UsageProblem(f"{option} {_when(value)} is in the future (now {_when(now)})")
    if start < ticket.opened_at:
        raise UsageProblem(
            f"--start {_when(start)} is before the incident was opened ({_when(ticket.opened_at)})"
        )
    when = end if at is None else at
    if when < end:
        raise UsageProblem(
            f"--at {_when(when)} is before --end {_when(end)}: signed after the work"
        )
    then = derive_state(tuple(e for e in ticket.events if e.at <= when))
    if then.status not in DONE_FROM:
        raise TransitionError(
            f"{ticket.id} was {then.status} at {_when(when)}: a visit is recorded done "
            f"while the incident is {', '.join(sorted(DONE_FROM))}"
        )
    notes = []
    data: dict[str, Any] = {
        "start": start,
        "end": end,
        "work": work.strip(),
        "signed_by": signed_by.strip(),
    }
    if then.visit_at is None:
        data["walk_in"] = True
        notes.append(f"note: no visit was booked for {ticket.id}; recorded as a walk-in visit")
    shown = (
        _when(start) + "–" + (end.strftime("%H:%M") if end.date() == start.date() else _when(end))
    )
    change = lifecycle.record(
        ticket,
        "visit_done",
        by,
        when,
        now,
        f"on-site visit done {shown}, signed by {signed_by.strip()}",
        **data,
    )
    return change, notes


def last_done(ticket: Ticket) -> Event | None:
    """The latest recorded visit, if it is for the current booking (a visit
    booked again after it is still to come)."""
    found: Event | None = None
    for ev in ticket.events:
        if ev.type == "visit_done":
            found = ev
        elif ev.type == "visit_scheduled":
            found = None
    return found


# --- attachments -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Attachment:
    """One file as the ``attached`` event records it."""

    name: str
    size: int
    sha256: str
    at: dt.datetime | None = None
    by: str | None = None

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


def attached(ticket: Ticket) -> list[Attachment]:
    """Every file attached to ``ticket``, oldest first."""
    out = []
    for ev in ticket.events:
        if ev.type == "attached":
            for item in ev.get("files") or []:
                if isinstance(item, dict):
                    out.append(
                        Attachment(
                            str(item.get("name")),
                            int(item.get("size") or 0),
                            str(item.get("sha256") or ""),
                            ev.at,
                            ev.by,
                        )
                    )
    return out


def format_size(size: int) -> str:
    """A size as people read it: 812 B, 4.2 KB, 1.5 MB, 2.0 GB (powers of 1024)."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


_DOUBLE_EXTENSIONS = (".tar",)


def unique_name(wanted: str, taken: Collection[str]) -> str:
    """`safe_name` of ``wanted``, with ``-2``, ``-3`` … before the extension
    while the name (in any letter case) is taken: an attachment never
    overwrites another."""
    name = safe_name(wanted)
    used = {t.casefold() for t in taken}
    if name.casefold() not in used:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    for double in _DOUBLE_EXTENSIONS:
        if stem.lower().endswith(double) and len(stem) > len(double):
            stem, ext = stem[: -len(double)], double[1:] + "." + ext
    n = 2
    while True:
        tail = f"-{n}" + (f".{ext}" if ext else "")
        room = 150 - len(tail.encode("utf-8"))
        candidate = stem.encode("utf-8")[:room].decode("utf-8", "ignore") + tail
        if candidate.casefold() not in used and safe_name(candidate) == candidate:
            return candidate
        n += 1


def attach(
    ticket: Ticket,
    files: Sequence[Attachment],
    by: str,
    at: dt.datetime,
    now: dt.datetime,
    note: str | None = None,
) -> lifecycle.Change:
    """Record ``attached {files: [{name, size, sha256}]}``; any status (a
    signed form may arrive after close)."""
    if not files:
        raise UsageProblem("attach needs at least one FILE")
    names = [f.name for f in files]
    shown = ", ".join(names[:3]) + (f" … (+{len(names) - 3})" if len(names) > 3 else "")
    what = f"attached {shown}" if len(names) == 1 else f"attached {len(names)} files: {shown}"
    return lifecycle.record(
        ticket,
        "attached",
        by,
        at,
        now,
        what,
        files=[f.record() for f in files],
        note=note.strip() if note else None,
    )
