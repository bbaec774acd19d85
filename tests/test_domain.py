"""The pure domain: IDs, the event fold, the file format, lifecycle rules, config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elinkctl.config import load_config, validate
from elinkctl.domain import ids, lifecycle, ticketfile
from elinkctl.domain.model import Event, IncidentType, Priority, Status, Ticket, Tier
from elinkctl.errors import TransitionError, UsageProblem
from elinkctl.services.setup import data_text
from elinkctl.services.validators import problems

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def make() -> Ticket:
    change = lifecycle.register(
        "INC-261123-7KQ2M",
        {
            "title": "财务系统无法登录",
            "type": "failure",
            "priority": "P3",
            "reporter": {"name": "张三", "phone": "13800138000"},
        },
        "desk",
        T0,
        T0,
        T0,
    )
    return change.ticket


def step(t: Ticket, type_: str, minutes: int, **data: object) -> Ticket:
    return lifecycle.record(t, type_, "x", at(minutes), at(10_000), type_, **data).ticket


def test_ids_are_well_formed_and_unique() -> None:
    taken: set[str] = set()
    for _ in range(2000):
        new = ids.new_id(dt.date(2026, 11, 23), taken)
        assert ids.is_valid(new) and new.startswith("INC-261123-")
        taken.add(new)
    assert ids.shard("INC-261123-7KQ2M") == ("2026", "11")
    assert ids.normalize_fragment("inc-261123-7kq2m") == "INC-261123-7KQ2M"
    assert ids.normalize_fragment("INC-261123-1OLI0") == "INC-261123-10110"
    assert not ids.FRAGMENT_RE.match("../x")


def test_new_id_retries_on_collision() -> None:
    seq = iter([0] * 5 + [1] * 5)
    got = ids.new_id(dt.date(2026, 1, 2), {"INC-260102-00000"}, rand=lambda n: next(seq))
    assert got == "INC-260102-11111"


def test_fold_derives_state() -> None:
    t = make()
    t = step(t, "accepted", 5)
    t = step(t, "assigned", 8, to="李四", tier="l1")
    t = step(t, "pended", 20, reason="r")
    t = step(t, "resumed", 50)
    t = step(t, "resolved", 90, solution="s")
    s = t.state
    assert s.status == Status.RESOLVED
    assert (s.tier, s.assignee) == ("l1", "李四")
    assert s.responded_at == at(5) and s.resolved_at == at(90)
    assert s.pauses == ((at(20), at(50)),)
    t = step(t, "reopened", 100, reason="again")
    assert t.state.resolved_at is None and t.state.reopened == 1


def test_transition_refusal_names_allowed_commands() -> None:
    t = make()
    with pytest.raises(
        TransitionError, match="allowed: accept, reject, redirect, transfer, resolve"
    ):
        step(t, "closed", 5)


def test_history_replay_refuses_impossible_past_insert() -> None:
    t = step(step(make(), "accepted", 5), "resolved", 60, solution="s")
    with pytest.raises(TransitionError):
        step(t, "pended", 70, reason="late")
    # ...but a comment may be recorded at any time
    step(t, "commented", 30, text="note")


def test_at_bounds() -> None:
    t = make()
    with pytest.raises(UsageProblem, match="future"):
        lifecycle.record(t, "accepted", "x", at(20), at(10), "accepted")
    with pytest.raises(UsageProblem, match="before the incident was opened"):
        lifecycle.record(t, "accepted", "x", at(-5), at(10), "accepted")


def test_roundtrip_is_byte_stable() -> None:
    t = step(step(make(), "accepted", 5), "commented", 6, text="多行\n说明")
    text = ticketfile.dumps(t)
    again = ticketfile.loads(text)
    assert ticketfile.dumps(again) == text
    assert again.state == t.state


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["accepted", "commented", "pended", "resumed", "resolved", "reopened", "complained"]
        ),
        max_size=12,
    ),
    st.text(alphabet="中文abc \n:#-'\"{}", max_size=20),
)
def test_any_valid_history_roundtrips(kinds: list[str], text: str) -> None:
    t = make()
    minute = 1
    for kind in kinds:
        try:
            t = lifecycle.record(
                t, kind, "x", at(minute), at(10_000), kind, text=text or None
            ).ticket
        except TransitionError:
            continue
        minute += 1
    dumped = ticketfile.dumps(t)
    assert ticketfile.dumps(ticketfile.loads(dumped)) == dumped


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda s: s.replace("schema: 1", "schema: 7"), "schema"),
        (lambda s: s.replace("title: 财务系统无法登录\n", ""), "title: missing"),
        (lambda s: s + "surprise: 1\n", "unknown key"),
        (lambda s: s.replace("id: INC-261123-7KQ2M", "id: ../etc"), "not an incident ID"),
        (lambda s: s.replace("type: created", "type: accepted"), "first event"),
        (lambda s: "<<<<<<< HEAD\n" + s, "conflict marker"),
        (lambda s: s.replace("priority: P3\n", "priority: P9\n"), "unknown priority 'P9'"),
        (lambda s: s.replace("type: failure\n", "type: outage\n"), "unknown type 'outage'"),
        (
            lambda s: s.replace("  at: 2026-11-23T10:00:00+08:00", "  at: 2026-11-23T10:00:00"),
            "offset",
        ),
    ],
)
def test_format_errors_have_lines(mutate, fragment: str) -> None:  # type: ignore[no-untyped-def]
    text = mutate(ticketfile.dumps(make()))
    with pytest.raises(ticketfile.FormatError, match=fragment) as info:
        ticketfile.loads(text)
    assert info.value.line is not None


def test_fields_are_enums_and_files_hold_plain_values() -> None:
    t = step(step(make(), "accepted", 5), "assigned", 6, to="李四", tier="l1")
    assert (type(t.priority), type(t.type), type(t.state.tier)) == (Priority, IncidentType, Tier)
    assert (t.priority, t.type, t.state.tier) == ("P3", "failure", "l1")
    # An enum in event data (check records the priority it measured) is its plain value.
    marked = step(t, "commented", 7, text="x", priority=t.priority, tier=Tier.L2)
    text = ticketfile.dumps(marked)
    assert "  priority: P3\n  tier: l2\n" in text and "Priority" not in text
    assert ticketfile.dumps(ticketfile.loads(text)) == text


def test_an_unknown_tier_in_the_events_is_a_format_error() -> None:
    text = ticketfile.dumps(step(step(make(), "accepted", 5), "assigned", 6, to="李四", tier="l1"))
    with pytest.raises(ticketfile.FormatError, match="events: 'l9' is not a valid Tier"):
        ticketfile.loads(text.replace("tier: l1\n", "tier: l9\n"))


def test_state_mismatch_detected() -> None:
    t = step(make(), "accepted", 5)
    text = ticketfile.dumps(t).replace("status: in_progress", "status: closed")
    data = __import__("elinkctl.yamlio", fromlist=["load"]).load(text)
    problems = ticketfile.state_mismatches(data, ticketfile.loads(text))
    assert problems and "status" in problems[0]


def test_edit_diff_and_reason() -> None:
    t = make()
    with pytest.raises(UsageProblem, match="--reason"):
        lifecycle.edit(t, {"type": "request"}, "x", at(1), at(2))
    change = lifecycle.edit(
        t, {"type": "request", "reporter.department": "财务部"}, "x", at(1), at(2), "误分类"
    )
    assert change.ticket.type == "request"
    assert change.ticket.fields["reporter"] == {
        "name": "张三",
        "phone": "13800138000",
        "department": "财务部",
    }
    assert change.event.data["changes"] == {
        "type": ["failure", "request"],
        "reporter.department": [None, "财务部"],
    }
    with pytest.raises(UsageProblem, match="nothing to change"):
        lifecycle.edit(t, {"title": "财务系统无法登录"}, "x", at(1), at(2))


def test_default_rules_are_valid(tmp_path: Path) -> None:
    (tmp_path / "sla.yaml").write_text(data_text("sla.yaml"), encoding="utf-8")
    (tmp_path / "escalation.yaml").write_text(data_text("escalation.yaml"), encoding="utf-8")
    assert problems(load_config(tmp_path)) == []


def test_config_problems_name_file_line_and_field(tmp_path: Path) -> None:
    sla = data_text("sla.yaml").replace("P2: {response: 30m", "P2: {response: 30 minutes")
    sla = sla.replace("warn_at: 0.8", "warn_at: 0.8\nsurprise: true")
    esc = data_text("escalation.yaml").replace("P4: {30m: l1,", "P4: {30m: cto,")
    (tmp_path / "sla.yaml").write_text(sla, encoding="utf-8")
    (tmp_path / "escalation.yaml").write_text(esc, encoding="utf-8")
    problems = validate(load_config(tmp_path))
    text = "\n".join(problems)
    assert "targets.P2.response: bad duration '30 minutes'" in text
    assert "surprise: unknown key" in text
    assert "matrix.P4.30m: unknown role 'cto'" in text
    assert all(p.startswith(("sla.yaml line ", "escalation.yaml line ")) for p in problems)


def test_event_ids_continue_after_gaps() -> None:
    t = make()
    t2 = Ticket(t.id, t.fields, t.events + (Event("e7", at(1), "x", "commented", {"text": "a"}),))
    assert t2.next_event_id() == "e8"
