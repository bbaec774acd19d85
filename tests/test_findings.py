"""What `check` finds (elinkctl.domain.findings): pure, no store, `now` given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from elinkctl import yamlio
from elinkctl.domain import lifecycle
from elinkctl.domain.escalation import EscalationRules
from elinkctl.domain.findings import (
    ESCALATION,
    SLA_BREACH,
    SLA_WARNING,
    Rules,
    commit_message,
    escalation_findings,
    next_due,
    record_findings,
    sla_findings,
)
from elinkctl.domain.model import Ticket
from elinkctl.domain.sla import SlaRules

SH = ZoneInfo("Asia/Shanghai")
DATA = Path(__file__).resolve().parents[1] / "src" / "elinkctl" / "data"
SLA = SlaRules.from_mapping(yamlio.load((DATA / "sla.yaml").read_text(encoding="utf-8")), SH)
ESC: dict[str, Any] = yamlio.load((DATA / "escalation.yaml").read_text(encoding="utf-8"))
PEOPLE = {"l2": ["王五"], "pm": ["赵六"], "desk": ["小王"], "management": ["钱总"]}


def people_of(roles: Sequence[str]) -> list[str]:
    return [p for r in roles for p in PEOPLE.get(r, [])]


RULES = Rules(SLA, EscalationRules.from_mapping(ESC, SLA.calendars, SH), ESC, people_of)
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday
MIN = dt.timedelta(minutes=1)


def registered(priority: str = "P2") -> Ticket:
    fields = {"title": "邮件系统收不到外部邮件", "type": "failure", "priority": priority}
    return lifecycle.register("INC-261123-7KQ2M", fields, "小王", T0, T0, T0).ticket


def test_levels_due_are_found_oldest_first_with_their_people() -> None:
    found = escalation_findings(registered("P2"), RULES, T0 + 31 * MIN)
    assert [(f.kind, f.after, f.role, f.recipients) for f in found] == [
        (ESCALATION, "0h", "l2", ("王五",)),
        (ESCALATION, "30m", "pm", ("赵六",)),
    ]
    assert found[0].event_key == "INC-261123-7KQ2M/escalation/0h/l2"


def test_nothing_is_due_a_minute_before_the_cell() -> None:
    assert [f.after for f in escalation_findings(registered("P2"), RULES, T0 + 29 * MIN)] == ["0h"]


def test_recorded_findings_are_not_found_again() -> None:
    now = T0 + 31 * MIN
    ticket = registered("P2")
    found = escalation_findings(ticket, RULES, now) + sla_findings(ticket, RULES, now)
    assert found
    recorded = record_findings(ticket, found, "elinkctl-check", now)
    assert escalation_findings(recorded, RULES, now) == []
    assert sla_findings(recorded, RULES, now) == []
    assert [e.type for e in recorded.events[1:]] == [
        f.kind for f in sorted(found, key=lambda f: f.due_at)
    ]


def test_a_breach_found_with_its_unsent_warning_is_reported_alone() -> None:
    ticket = registered("P2")
    target = SLA.targets["P2"]
    late = T0 + target.response + dt.timedelta(hours=1)
    kinds = {(f.kind, f.clock) for f in sla_findings(ticket, RULES, late)}
    assert (SLA_BREACH, "response") in kinds
    assert (SLA_WARNING, "response") not in kinds


@pytest.mark.parametrize("priority", ["P1", "P2", "P3", "P4"])
def test_next_due_is_the_first_moment_anything_is_found(priority: str) -> None:
    """No finding before `next_due`, one at it: the check plan may skip the ticket until then."""
    ticket = record_findings(
        registered(priority),
        escalation_findings(registered(priority), RULES, T0),
        "elinkctl-check",
        T0,
    )
    due = next_due(ticket, RULES)
    assert due is not None and due > T0

    def anything(at: dt.datetime) -> bool:
        return bool(escalation_findings(ticket, RULES, at) + sla_findings(ticket, RULES, at))

    assert not anything(due - dt.timedelta(seconds=1))
    assert anything(due)


def test_a_resolved_ticket_has_nothing_due() -> None:
    ticket = registered("P3")
    done = lifecycle.record(
        ticket, "resolved", "王五", T0 + MIN, T0 + MIN, "resolved", solution="重启"
    ).ticket
    assert next_due(done, RULES) is None
    assert sla_findings(done, RULES, T0 + dt.timedelta(days=3)) == []


def test_commit_message_counts_and_lists() -> None:
    found = escalation_findings(registered("P2"), RULES, T0 + 31 * MIN)
    message = commit_message(found)
    assert message.splitlines()[0] == "check: 2 escalations"
    assert "- escalation: INC-261123-7KQ2M P2 30m → 项目经理" in message
