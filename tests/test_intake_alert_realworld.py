"""Alert intake as monitoring systems really behave (issue #20), through the CLI.

The per-sample scenarios live in tests/corpora/{zabbix,alertmanager}; these
tests pin what the scenarios cannot show: that repeats stay silent over many
re-sends, that only candidate incidents are parsed, that the firing identity
works across old and new notifications, and that nothing half-written or
unbounded reaches the store or the terminal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from conftest import Desk
from elinkctl.cli import cli
from elinkctl.domain.model import Ticket
from elinkctl.store.store import Store
from elinkctl.store.transaction import Transaction

CORPORA = Path(__file__).parent / "corpora"
NOW = "2026-11-23T10:00:00+08:00"


def zabbix(name: str, **changes: Any) -> bytes:
    body = json.loads((CORPORA / "zabbix" / f"{name}.json").read_text("utf-8"))
    body.update(changes)
    return json.dumps(body, ensure_ascii=False).encode()


def am(starts: str = "2026-11-23T01:50:00Z", status: str = "firing", fp: str = "fp-1") -> bytes:
    alert = {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": "fin-app01:9100", "service": "财务系统"},
        "annotations": {"summary": "磁盘空间不足"},
        "startsAt": starts,
        "endsAt": "2026-11-23T02:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }
    return json.dumps({"version": "4", "status": status, "alerts": [alert]}).encode()


def ingest(desk: Desk, data: bytes, now: str = NOW) -> Result:
    env = {"ELINKCTL_STORE": str(desk.root), "ELINKCTL_USER": "monitoring", "ELINKCTL_NOW": now}
    return desk.runner.invoke(cli, ["ingest", "alert"], env=env, input=data, catch_exceptions=False)


def ids(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.split()


def load(desk: Desk, ticket_id: str) -> Ticket:
    return Store(desk.root).load(ticket_id)


def count(desk: Desk) -> int:
    return len(Store(desk.root).all_ids())


def test_a_rejected_false_alarm_stays_silent_through_every_repeat(desk: Desk) -> None:
    [first] = ids(ingest(desk, am()))
    desk.ok("reject", first, "--reason", "false-alarm", now="2026-11-23T10:05:00+08:00")
    before = desk.commit_count()
    # Alertmanager's repeat_interval (4 h) for two days: never a new incident.
    for hour in range(4, 48, 4):
        now = f"2026-11-{23 + (10 + hour) // 24}T{(10 + hour) % 24:02d}:00:00+08:00"
        result = ingest(desk, am(), now=now)
        assert ids(result) == [first]
        assert f"{first} is rejected (false-alarm)" in result.stderr
        assert result.stderr.count("note:") == 1
    assert desk.commit_count() == before and count(desk) == 1
    assert desk.git("status", "--porcelain") == ""
    # A new firing (new startsAt) is a new incident.
    [second] = ids(ingest(desk, am(starts="2026-11-25T01:00:00Z"), now="2026-11-25T09:05:00+08:00"))
    assert second != first and count(desk) == 2
    # ...and its repeat folds onto it, not onto the rejected one.
    again = ingest(desk, am(starts="2026-11-25T01:00:00Z"), now="2026-11-25T13:05:00+08:00")
    assert ids(again) == [second] and "already recorded" in again.stderr


def test_the_resolution_of_a_rejected_firing_does_not_touch_the_new_incident(desk: Desk) -> None:
    [first] = ids(ingest(desk, zabbix("slack_problem")))
    desk.ok("reject", first, "--reason", "false-alarm", now="2026-11-23T10:05:00+08:00")
    [second] = ids(ingest(desk, zabbix("slack_problem_new_event"), now="2026-11-23T10:41:00+08:00"))
    before = desk.commit_count()
    late = ingest(desk, zabbix("slack_resolved"), now="2026-11-23T10:42:00+08:00")
    assert ids(late) == [first]
    assert "is rejected (false-alarm): alert" in late.stderr and "not recorded" in late.stderr
    assert desk.commit_count() == before
    assert [e.type for e in load(desk, second).events if e.type == "alert"] == []


def test_an_open_incident_hears_when_a_firing_said_resolved_fires_again(desk: Desk) -> None:
    """Alertmanager after a restart may send a resolved firing as firing again
    with the same startsAt: news for the open incident, not a new one."""
    [first] = ids(ingest(desk, am()))
    ids(ingest(desk, am(status="resolved"), now="2026-11-23T10:21:00+08:00"))
    result = ingest(desk, am(), now="2026-11-23T10:30:00+08:00")
    assert ids(result) == [first] and count(desk) == 1
    last = load(desk, first).events[-1]
    assert (last.type, last.get("status")) == ("alert", "firing")


def test_zabbix_firing_identity_event_id_or_start(desk: Desk) -> None:
    # Registered from a media type that sends no event id (neither as a parameter
    # nor in its message text): the start identifies.
    message = "Problem started at 09:55:12 on 2026.11.23\nHost: fin-db01\n"
    [first] = ids(
        ingest(desk, zabbix("slack_problem", event_id="{EVENT.ID}", alert_message=message))
    )
    desk.ok("reject", first, "--reason", "false-alarm", now="2026-11-23T10:05:00+08:00")
    same = ingest(desk, zabbix("slack_problem"), now="2026-11-23T10:30:00+08:00")
    assert ids(same) == [first] and count(desk) == 1
    # Either side without an event id: the same start is the same firing.
    other = ingest(
        desk, zabbix("slack_problem", event_id="5120999"), now="2026-11-23T10:31:00+08:00"
    )
    assert ids(other) == [first] and count(desk) == 1


def test_zabbix_two_events_in_the_same_second_are_two_firings(desk: Desk) -> None:
    [first] = ids(ingest(desk, zabbix("slack_problem")))
    desk.ok("reject", first, "--reason", "false-alarm", now="2026-11-23T10:05:00+08:00")
    other = ingest(
        desk, zabbix("slack_problem", event_id="5120999"), now="2026-11-23T10:31:00+08:00"
    )
    [second] = ids(other)
    assert second != first and count(desk) == 2


def test_a_repeat_inside_one_payload_is_one_incident(desk: Desk) -> None:
    body = json.loads(zabbix("slack_problem"))
    assert len(ids(ingest(desk, json.dumps([body, body]).encode()))) == 1
    assert count(desk) == 1


def test_only_candidate_incidents_are_parsed(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The firing lookup reads the intake facts; a ticket is parsed only when
    it is acted on (not every incident the alert ever had)."""
    firsts = []
    for day in range(5):
        starts = f"2026-11-{18 + day}T01:00:00Z"
        now = f"2026-11-{18 + day}T09:30:00+08:00"
        [tid] = ids(ingest(desk, am(starts=starts), now=now))
        desk.ok("reject", tid, "--reason", "false-alarm", now=now.replace("09:30", "09:40"))
        firsts.append(tid)
    loaded: list[str] = []
    original = Transaction.load

    def counting(self: Transaction, ticket_id: str) -> Ticket:
        loaded.append(ticket_id)
        return original(self, ticket_id)

    monkeypatch.setattr(Transaction, "load", counting)
    repeat = ingest(desk, am(starts="2026-11-20T01:00:00Z"), now="2026-11-23T11:00:00+08:00")
    assert ids(repeat) == [firsts[2]]
    assert loaded == [firsts[2]]
    loaded.clear()
    ids(ingest(desk, am(starts="2026-11-23T02:00:00Z"), now="2026-11-23T11:00:00+08:00"))
    assert loaded == []  # a new firing, no open or resolved incident: nothing parsed


def test_zabbix_update_close_without_auto_resolve_records_the_recovery(desk: Desk) -> None:
    [tid] = ids(ingest(desk, zabbix("msteams_problem")))
    result = ingest(desk, zabbix("msteams_update_closed"), now="2026-11-23T10:06:00+08:00")
    assert ids(result) == [tid]
    ticket = load(desk, tid)
    assert ticket.status == "new"  # auto_resolve is off
    types = [(e.type, e.get("status")) for e in ticket.events[-2:]]
    assert types == [("commented", None), ("alert", "resolved")]
    # The recovery notification Zabbix may send after the close says nothing new.
    recovery = zabbix("msteams_problem", event_value="0", event_status="RESOLVED")
    again = ingest(desk, recovery, now="2026-11-23T10:07:00+08:00")
    assert ids(again) == [tid] and "already recorded" in again.stderr


def test_zabbix_updates_are_recorded_once_each(desk: Desk) -> None:
    [tid] = ids(ingest(desk, zabbix("msteams_problem")))
    ids(ingest(desk, zabbix("msteams_update_ack"), now="2026-11-23T10:01:00+08:00"))
    before = desk.commit_count()
    assert ids(ingest(desk, zabbix("msteams_update_ack"), now="2026-11-23T10:02:00+08:00")) == [tid]
    assert desk.commit_count() == before
    # Another comment of the same person later is another update.
    later = zabbix(
        "msteams_update_ack", event_update_time="10:20:00", event_update_message="已恢复"
    )
    ids(ingest(desk, later, now="2026-11-23T10:21:00+08:00"))
    comments = [e.get("text") for e in load(desk, tid).events if e.type == "commented"]
    assert comments == [
        "Zabbix: 张三 (zhangsan) acknowledged and commented: 正在处理，已联系网络组",
        "Zabbix: 张三 (zhangsan) acknowledged and commented: 已恢复",
    ]


def test_zabbix_update_on_a_rejected_incident_is_still_recorded(desk: Desk) -> None:
    [tid] = ids(ingest(desk, zabbix("msteams_problem")))
    desk.ok("reject", tid, "--reason", "false-alarm", now="2026-11-23T10:01:00+08:00")
    assert ids(ingest(desk, zabbix("msteams_update_ack"), now="2026-11-23T10:02:00+08:00")) == [tid]
    assert load(desk, tid).events[-1].get("via") == "zabbix"
    assert load(desk, tid).status == "rejected"


def test_internal_events_never_touch_a_closed_or_rejected_incident(desk: Desk) -> None:
    [tid] = ids(ingest(desk, zabbix("slack_problem")))
    desk.ok("reject", tid, "--reason", "false-alarm", now="2026-11-23T10:01:00+08:00")
    before = desk.commit_count()
    for name in ("slack_internal_unknown", "slack_internal_normal"):
        result = ingest(desk, zabbix(name), now="2026-11-23T10:05:00+08:00")
        assert ids(result) == [] and "nothing recorded" in result.stderr
    assert desk.commit_count() == before and count(desk) == 1


def test_text_from_the_sender_is_cleaned_in_notes_and_comments(desk: Desk) -> None:
    hostile = zabbix("slack_discovery", alert_subject="Discovery: \x1b[31mUp\x1b[0m 10.0.0.1")
    result = ingest(desk, hostile)
    assert ids(result) == [] and "\x1b" not in result.stderr
    [tid] = ids(ingest(desk, zabbix("msteams_problem")))
    update = zabbix(
        "msteams_update_ack",
        event_update_message="好\x1b[2J的" + "长" * 5000,
        event_update_user="张三\x07",
    )
    ids(ingest(desk, update, now="2026-11-23T10:01:00+08:00"))
    comment = load(desk, tid).events[-1]
    assert "\x1b" not in comment.get("text") and "\x07" not in comment.get("text")
    assert len(comment.get("text")) <= 2000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_source": "9"}, "event_source '9' is not 0–4"),
        ({"event_source": "3", "event_value": "7", "event_status": "x"}, "internal event"),
        ({"event_nseverity": "12", "event_severity": "{EVENT.SEVERITY}"}, "severity number"),
    ],
)
def test_malformed_zabbix_writes_nothing(desk: Desk, changes: dict[str, Any], message: str) -> None:
    before = desk.commit_count()
    body = json.loads(zabbix("slack_problem"))
    body.update(changes)
    if body.get("event_source") == "3":
        body["alert_subject"] = "x"
    result = ingest(desk, json.dumps(body).encode())
    assert result.exit_code == 65 and result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert desk.commit_count() == before and count(desk) == 0


def test_a_service_update_finds_the_service_incident(desk: Desk) -> None:
    [tid] = ids(ingest(desk, zabbix("msteams_service")))
    update = zabbix(
        "msteams_service",
        alert_subject='Changed "网上报销" service status to High in 3m',
        event_update_status="1",
        event_update_action="changed severity from Average to High",
        event_update_user="{USER.FULLNAME}",
        event_update_message="{EVENT.UPDATE.MESSAGE}",
        alert_message="",
    )
    assert ids(ingest(desk, update, now="2026-11-23T10:03:00+08:00")) == [tid]
    comment = load(desk, tid).events[-1]
    assert comment.type == "commented"
    assert comment.get("text") == "Zabbix: a Zabbix user changed severity from Average to High"
