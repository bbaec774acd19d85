"""`audit`: KPI integrity over history, on real git stores (issue 15 item 4).

Commits made under ELINKCTL_NOW are dated then, so a step entered at one
ELINKCTL_NOW with an earlier ``--at`` is exactly a late record; hand edits
are committed with git directly, dated by GIT_AUTHOR_DATE.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
from pathlib import Path

from conftest import Desk
from elinkctl import yamlio
from elinkctl.domain import audit, glossary, ticketfile
from elinkctl.domain.recorded import Commit, History, diff, diff_texts, scan

DAY = "2026-11-23"  # a Monday


def t(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00+08:00"


def audit_json(desk: Desk, *args: str, now: str = t("18:00", "2026-11-27")) -> dict:
    result = desk.ok("audit", *args, "--json", now=now)
    return json.loads(result.stdout)


def kinds(report: dict) -> list[tuple[str, str]]:
    return sorted((f["ticket"], f["kind"]) for f in report["findings"])


def hand_commit(desk: Desk, ticket_id: str, text: str, when: str, author: str) -> None:
    """Write a ticket file and commit it with git, as someone editing by hand."""
    desk.ticket_path(ticket_id).write_text(text, encoding="utf-8")
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME=author,
        GIT_AUTHOR_EMAIL="x@example.com",
        GIT_COMMITTER_NAME=author,
        GIT_COMMITTER_EMAIL="x@example.com",
        GIT_AUTHOR_DATE=when,
        GIT_COMMITTER_DATE=when,
    )
    rel = str(desk.ticket_path(ticket_id).relative_to(desk.root))
    subprocess.run(["git", "add", rel], cwd=desk.root, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", "hand edit", "--", rel],
        cwd=desk.root,
        check=True,
        env=env,
    )


def load(desk: Desk, ticket_id: str) -> ticketfile.Ticket:
    return ticketfile.loads(desk.ticket_path(ticket_id).read_text(encoding="utf-8"))


def with_desk_roles(desk: Desk, desk_people: list[str]) -> None:
    path = desk.root / "escalation.yaml"
    text = path.read_text(encoding="utf-8")
    names = ", ".join(desk_people)
    path.write_text(text.replace("  desk: []", f"  desk: [{names}]"), encoding="utf-8")
    desk.git("commit", "-q", "-m", "escalation.yaml: the desk", "--", "escalation.yaml")


# --- an honest day, and the shape -----------------------------------------------------


def test_an_honest_day_has_no_findings_and_the_json_shape(desk: Desk) -> None:
    with_desk_roles(desk, ["desk-wang"])
    tid = desk.new(now=t("10:00"), priority="P3")
    desk.ok("accept", tid, now=t("10:10"))
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", now=t("10:12"))
    # A step entered within the tolerance is not late.
    desk.ok("contact", tid, "--at", "10:20", now=t("11:00"), user="李四")
    desk.ok("resolve", tid, "--solution", "重启服务", now=t("11:05"), user="李四")
    desk.ok("confirm", tid, now=t("11:30"))
    desk.ok("callback", tid, "--satisfaction", "5", now=t("11:40"))
    desk.ok("close", tid, now=t("11:45"))
    # Notes are not audited for when they were entered.
    desk.ok("comment", tid, "-m", "补充说明", "--at", "10:30", now=t("16:50"))
    report = audit_json(desk)
    assert report["findings"] == []
    assert report["incidents"] == 1 and report["commits"] == 9
    assert report["skipped"] == [] and report["imports"] == []
    assert set(report) >= {
        "now",
        "since",
        "until",
        "tolerance_s",
        "incidents",
        "commits",
        "imports",
        "skipped",
        "totals",
        "doubtful",
        "by_person",
        "by_month",
        "findings",
    }
    assert report["totals"] == {**{k: 0 for k in audit.KINDS}, "findings": 0, "incidents": 0}
    assert report["tolerance_s"] == 3600
    text = desk.ok("audit", now=t("18:00", "2026-11-27")).stdout
    assert "1 incidents, 9 commits read" in text and "Findings:" not in text


def test_every_kind_has_its_words() -> None:
    assert set(glossary.AUDIT_FINDINGS) == set(audit.KINDS)


# --- late records ---------------------------------------------------------------------


def test_a_late_accept_that_makes_the_response_timely(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P2")  # response target 30m, 24x7
    # Entered at 13:00, claiming 10:05: timely as claimed, late as recorded.
    desk.ok("accept", tid, "--at", "10:05", now=t("13:00"))
    report = audit_json(desk)
    assert kinds(report) == [(tid, "late_response")]
    (f,) = report["findings"]
    assert f["by"] == "desk-wang" and f["month"] == "2026-11" and f["event"] == "e2"
    assert f["at"] == t("10:05") and f["recorded_at"] == t("13:00")
    assert f["effect"] == ["response"]
    assert "2h 55m later" in f["detail"] and "response would be late" in f["detail"]
    assert report["doubtful"] == {"response": 1, "resolution": 0}
    assert report["by_person"] == {"desk-wang": {"late_response": 1, "total": 1}}
    assert report["by_month"] == {"2026-11": {"late_response": 1, "total": 1}}
    # stats counts it timely: that is what audit is for.
    stats = desk.json("stats", now=t("18:00", "2026-11-27"))
    assert stats["response"]["timely"] == 1


def test_a_late_record_with_no_effect_and_the_tolerance(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P3")
    desk.ok("accept", tid, now=t("10:05"))
    desk.ok("pend", tid, "--reason", "等用户", "--at", "10:30", now=t("12:00"))
    report = audit_json(desk)
    assert kinds(report) == [(tid, "late_record")]
    assert report["findings"][0]["effect"] == []
    assert "does not depend on it" in report["findings"][0]["detail"]
    assert audit_json(desk, "--tolerance", "2h")["findings"] == []
    # The default is the tolerance verify applies.
    path = desk.root / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "verify: {tolerance: 2h}\n", "utf-8")
    desk.git("commit", "-q", "-m", "verify: 2h", "--", "escalation.yaml")
    relaxed = audit_json(desk)
    assert relaxed["findings"] == [] and relaxed["tolerance_s"] == 7200
    bad = desk.run("audit", "--tolerance", "soon")
    assert bad.exit_code == 2 and "--tolerance" in bad.stderr


def test_a_late_resolve_that_makes_the_resolution_timely(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P1")  # resolution 4h, 24x7
    desk.ok("accept", tid, now=t("10:05"))
    desk.ok("resolve", tid, "--solution", "换盘", "--at", "13:00", now=t("16:00"), user="王五")
    report = audit_json(desk)
    assert kinds(report) == [(tid, "late_resolution")]
    assert report["findings"][0]["by"] == "王五"
    assert report["doubtful"] == {"response": 0, "resolution": 1}


def test_an_undeclared_backdated_event_is_dated_by_its_commit(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P2")
    ticket = load(desk, tid)
    from elinkctl.domain import lifecycle

    at = dt.datetime.fromisoformat(t("10:05"))
    forged = lifecycle.record(ticket, "accepted", "desk-wang", at, at, "accepted").ticket
    assert "recorded_at" not in forged.events[-1].data
    hand_commit(desk, tid, ticketfile.dumps(forged), t("15:00"), "desk-wang")
    report = audit_json(desk)
    assert kinds(report) == [(tid, "late_response")]
    (f,) = report["findings"]
    assert f["recorded_at"] == t("15:00") and f["commit"] and "commit " in f["detail"]


# --- edits ----------------------------------------------------------------------------


def test_a_priority_edit_that_makes_a_late_incident_timely(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P2")  # response 30m
    desk.ok("accept", tid, now=t("10:45"))  # late for P2
    desk.ok("resolve", tid, "--solution", "重启", now=t("11:00"))  # timely for both
    desk.ok("edit", tid, "--priority", "P4", "--reason", "影响面小", now=t("11:10"))
    other = desk.new(now=t("10:00"), priority="P3", title="打印机卡纸")
    desk.ok("accept", other, now=t("10:10"))
    desk.ok("edit", other, "--priority", "P2", "--reason", "领导在等", now=t("10:20"))
    report = audit_json(desk)
    assert kinds(report) == [(tid, "priority_edit")]  # raising a priority flatters nothing
    (f,) = report["findings"]
    assert f["effect"] == ["response"] and "P2 → P4" in f["detail"] and "影响面小" in f["detail"]
    assert "the P2 response deadline had passed when it was changed" in f["detail"]


def test_hand_edits_of_an_event_time_and_of_the_priority(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P1")
    desk.ok("accept", tid, now=t("11:00"))  # response 15m: late
    ticket = load(desk, tid)
    events = list(ticket.events)
    i = next(i for i, e in enumerate(events) if e.type == "accepted")
    events[i] = ticketfile.Event(
        events[i].id, dt.datetime.fromisoformat(t("10:10")), events[i].by, events[i].type
    )
    forged = ticketfile.Ticket(ticket.id, ticket.fields, tuple(events))
    hand_commit(desk, tid, ticketfile.dumps(forged), t("12:00"), "某人")
    other = desk.new(now=t("10:00"), priority="P2", title="打印机卡纸")
    desk.ok("accept", other, now=t("10:50"))  # response 30m: late
    text = desk.ticket_path(other).read_text(encoding="utf-8")
    hand_commit(
        desk, other, text.replace("priority: P2\n", "priority: P4\n", 1), t("12:00"), "某人"
    )
    report = audit_json(desk)
    assert kinds(report) == sorted([(tid, "timestamp_edit"), (other, "priority_edit")])
    by_ticket = {f["ticket"]: f for f in report["findings"]}
    edit = by_ticket[tid]
    assert edit["by"] == "某人" and edit["effect"] == ["response"] and edit["event"] == events[i].id
    assert "moved from 2026-11-23 11:00 to 2026-11-23 10:10" in edit["detail"]
    assert "without an edit event" in by_ticket[other]["detail"]
    assert by_ticket[other]["effect"] == ["response", "resolution"]  # P4's 5wd: pending
    assert report["by_person"]["某人"] == {"timestamp_edit": 1, "priority_edit": 1, "total": 2}


# --- the procedure --------------------------------------------------------------------


def test_closes_without_confirmation_and_callbacks_outside_the_desk(desk: Desk) -> None:
    with_desk_roles(desk, ["desk-wang"])
    tid = desk.new(now=t("10:00"), priority="P3")
    desk.ok("accept", tid, now=t("10:05"))
    desk.ok("resolve", tid, "--solution", "重启", now=t("10:30"))
    desk.ok("callback", tid, "--satisfaction", "4", now=t("10:40"), user="李四")
    desk.ok("close", tid, "--force", "--reason", "用户联系不上", now=t("10:50"))
    ok = desk.new(now=t("10:00"), priority="P3", title="打印机卡纸")
    reopened = desk.new(now=t("10:00"), priority="P3", title="邮件发不出去")
    for ticket_id in (ok, reopened):
        desk.ok("accept", ticket_id, now=t("10:05"))
        desk.ok("resolve", ticket_id, "--solution", "换硒鼓", now=t("10:30"))
        desk.ok("confirm", ticket_id, now=t("10:32"))
        desk.ok("reopen", ticket_id, "--reason", "又坏了", now=t("10:35"))
        desk.ok("resolve", ticket_id, "--solution", "换打印机", now=t("11:00"))
    desk.ok("confirm", ok, now=t("11:10"))
    desk.ok("callback", ok, now=t("11:20"))
    desk.ok("close", ok, now=t("11:30"))
    # The confirmation of the first resolution does not confirm the second.
    desk.ok("close", reopened, "--force", "--reason", "用户已离职", now=t("11:30"))
    report = audit_json(desk)
    assert kinds(report) == sorted(
        [
            (tid, "close_unconfirmed"),
            (tid, "callback_outside_desk"),
            (reopened, "close_unconfirmed"),
        ]
    )
    close = next(
        f for f in report["findings"] if f["ticket"] == tid and f["kind"] == "close_unconfirmed"
    )
    assert "forced: 用户联系不上" in close["detail"] and close["by"] == "desk-wang"
    callback = next(f for f in report["findings"] if f["kind"] == "callback_outside_desk")
    assert callback["by"] == "李四"


def test_callbacks_are_not_judged_while_nobody_holds_role_desk(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P3")
    desk.ok("accept", tid, now=t("10:05"))
    desk.ok("resolve", tid, "--solution", "重启", now=t("10:30"))
    desk.ok("callback", tid, now=t("10:40"), user="李四")
    result = desk.ok("audit", "--json", now=t("18:00"))
    assert json.loads(result.stdout)["findings"] == []
    assert "nobody holds role desk" in result.stderr


# --- selection and the KPI report -----------------------------------------------------


def test_since_until_select_by_month_reported_and_stats_html_shows_the_counts(
    desk: Desk, tmp_path: Path
) -> None:
    nov = desk.new(now=t("10:00"), priority="P2")
    desk.ok("accept", nov, "--at", "10:05", now=t("13:00"))
    dec = desk.new(now=t("10:00", "2026-12-01"), priority="P2", title="打印机卡纸")
    desk.ok("accept", dec, "--at", "10:05", now=t("13:00", "2026-12-01"))
    now = t("18:00", "2026-12-02")
    assert kinds(audit_json(desk, now=now)) == sorted(
        [(nov, "late_response"), (dec, "late_response")]
    )
    only = audit_json(desk, "--since", "2026-12", now=now)
    assert kinds(only) == [(dec, "late_response")] and only["incidents"] == 1
    assert kinds(audit_json(desk, "--until", "2026-11-30", now=now)) == [(nov, "late_response")]
    page = tmp_path / "kpi.html"
    desk.ok("stats", "--html", str(page), now=now)
    html = page.read_text(encoding="utf-8")
    assert "指标可信度 KPI integrity" in html
    assert "补录掩盖响应超时" in html and "2026-12" in html


# --- reading history ------------------------------------------------------------------


def test_work_merged_by_sync_is_not_a_finding(tmp_path: Path) -> None:
    from gitfixtures import git, run, shared_desk

    a, b = shared_desk(tmp_path, clones=2).clones
    tid = run(
        a, "new", "--title", "VPN连接失败", "--type", "failure", "--reporter", "张三",
        "--priority", "P3", now=t("09:00"),
    ).stdout.strip()  # fmt: skip
    run(a, "sync", now=t("09:01"))
    run(b, "sync", now=t("09:02"))
    # Both clones work on the incident at once; the merge driver renumbers one event.
    run(a, "accept", tid, now=t("09:03"))
    run(b, "comment", tid, "-m", "用户在出差", now=t("09:04"), user="李四")
    run(b, "comment", tid, "-m", "约了明早", now=t("09:06"), user="李四")
    run(a, "comment", tid, "-m", "已远程", now=t("09:07"))
    run(a, "sync", now=t("09:08"))
    run(b, "sync", now=t("09:09"))
    run(a, "sync", now=t("09:10"))
    run(a, "resolve", tid, "--solution", "重装客户端", now=t("10:00"), user="李四")
    assert int(git(a, "rev-list", "--merges", "--count", "HEAD")) >= 1
    for clone in (a, b):
        report = json.loads(run(clone, "audit", "--json", now=t("12:00")).stdout)
        assert report["findings"] == [], report["findings"]
    run(a, "sync", now=t("12:01"))
    run(b, "sync", now=t("12:02"))
    run(b, "confirm", tid, "--at", "10:30", now=t("13:00"))  # entered late, on a pulled clone
    run(b, "sync", now=t("13:01"))
    run(a, "sync", now=t("13:02"))
    report = json.loads(run(a, "audit", "--json", now=t("14:00")).stdout)
    assert kinds(report) == [(tid, "late_record")]


def test_the_scanner_reads_what_the_loader_reads(desk: Desk) -> None:
    tid = desk.new(now=t("10:00"), priority="P2", description="第一行\n第二行: 有冒号")
    desk.ok("accept", tid, "--at", "10:05", now=t("13:00"))
    desk.ok("edit", tid, "--priority", "P3", "--reason", "it's fine", now=t("13:05"))
    desk.ok("comment", tid, "-m", "多行\n- 像列表\n  by: 假的", now=t("13:10"), user="'引号'")
    text = desk.ticket_path(tid).read_text(encoding="utf-8")
    fast = scan(text)
    data = yamlio.load(text)
    assert fast is not None and fast.priority == "P3"
    assert [(h.id, h.at, h.type, h.by) for h in fast.events.values()] == [
        (e["id"], e["at"], e["type"], str(e["by"])) for e in data["events"]
    ]
    assert fast.events["e2"].recorded_at == dt.datetime.fromisoformat(t("13:00"))
    flow = (
        text.split("events:\n")[0]
        + "events: [{id: e1, at: 2026-11-23T10:00:00+08:00, by: x, type: created}]\n"
    )
    slow = scan(flow)
    assert slow is not None and list(slow.events) == ["e1"]
    assert scan("not: [a ticket") is None


def test_the_scanner_agrees_with_the_loader_on_generated_tickets() -> None:
    from generate import build_ticket, make_plan

    from elinkctl.domain.recorded import _fast, _loaded
    from elinkctl.timeutil import zone

    tz = zone("Asia/Shanghai")
    for plan in make_plan(300, 6, 30, seed=4, now=GEN_NOW, tz=tz):
        text = ticketfile.dumps(build_ticket(plan, GEN_NOW, tz))
        assert _fast(text) == _loaded(text), text


def test_diff_dates_new_events_by_the_commit_unless_imported() -> None:
    from elinkctl.domain.recorded import _fast, _loaded

    base = "schema: 1\nid: INC-261123-AAAA\npriority: P3\nevents:\n"
    e1 = "- id: e1\n  at: 2026-11-23T10:00:00+08:00\n  by: a\n  type: created\n"
    e2 = "- id: e2\n  at: 2026-11-23T10:05:00+08:00\n  by: b\n  type: accepted\n"
    e3 = "- id: e3\n  at: 2026-11-23T11:59:30+08:00\n  by: b\n  type: contacted\n"
    commit = Commit("c" * 40, dt.datetime.fromisoformat(t("12:00")), "b")
    old, new = scan(base + e1), scan(base + e1 + e2 + e3)
    assert old is not None and new is not None
    for history, run in ((History(), diff), (History(), diff_texts)):
        if run is diff:
            diff(old, new, commit, history)
        else:  # only the appended events are read
            diff_texts(base + e1, base + e1 + e2 + e3, commit, history)
        # e3 is 30 s late: within the minute every step may take to be entered
        assert [(x.event, x.recorded, x.declared) for x in history.late] == [
            ("e2", commit.date, False)
        ]
    imported = History()
    diff(None, new, commit, imported, imported=True)
    assert not imported
    edits = History()
    diff_texts(base + e1 + e2, base + e1 + e2.replace("10:05", "10:01"), commit, edits)
    assert [(x.event, x.old.minute, x.new.minute) for x in edits.time_edits] == [("e2", 5, 1)]
    assert not edits.late
    hand = History()
    diff_texts(base + e1, base.replace("P3", "P4") + e1, commit, hand)
    assert [(x.old, x.new) for x in hand.priority_edits] == [("P3", "P4")]
    edit = "- id: e2\n  at: 2026-11-23T12:00:00+08:00\n  by: b\n  type: edited\n  changes:\n"
    system = edit + "    system:\n    - ERP\n    - OA\n"
    priority = edit + "    priority:\n    - P3\n    - P4\n"
    for added, hidden in ((system, True), (priority, False)):
        history = History()
        diff_texts(base + e1, base.replace("P3", "P4") + e1 + added, commit, history)
        assert bool(history.priority_edits) is hidden
        assert _fast(base + e1 + added) == _loaded(base + e1 + added)


def test_the_reading_of_history_is_kept_and_extended(desk: Desk) -> None:
    from elinkctl.cache.audit import FILE

    tid = desk.new(now=t("10:00"), priority="P2")
    desk.ok("accept", tid, "--at", "10:05", now=t("13:00"))
    first = audit_json(desk)
    kept = desk.root / ".git" / "elinkctl" / FILE
    assert kept.is_file()
    other = desk.new(now=t("10:00"), priority="P2", title="打印机卡纸")
    desk.ok("accept", other, "--at", "10:05", now=t("14:00"))
    second = audit_json(desk)
    assert kinds(second) == sorted([(tid, "late_response"), (other, "late_response")])
    assert second["commits"] == first["commits"] + 2
    kept.unlink()
    assert audit_json(desk) == second  # the same as reading it all
    # A rewritten history (the last step undone and done again on time) is read afresh.
    desk.git("reset", "-q", "--hard", "HEAD~1")
    desk.ok("accept", other, now=t("10:10", "2026-11-23"))
    third = audit_json(desk)
    assert kinds(third) == [(tid, "late_response")] and third["commits"] == second["commits"]
    kept.write_text("{not json", encoding="utf-8")
    assert audit_json(desk) == third


# --- a generated history with planted cases ---------------------------------------------

GEN_NOW = dt.datetime.fromisoformat("2026-11-20T12:00:00+08:00")


def _commit_file(root: Path, path: Path, text: str, when: dt.datetime, author: str) -> None:
    path.write_text(text, encoding="utf-8")
    env = dict(os.environ)
    stamp = when.isoformat()
    env.update(
        GIT_AUTHOR_NAME=author,
        GIT_AUTHOR_EMAIL="p@example.com",
        GIT_COMMITTER_NAME=author,
        GIT_COMMITTER_EMAIL="p@example.com",
        GIT_AUTHOR_DATE=stamp,
        GIT_COMMITTER_DATE=stamp,
    )
    rel = str(path.relative_to(root))
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", f"planted: {path.stem}", "--", rel],
        cwd=root,
        check=True,
        env=env,
    )


def test_a_generated_history_with_planted_backdating(tmp_path: Path) -> None:
    """10,000 generated incidents (one import commit), then planted cases, each
    committed on its own with a later date: audit finds every one and nothing else."""
    import time

    from generate import DESK, L1, L2, PM, generate

    from elinkctl.domain import lifecycle
    from elinkctl.domain.model import Status
    from elinkctl.domain.sla import LATE, clocks
    from elinkctl.services import audit as svc
    from elinkctl.services.stats import sla_rules
    from elinkctl.store.store import Store

    root = tmp_path / "s"
    generate(
        root, 10_000, 12, 300, seed=15, now=GEN_NOW, actor="生成器", processes=2, progress=False
    )
    escalation = root / "escalation.yaml"
    text = escalation.read_text(encoding="utf-8")
    for role, people in (("desk", DESK), ("l1", L1), ("l2", L2), ("pm", [PM])):
        text = text.replace(f"  {role}: []", f"  {role}: [{', '.join(people)}]")
    escalation.write_text(text, encoding="utf-8")
    subprocess.run(
        ["git", "commit", "-q", "-m", "people", "--", "escalation.yaml"], cwd=root, check=True
    )

    store = Store(root)
    rules = sla_rules(store.config)
    later = GEN_NOW + dt.timedelta(days=1)  # when the planted cases are committed
    now = GEN_NOW + dt.timedelta(days=3)
    minute = dt.timedelta(minutes=1)
    tickets = sorted(store.iter_tickets(), key=lambda x: x.id)
    used: set[str] = set()
    expected: set[tuple[str, str]] = set()

    def pick(test: object) -> list[ticketfile.Ticket]:
        return [x for x in tickets if x.id not in used and test(x)]  # type: ignore[operator]

    def plant(
        ticket: ticketfile.Ticket, new: ticketfile.Ticket, when: dt.datetime, who: str
    ) -> None:
        used.add(ticket.id)
        _commit_file(root, store.path_of(ticket.id), ticketfile.dumps(new), when, who)

    def last_at(x: ticketfile.Ticket) -> dt.datetime:
        return max(e.at for e in x.events)

    def response(x: ticketfile.Ticket) -> str:
        return clocks(x, rules, GEN_NOW)[0].outcome

    # late_response: a new incident accepted "a minute after it was reported",
    # entered a day later (declared with recorded_at, as `accept --at` does).
    for x in pick(
        lambda x: x.status == Status.NEW and clocks(x, rules, GEN_NOW)[0].deadline < later
    )[:3]:
        change = lifecycle.record(x, "accepted", DESK[0], x.opened_at + minute, later, "accepted")
        assert "recorded_at" in change.event.data
        plant(x, change.ticket, later, DESK[0])
        expected.add((x.id, "late_response"))

    # late_resolution: in progress, resolved "before the deadline", committed after it
    # with no recorded_at (a forged backdate is dated by its commit).
    def resolvable(x: ticketfile.Ticket) -> bool:
        deadline = clocks(x, rules, GEN_NOW)[1].deadline
        return (
            x.status == Status.IN_PROGRESS
            and deadline is not None
            and last_at(x) + 2 * minute < deadline < later
        )

    for x in pick(resolvable)[:3]:
        at = last_at(x) + minute
        change = lifecycle.record(
            x, "resolved", x.state.assignee or L1[0], at, at, "resolved", solution="重启"
        )
        plant(x, change.ticket, later, x.state.assignee or L1[0])
        expected.add((x.id, "late_resolution"))

    # late_record: a callback entered a day after the time it claims (no SLA effect).
    for x in pick(lambda x: x.status == Status.CLOSED and x.state.callback_at is None)[:2]:
        at = last_at(x) + minute
        change = lifecycle.record(x, "callback", DESK[1], at, at, "callback", satisfaction=5)
        plant(x, change.ticket, later, DESK[1])
        expected.add((x.id, "late_record"))

    # priority_edit: a late response made timely by lowering the priority (edit --priority).
    def lowered(x: ticketfile.Ticket) -> str | None:
        """A lower priority under which the late response would be timely."""
        if x.status != Status.CLOSED or response(x) != LATE:
            return None
        for lower in ("P4", "P3", "P2"):
            alternative = audit.with_priority(x, lower) if lower > x.priority else None
            if alternative is not None and response(alternative) != LATE:
                return lower
        return None

    for x in pick(lambda x: lowered(x) is not None)[:2]:
        lower = lowered(x)
        assert lower is not None
        change = lifecycle.edit(x, {"priority": lower}, PM, later, later, reason="影响面小")
        plant(x, change.ticket, later, PM)
        expected.add((x.id, "priority_edit"))

    # priority_edit by hand: the priority line changed in the file, no edit event.
    for x in pick(lambda x: lowered(x) is not None)[:2]:
        lower = lowered(x)
        text = ticketfile.dumps(x).replace(
            f"\npriority: {x.priority}\n", f"\npriority: {lower}\n", 1
        )
        used.add(x.id)
        _commit_file(root, store.path_of(x.id), text, later, "某人")
        expected.add((x.id, "priority_edit"))

    # timestamp_edit: a late accept moved to a minute after the report, by hand.
    def late_accept(x: ticketfile.Ticket) -> bool:
        first = next((e for e in x.events if e.type in ("accepted", "contacted", "resolved")), None)
        return (
            x.status == Status.CLOSED
            and response(x) == LATE
            and first is not None
            and first.type == "accepted"
        )

    for x in pick(late_accept)[:2]:
        events = [
            dataclasses.replace(e, at=x.opened_at + minute) if e.type == "accepted" else e
            for e in x.events
        ]
        events.sort(key=lambda e: e.at)  # a file keeps its events in time order
        plant(x, ticketfile.Ticket(x.id, x.fields, tuple(events)), later, "某人")
        expected.add((x.id, "timestamp_edit"))

    # close_unconfirmed: resolved and force-closed, each committed when it happened.
    for x in pick(lambda x: x.status == Status.IN_PROGRESS)[:2]:
        at = last_at(x) + minute
        resolved = lifecycle.record(
            x, "resolved", DESK[2], at, at, "resolved", solution="重启"
        ).ticket
        _commit_file(root, store.path_of(x.id), ticketfile.dumps(resolved), at, DESK[2])
        closed = lifecycle.record(
            resolved,
            "closed",
            DESK[2],
            at + minute,
            at + minute,
            "closed",
            forced=True,
            reason="联系不上",
        ).ticket
        plant(x, closed, at + minute, DESK[2])
        expected.add((x.id, "close_unconfirmed"))

    # callback_outside_desk: an engineer calls the user back himself.
    for x in pick(lambda x: x.status == Status.CLOSED and x.state.callback_at is None)[:2]:
        at = last_at(x) + minute
        change = lifecycle.record(x, "callback", L1[0], at, at, "callback", satisfaction=5)
        plant(x, change.ticket, at, L1[0])
        expected.add((x.id, "callback_outside_desk"))

    assert len(expected) == 18
    started = time.perf_counter()
    report = svc.audit_store(store, rules, now)
    cold = time.perf_counter() - started
    found = {(f.ticket, f.kind) for f in report.findings}
    assert found == expected
    assert len(report.findings) == len(expected)
    assert report.incidents == 10_000
    assert [i.tickets for i in report.imports] == [10_000]
    assert report.skipped == []
    started = time.perf_counter()
    again = svc.audit_store(Store(root), rules, now)
    warm = time.perf_counter() - started
    assert again.to_json() == report.to_json()
    print(f"audit of 10,000 generated incidents: {cold:.2f} s cold, {warm:.2f} s warm")
