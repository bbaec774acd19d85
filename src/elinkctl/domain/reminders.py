"""Reminders of the procedure's own steps (issue 13), found by `check`.

Each is a `Finding` whose kind is also the event type `check` records, once
per *mark* (the moment or deadline it is about), so a second run, a missed
run or a re-run after a crash never reminds twice:

- ``vendor_warning`` / ``vendor_overdue``: a vendor's reply deadline
  (`escalate --tier vendor --due`) is near / passed without `replied`;
- ``progress_due``: an open major incident (a priority the PM reviews) had
  no `progress` report to management for ``progress_every`` — once per
  interval, counted from the last report (or from the opening);
- ``visit_missed``: a booked visit was not recorded `visit --done`
  ``visit_grace`` after its time;
- ``promise_passed``: the handling time agreed at `accept --promise` passed
  with the incident unresolved;
- ``kb_decision_due``: a closed incident has no knowledge-base decision
  ``kb_decision_within`` after its close. A reminder more than
  `CATCH_UP` late is not sent: history from before the rule is not nagged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.domain.procedure import ProcedureRules
from elinkctl.timeutil import as_time, iso

VENDOR_WARNING = "vendor_warning"
VENDOR_OVERDUE = "vendor_overdue"
PROGRESS_DUE = "progress_due"
VISIT_MISSED = "visit_missed"
PROMISE_PASSED = "promise_passed"
KB_DECISION_DUE = "kb_decision_due"
KINDS = (
    VENDOR_WARNING,
    VENDOR_OVERDUE,
    PROGRESS_DUE,
    VISIT_MISSED,
    PROMISE_PASSED,
    KB_DECISION_DUE,
)

RESOLVER = "resolver"
"""Pseudo-role in ``notify:``: who resolved the incident (the KB decision is theirs)."""
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    VENDOR_WARNING: ("l2", "pm"),
    VENDOR_OVERDUE: ("l2", "pm"),
    PROGRESS_DUE: ("pm",),
    VISIT_MISSED: ("assignee", "l1"),
    PROMISE_PASSED: ("assignee", "desk"),
    KB_DECISION_DUE: (RESOLVER, "l2"),
}
CATCH_UP = dt.timedelta(days=7)
"""How late a `kb_decision_due` may still be sent (see the module docstring)."""
KB_LOOKBACK = dt.timedelta(days=21)
"""Closed incidents older than this are never looked at for a KB decision."""


def _reminded(ticket: Ticket, kind: str, mark: str) -> bool:
    return any(e.type == kind and str(e.get("mark")) == mark for e in ticket.events)


def resolver(ticket: Ticket) -> str | None:
    """Who recorded the latest resolution."""
    for event in reversed(ticket.events):
        if event.type == "resolved":
            return event.by
    return None


def schedule(ticket: Ticket, proc: ProcedureRules) -> Iterator[tuple[str, str, dt.datetime]]:
    """(kind, mark, due) of every reminder this ticket, as it is now, can
    ever need, recorded or not; `due_reminders` and `next_reminder` read it."""
    s = ticket.state
    is_open = s.status in OPEN_STATUSES
    vendor_due = as_time(s.vendor_due)
    if is_open and vendor_due is not None and s.vendor_replied_at is None:
        mark = iso(vendor_due)
        yield VENDOR_WARNING, mark, vendor_due - proc.vendor_warn_before
        yield VENDOR_OVERDUE, mark, vendor_due
    if is_open and proc.needs_review(ticket.priority):
        base = s.last_progress_at or s.opened_at
        yield PROGRESS_DUE, "", base + proc.progress_every  # mark set per interval below
    visit_at = as_time(s.visit_at)
    if is_open and visit_at is not None and s.visit_done_at is None:
        yield VISIT_MISSED, iso(visit_at), visit_at + proc.visit_grace
    promise = as_time(s.promise_at)
    if is_open and promise is not None:
        yield PROMISE_PASSED, iso(promise), promise
    if s.status == Status.CLOSED and s.closed_at is not None and s.kb_decision is None:
        due = proc.kb_decision_due(s.closed_at)
        if due is not None:
            yield KB_DECISION_DUE, iso(s.closed_at), due


def due_reminders(
    ticket: Ticket, proc: ProcedureRules, now: dt.datetime
) -> list[tuple[str, str, dt.datetime]]:
    """(kind, mark, due) of reminders due at ``now`` and not yet recorded."""
    out = []
    for kind, mark, due in schedule(ticket, proc):
        if kind == PROGRESS_DUE:
            if due > now:
                continue
            # Once per interval: the latest interval boundary passed.
            intervals = int((now - due) / proc.progress_every)
            due = due + intervals * proc.progress_every
            mark = iso(due)
        if due > now or _reminded(ticket, kind, mark):
            continue
        if kind == VENDOR_WARNING and now >= due + proc.vendor_warn_before:
            continue  # the deadline itself passed: the overdue says it all
        if kind == KB_DECISION_DUE and now - due > CATCH_UP:
            continue
        out.append((kind, mark, due))
    return out


def next_reminder(ticket: Ticket, proc: ProcedureRules, now: dt.datetime) -> dt.datetime | None:
    """The earliest moment a reminder not yet recorded becomes due (for the
    check plan); a KB reminder already past its catch-up window never will."""
    candidates = []
    for kind, mark, due in schedule(ticket, proc):
        if kind == PROGRESS_DUE:
            # The next boundary after the last recorded progress_due, if any.
            done = [as_time(e.get("mark")) for e in ticket.events if e.type == PROGRESS_DUE]
            marks = [d for d in done if d is not None and d >= due]
            if marks:
                due = max(marks) + proc.progress_every
            candidates.append(due)
            continue
        if _reminded(ticket, kind, mark):
            continue
        if kind == VENDOR_WARNING and _reminded(ticket, VENDOR_OVERDUE, mark):
            continue
        if kind == KB_DECISION_DUE and now - due > CATCH_UP:
            continue
        candidates.append(due)
    return min(candidates, default=None)
