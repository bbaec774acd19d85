"""Major incidents (重大事件处理流程) and the closure rules, as pure steps.

The seed's table, step by step: the PM judges the incident major (事件判断,
`confirm_major`); l1 hands what it cannot solve in time to the PM (事件升级,
an ``escalated`` event with tier ``pm``); while unresolved, progress is
reported to management (`report_progress`); l2's resolution stops the KPI
clock and goes back to the PM for review (`review`: approved, or returned
to work like a reopen); the PM issues the major incident report
(`report_issued`); only then does the desk call back and close
(`closure_problems`). Closing also needs the user's confirmation (若确认问题
已解决后，则…关闭事件单) unless forced with a reason, which is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from elinkctl.domain import lifecycle
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.domain.procedure import ProcedureRules
from elinkctl.errors import TransitionError, UsageProblem

APPROVED = "approved"
RETURNED = "returned"


def _text(value: str | None, option: str) -> str:
    if value is None or not value.strip():
        raise UsageProblem(f"{option}: must not be empty")
    return value.strip()


def confirm_major(
    ticket: Ticket, by: str, at: dt.datetime, now: dt.datetime, note: str | None
) -> Change:
    """The PM judges the incident major (resources requested, l1 sent on site)."""
    if ticket.priority != "P1":
        raise TransitionError(
            f"{ticket.id} is {ticket.priority}: only a P1 is judged major "
            "(raise it with `edit --priority P1 --reason …` first)"
        )
    if ticket.status not in OPEN_STATUSES:
        raise TransitionError(
            f"{ticket.id} is {ticket.status}: a major judgement is for open incidents"
        )
    if ticket.state.major_confirmed_at is not None:
        raise TransitionError(f"{ticket.id} was already confirmed major")
    return lifecycle.record(
        ticket,
        "major_confirmed",
        by,
        at,
        now,
        "confirmed as a major incident (重大事件)",
        note=note,
    )


def report_progress(
    ticket: Ticket, by: str, at: dt.datetime, now: dt.datetime, text: str | None
) -> Change:
    """A progress report to management (向公司管理层汇报进展) on an open P1."""
    body = _text(text, "-m")
    if ticket.status not in OPEN_STATUSES:
        raise TransitionError(
            f"{ticket.id} is {ticket.status}: progress is reported while it is unresolved"
        )
    if ticket.priority != "P1":
        raise TransitionError(
            f"{ticket.id} is {ticket.priority}: progress reports to management are for P1"
        )
    first = body.splitlines()[0][:60]
    return lifecycle.record(ticket, "progress", by, at, now, f"progress: {first}", text=body)


def review(
    ticket: Ticket,
    verdict: str,
    by: str,
    at: dt.datetime,
    now: dt.datetime,
    text: str | None,
    proc: ProcedureRules,
) -> Change:
    """The PM's review of a resolution (转回给项目经理审核): approve it, or return
    it to work with a reason (the ticket is then in progress again)."""
    if not proc.needs_review(ticket.priority):
        raise TransitionError(
            f"{ticket.id} is {ticket.priority}: only "
            f"{', '.join(sorted(proc.review_priorities))} resolutions are reviewed "
            "(sla.yaml procedure.review_priorities)"
        )
    if ticket.status != Status.RESOLVED:
        raise TransitionError(f"{ticket.id} is {ticket.status}: only a resolution is reviewed")
    if verdict == APPROVED:
        if ticket.state.review == APPROVED:
            raise TransitionError(f"{ticket.id}: this resolution is already approved")
        return lifecycle.record(
            ticket, "reviewed", by, at, now, "resolution approved by the PM",
            verdict=APPROVED, note=text,
        )  # fmt: skip
    reason = _text(text, "--reason")
    return lifecycle.record(
        ticket, "reviewed", by, at, now, f"returned by the PM: {reason}",
        verdict=RETURNED, reason=reason,
    )  # fmt: skip


def issue_report(
    ticket: Ticket,
    by: str,
    at: dt.datetime,
    now: dt.datetime,
    paths: Sequence[str],
    proc: ProcedureRules,
) -> Change:
    """The report was issued to the customer (事件审核确认): stored at ``paths``."""
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise TransitionError(
            f"{ticket.id} is {ticket.status}: the report is issued after the resolution"
        )
    if proc.needs_review(ticket.priority) and ticket.state.review != APPROVED:
        raise TransitionError(
            f"{ticket.id}: the PM has not approved the resolution yet "
            f"(`elinkctl review {ticket.id} --approve`)"
        )
    return lifecycle.record(
        ticket, "report_issued", by, at, now, "major incident report issued", paths=list(paths)
    )


def closure_problems(ticket: Ticket, proc: ProcedureRules, step: str) -> list[str]:
    """What the procedure still wants before ``step`` ("callback" or "close")."""
    s = ticket.state
    missing = []
    if proc.needs_review(ticket.priority):
        if s.review != APPROVED:
            missing.append(f"the PM's approval (`elinkctl review {ticket.id} --approve`)")
        if s.report_issued_at is None:
            missing.append(
                f"the major incident report (`elinkctl report major {ticket.id} --issue`)"
            )
    if step == "close" and s.confirmed_at is None:
        missing.append(f"the user's confirmation (`elinkctl confirm {ticket.id}`)")
    return missing


def close(
    ticket: Ticket,
    by: str,
    at: dt.datetime,
    now: dt.datetime,
    note: str | None,
    proc: ProcedureRules,
    *,
    force: bool = False,
    reason: str | None = None,
) -> Change:
    """Close a resolved incident once the procedure allows it; ``force`` with a
    reason overrides, and is recorded on the event."""
    if force:
        why = _text(reason, "--reason")
        missing = closure_problems(ticket, proc, "close")
        return lifecycle.record(
            ticket, "closed", by, at, now, f"closed (forced: {why})",
            note=note, forced=True, reason=why, skipped=missing or None,
        )  # fmt: skip
    if ticket.status == Status.RESOLVED:
        missing = closure_problems(ticket, proc, "close")
        if missing:
            raise TransitionError(
                f"{ticket.id}: cannot close yet: needs {'; '.join(missing)} (or --force --reason)"
            )
    return lifecycle.record(ticket, "closed", by, at, now, "closed", note=note)


def check_callback(ticket: Ticket, proc: ProcedureRules) -> None:
    """A callback on a reviewed priority waits for the approval and the report."""
    if ticket.status != Status.RESOLVED:
        return  # the process rules say what is allowed
    missing = closure_problems(ticket, proc, "callback")
    if missing:
        raise TransitionError(f"{ticket.id}: no callback yet: needs {'; '.join(missing)}")
