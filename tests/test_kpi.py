"""KPI rules (elinkctl.domain.kpi): each rule pinned by its own small case.

Tickets are built from events directly; the rules are the shipped sla.yaml
(P1 15m/4h and P2 30m/8h on 24x7, P3 1h/2wd and P4 4h/5wd on business hours).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from elinkctl.domain import durations, kpi
from elinkctl.domain.model import Event, Ticket
from elinkctl.domain.sla import SlaRules

SH = ZoneInfo("Asia/Shanghai")
SLA_YAML = Path(__file__).resolve().parents[1] / "src" / "elinkctl" / "data" / "sla.yaml"
RULES = SlaRules.from_mapping(yaml.safe_load(SLA_YAML.read_text(encoding="utf-8")), SH)


def t(text: str) -> dt.datetime:
    """'11-23 10:00' → 2026-11-23 10:00 Shanghai (2026-11-23 is a Monday)."""
    return dt.datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=SH)


def ticket(
    priority: str, opened: str, *events: tuple[str, str, dict[str, Any]], **fields: Any
) -> Ticket:
    evs = [Event("e1", t(opened), "desk", "created", {"priority": priority})]
    for i, (kind, at, data) in enumerate(events, start=2):
        evs.append(Event(f"e{i}", t(at), "desk", kind, data))
    base = {"title": "x", "type": "failure", "priority": priority}
    base.update(fields)
    return Ticket("INC-261123-AAAAA", base, tuple(evs))


def ev(kind: str, at: str, **data: Any) -> tuple[str, str, dict[str, Any]]:
    return (kind, at, data)


def one(tk: Ticket, now: str) -> kpi.Summary:
    return kpi.aggregate([kpi.ticket_facts(tk, RULES)], t(now)).overall


def outcome(rc: kpi.RateCount) -> str:
    return "timely" if rc.timely else "late" if rc.late else "pending"


def test_timely_response_and_resolution() -> None:
    s = one(
        ticket(
            "P1",
            "11-23 10:00",
            ev("accepted", "11-23 10:10"),
            ev("resolved", "11-23 13:00", solution="s"),
        ),
        "11-30 00:00",
    )
    assert (outcome(s.response), outcome(s.resolution)) == ("timely", "timely")
    assert s.response.rate == 1.0 and s.resolution.rate == 1.0


def test_response_is_first_accept_contact_or_resolve() -> None:
    late = one(ticket("P1", "11-23 10:00", ev("accepted", "11-23 10:16")), "11-23 10:20")
    assert outcome(late.response) == "late"
    direct = one(
        ticket("P1", "11-23 10:00", ev("resolved", "11-23 10:05", solution="s")), "11-23 11:00"
    )
    assert outcome(direct.response) == "timely"


def test_paused_time_is_not_counted_for_resolution() -> None:
    # P2 8h: 10h wall, of which 4h pending → 6h counted → timely.
    tk = ticket(
        "P2",
        "11-23 09:00",
        ev("accepted", "11-23 09:10"),
        ev("pended", "11-23 10:00", reason="等用户"),
        ev("resumed", "11-23 14:00"),
        ev("resolved", "11-23 19:00", solution="s"),
    )
    s = one(tk, "11-30 00:00")
    assert outcome(s.resolution) == "timely"
    f = kpi.ticket_facts(tk, RULES)
    assert f["resolution_sla_s"] == 6 * 3600
    assert f["resolution_wall_s"] == 10 * 3600  # MTTR is wall time, pause included
    assert f["paused_s"] == 4 * 3600
    # The same history without the pause is late.
    unpaused = ticket(
        "P2",
        "11-23 09:00",
        ev("accepted", "11-23 09:10"),
        ev("resolved", "11-23 19:00", solution="s"),
    )
    assert outcome(one(unpaused, "11-30 00:00").resolution) == "late"


def test_reopened_is_measured_to_last_resolution() -> None:
    # P1 4h: first resolve at 1h would be timely; the last one at 5h is late.
    tk = ticket(
        "P1",
        "11-23 10:00",
        ev("accepted", "11-23 10:05"),
        ev("resolved", "11-23 11:00", solution="a"),
        ev("reopened", "11-23 12:00", reason="又坏了"),
        ev("resolved", "11-23 15:00", solution="b"),
    )
    s = one(tk, "11-30 00:00")
    assert outcome(s.resolution) == "late"
    assert (s.reopened, s.resolved_once, s.reopen_rate) == (1, 1, 1.0)
    assert kpi.ticket_facts(tk, RULES)["resolution_wall_s"] == 5 * 3600


def test_reopened_and_still_open_runs_on_its_deadline() -> None:
    tk = ticket(
        "P1",
        "11-23 10:00",
        ev("accepted", "11-23 10:05"),
        ev("resolved", "11-23 11:00", solution="a"),
        ev("reopened", "11-23 12:00", reason="r"),
    )
    assert outcome(one(tk, "11-23 13:59").resolution) == "pending"
    assert outcome(one(tk, "11-23 14:00").resolution) == "late"


def test_rejected_is_excluded_and_false_alarm_counted() -> None:
    tk = ticket(
        "P3",
        "11-23 10:00",
        ev("rejected", "11-23 10:05", reason="false-alarm"),
        source="monitoring",
        system="监控平台",
    )
    s = one(tk, "11-30 00:00")
    assert s.total == 1 and s.counted == 0
    assert s.excluded["rejected"] == 1
    assert (s.response.timely, s.response.late, s.response.pending) == (0, 0, 0)
    assert s.response.rate is None
    assert s.false_alarms == 1
    assert s.false_alarms_by_source == {"monitoring": 1}
    assert s.false_alarms_by_system == {"监控平台": 1}


def test_rejected_for_scope_is_not_a_false_alarm() -> None:
    tk = ticket("P3", "11-23 10:00", ev("rejected", "11-23 10:05", reason="不在服务范围"))
    s = one(tk, "11-30 00:00")
    assert s.excluded["rejected"] == 1 and s.false_alarms == 0


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("false-alarm", True),
        ("False-Alarm", True),
        ("false-alarm: 探针抖动", True),
        ("false-alarm 测试", True),
        ("false-alarms", False),
        ("not a false-alarm", False),
        (None, False),
    ],
)
def test_false_alarm_reason(reason: str | None, expected: bool) -> None:
    assert kpi.is_false_alarm(reason) is expected


def test_redirected_is_excluded() -> None:
    tk = ticket("P4", "11-23 10:00", ev("redirected", "11-23 10:05", to="change"))
    s = one(tk, "11-30 00:00")
    assert s.excluded["redirected"] == 1 and s.counted == 0
    assert s.resolution.rate is None


def test_open_is_late_once_deadline_passed() -> None:
    tk = ticket("P2", "11-23 09:00", ev("accepted", "11-23 09:10"))
    assert outcome(one(tk, "11-23 16:59").resolution) == "pending"
    late = one(tk, "11-23 17:00")
    assert outcome(late.resolution) == "late"
    assert outcome(late.response) == "timely"


def test_open_is_pending_before_deadline() -> None:
    tk = ticket("P2", "11-23 09:00")
    s = one(tk, "11-23 09:20")
    assert outcome(s.response) == "pending" and outcome(s.resolution) == "pending"
    assert s.response.rate is None  # pending is neither timely nor late
    assert outcome(one(tk, "11-23 09:30").response) == "late"


def test_open_pause_stops_the_deadline() -> None:
    # Paused after 1h of an 8h target: no deadline, pending however long it waits.
    tk = ticket(
        "P2",
        "11-23 09:00",
        ev("accepted", "11-23 09:10"),
        ev("pended", "11-23 10:00", reason="等厂商"),
    )
    f = kpi.ticket_facts(tk, RULES)
    assert f["resolution_deadline"] is None
    assert outcome(one(tk, "12-31 00:00").resolution) == "pending"


def test_pause_after_deadline_stays_late() -> None:
    tk = ticket(
        "P1", "11-23 09:00", ev("accepted", "11-23 09:10"), ev("pended", "11-23 14:00", reason="r")
    )
    assert outcome(one(tk, "11-23 15:00").resolution) == "late"


def test_business_calendar() -> None:
    # P3 (1h response, 2wd = 15h resolution on business hours) reported Friday
    # 17:30: 30 min count on Friday, the rest from Monday 09:00.
    tk = ticket(
        "P3",
        "11-20 17:30",
        ev("accepted", "11-23 09:20"),
        ev("resolved", "11-23 16:00", solution="s"),
    )
    f = kpi.ticket_facts(tk, RULES)
    assert f["response_sla_s"] == 50 * 60 and f["response_outcome"] == "timely"
    assert f["response_wall_s"] == (2 * 24 + 15) * 3600 + 50 * 60
    assert f["resolution_sla_s"] == (0.5 + 3 + 2.5) * 3600
    assert f["calendar"] == "business"
    # Unanswered, it is late from Monday 09:30 — not from Friday 18:30.
    open_tk = ticket("P3", "11-20 17:30")
    assert outcome(one(open_tk, "11-23 09:29").response) == "pending"
    assert outcome(one(open_tk, "11-23 09:30").response) == "late"


def test_facts_are_json_and_independent_of_now() -> None:
    tk = ticket(
        "P2",
        "11-23 09:00",
        ev("accepted", "11-23 09:10"),
        ev("escalation", "11-23 09:30", role="pm", after="30m"),
        ev("complained", "11-23 10:00", text="慢"),
        ev("resolved", "11-23 12:00", solution="s", kb="KB-7"),
        ev("callback", "11-23 13:00", satisfaction=4),
        system="OA",
        source="phone",
    )
    f = kpi.ticket_facts(tk, RULES)
    assert json.loads(json.dumps(f, ensure_ascii=False)) == f
    assert f["escalations"] == ["pm"] and f["kb"] == ["KB-7"]
    assert (f["complaints"], f["satisfaction"], f["callback"]) == (1, 4, True)
    assert (f["month"], f["week"]) == ("2026-11", "2026-W48")
    early, late = (kpi.aggregate([f], t(n)).overall for n in ("11-23 12:00", "12-31 00:00"))
    assert early.to_json(kpi.KpiTargets()) == late.to_json(kpi.KpiTargets())


def test_aggregate_groups_and_targets() -> None:
    a = ticket(
        "P1",
        "11-23 10:00",
        ev("accepted", "11-23 10:05"),
        ev("resolved", "11-23 11:00", solution="s"),
    )
    b = ticket(
        "P1",
        "11-23 10:00",
        ev("accepted", "11-23 10:30"),
        ev("resolved", "11-23 16:00", solution="s"),
    )
    c = ticket("P2", "11-23 10:00", ev("accepted", "11-23 10:05"))
    res = kpi.aggregate(
        (kpi.ticket_facts(x, RULES) for x in (a, b, c)),
        t("11-23 12:00"),
        by="priority",
        targets=kpi.KpiTargets(0.9, 0.5),
    )
    out = res.to_json()
    assert out["total"] == 3
    assert out["response"] == {
        "timely": 2,
        "late": 1,
        "pending": 0,
        "rate": 2 / 3,
        "below_target": True,
    }
    assert out["resolution"]["rate"] == 0.5 and out["resolution"]["below_target"] is False
    assert out["by"]["P1"]["resolution"]["timely"] == 1
    assert out["by"]["P2"]["resolution"]["pending"] == 1
    assert out["targets"]["response_rate"] == 0.9


def test_backlog_buckets() -> None:
    facts = [
        kpi.ticket_facts(ticket("P4", opened), RULES)
        for opened in ("11-23 09:00", "11-21 09:00", "11-01 09:00")
    ]
    s = kpi.aggregate(facts, t("11-23 12:00")).overall
    assert s.backlog == {"<1d": 1, "1-3d": 1, "7-30d": 1}


def test_percentiles() -> None:
    assert durations.median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert durations.percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
    assert durations.percentile([5.0], 0.9) == 5.0
    assert durations.percentile([], 0.9) is None and durations.median([]) is None


def test_unknown_dimension() -> None:
    with pytest.raises(ValueError, match="unknown dimension"):
        kpi.aggregate([], t("11-23 12:00"), by="colour")
