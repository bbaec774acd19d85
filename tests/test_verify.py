"""`verify OLD..NEW` and the shipped pre-receive hook (issue 15), in real git.

A bare remote with hooks/pre-receive installed and clones of it: honest
work, the merges `sync` makes, an ID collision it repairs and `check`'s
commits pass; a forged push — events under another person's name, a
backdated or hand-edited `resolved`, an edited or deleted event, a step
without the role, a rule file changed by someone else — is refused with the
exact commit and reason, and `sync` shows the remote's reason without
retrying. The rules themselves are also tested directly on texts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Desk
from elinkctl.domain import lifecycle, merge, ticketfile
from elinkctl.domain import verify as rules
from elinkctl.domain.model import Ticket
from gitfixtures import Shared, git, run, shared_desk, tickets

HOOK = Path(__file__).resolve().parent.parent / "hooks" / "pre-receive"
ZERO = "0" * 40
TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)

PEOPLE = """\
roles:
  desk: [小王]
  l1: [李四]
  l2: [王五]
  vendor: []
  pm: [赵六]
  management: []

people:
  小王: {email: xiaowang@example.com, aliases: [wang]}
  李四: {email: lisi@example.com}
  王五: {email: wangwu@example.com}
  赵六: {email: zhaoliu@example.com, aliases: [zhao]}

rule_owners: [赵六]
"""


def staffed(text: str) -> str:
    """escalation.yaml with the desk's people, roles and rule owner."""
    start = text.index("roles:\n  desk: []")
    end = text.index("people: {}") + len("people: {}")
    return text[:start] + PEOPLE + text[end:]


class Clock:
    """ELINKCTL_NOW moving forward a minute per command (or more, `skip`)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> str:
        self.now += dt.timedelta(minutes=1)
        return self.now.isoformat()

    def skip(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)


def new(store: Path, clock: Clock, title: str, user: str = "小王", *extra: str) -> str:
    args = ["new", "--title", title, "--type", "failure", "--reporter", "张三", *extra]
    return run(store, *args, user=user, now=clock()).stdout.strip()


def sync(store: Path, clock: Clock, user: str = "小王") -> dict[str, object]:
    proc = run(store, "sync", "--json", user=user, now=clock(), check=False)
    report: dict[str, object] = json.loads(proc.stdout)
    report["stderr"] = proc.stderr
    report["exit"] = proc.returncode
    return report


def synced(store: Path, clock: Clock, user: str = "小王") -> None:
    report = sync(store, clock, user)
    assert report["exit"] == 0, report


def hand_commit(store: Path, author: str, when: str, message: str) -> str:
    """What someone with push rights and a text editor does: commit by hand."""
    env = dict(os.environ)
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"] = author
        env[f"GIT_{who}_EMAIL"] = "someone@example.com"
        env[f"GIT_{who}_DATE"] = when
    subprocess.run(["git", "add", "-A"], cwd=store, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=store, env=env, check=True)
    return git(store, "rev-parse", "HEAD")


def rewrite(store: Path, ticket_id: str, change: Callable[[Ticket], Ticket]) -> str:
    """Edit a ticket file as data (state lines stay consistent, so it passes fsck)."""
    path = next((store / "tickets").rglob(f"{ticket_id}.yaml"))
    ticket = change(ticketfile.loads(path.read_text(encoding="utf-8")))
    path.write_text(ticketfile.dumps(ticket), encoding="utf-8")
    return path.relative_to(store).as_posix()


def verify_json(repo: Path, span: str) -> tuple[int, dict[str, object]]:
    proc = run(repo, "verify", "--json", span, check=False)
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shared:
    """Two clones of a bare remote that runs the shipped pre-receive hook."""
    monkeypatch.setenv("ELINKCTL", f"{sys.executable} -m elinkctl")
    desk = shared_desk(tmp_path, clones=2)
    a, b = desk.clones
    esc = a / "escalation.yaml"
    esc.write_text(staffed(esc.read_text(encoding="utf-8")), encoding="utf-8")
    git(a, "commit", "-qam", "the desk's people and roles")
    git(a, "push", "-q", "origin", "main")
    git(b, "pull", "-q", "--ff-only")
    shutil.copy(HOOK, desk.remote / "hooks" / "pre-receive")
    return desk


# --- honest work passes ------------------------------------------------------------------


def test_honest_work_merges_and_check_commits_pass_the_hook(guarded: Shared) -> None:
    a, b = guarded.clones
    clock = Clock()
    p3 = new(a, clock, "财务系统无法登录")
    p2 = new(a, clock, "邮件系统收不到外部邮件", "小王", "--priority", "P2")
    run(a, "accept", p3, user="小王", now=clock())
    run(a, "assign", p3, "--to", "李四", "--tier", "l1", user="wang", now=clock())
    synced(a, clock)
    synced(b, clock, "李四")
    # both clones at once: comments, the same field edited, the same incident accepted
    run(a, "comment", p3, "-m", "用户来电催促", user="小王", now=clock())
    run(b, "comment", p3, "-m", "正在远程排查", user="李四", now=clock())
    run(a, "edit", p3, "--system", "财务系统", user="小王", now=clock())
    run(b, "edit", p3, "--system", "统一认证", user="李四", now=clock())
    run(a, "accept", p2, user="小王", now=clock())
    run(b, "accept", p2, user="赵六", now=clock())
    synced(a, clock)
    synced(b, clock, "李四")  # a merge: superseded accept, the merge's edit note
    synced(a, clock)
    # cron's check records escalations and marks under its own identity
    clock.skip(90)
    check = run(a, "check", user="elinkctl-check", now=clock())
    assert git(a, "log", "-1", "--format=%an") == "elinkctl-check", check.stderr
    # an engineer records late what happened earlier (--at says so)
    clock.skip(120)
    contact_at = (clock.now - dt.timedelta(hours=2)).isoformat()
    run(b, "contact", p3, "--at", contact_at, user="李四", now=clock())
    run(b, "resolve", p3, "--solution", "重置证书", user="李四", now=clock())
    synced(b, clock, "李四")
    synced(a, clock)
    synced(b, clock, "李四")
    late = tickets(a)[p3]
    contact = next(e for e in late.events if e.type == "contacted")
    assert contact.at.isoformat() == contact_at and contact.get("recorded_at") > contact.at
    assert any(e.type == "superseded" for e in tickets(a)[p2].events)
    assert any(e.get("merge") for e in late.events)
    assert git(guarded.remote, "rev-parse", "main") == git(a, "rev-parse", "HEAD")
    merges = git(guarded.remote, "rev-list", "--merges", "--count", "main")
    assert int(merges) >= 1
    code, report = verify_json(guarded.remote, f"{ZERO}..main")
    assert code == 0 and report["findings"] == [], report
    assert report["commits"] == int(git(guarded.remote, "rev-list", "--count", "main"))


def test_an_id_collision_repaired_by_sync_passes_the_hook(guarded: Shared) -> None:
    a, b = guarded.clones
    same = "INC-261123-7KQ2M"
    rel = f"tickets/2026/11/{same}.yaml"

    def register(store: Path, by: str, minutes: int, title: str) -> None:
        when = T0 + dt.timedelta(minutes=minutes)
        fields = {"title": title, "type": "failure", "priority": "P3", "reporter": {"name": by}}
        text = ticketfile.dumps(lifecycle.register(same, fields, by, when, when, when).ticket)
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        (store / rel).write_text(text, encoding="utf-8")
        hand_commit(store, by, when.isoformat(), f"{same}: registered")

    register(a, "小王", 1, "打印机卡纸")
    register(b, "赵六", 5, "投影仪无信号")
    clock = Clock()
    clock.skip(10)
    synced(a, clock)
    report = sync(b, clock, "赵六")  # merges, repairs the collision, pushes both commits
    assert report["exit"] == 0 and len(report["collisions"]) == 1, report  # type: ignore[arg-type]
    synced(a, clock)
    assert len(tickets(a)) == 2
    code, found = verify_json(guarded.remote, f"{ZERO}..main")
    assert code == 0 and found["findings"] == [], found


# --- forged pushes are refused -----------------------------------------------------------


def _append(ticket: Ticket, type_: str, by: str, at: dt.datetime, **data: object) -> Ticket:
    event = dataclasses.replace(
        ticket.events[-1], id=ticket.next_event_id(), at=at, by=by, type=type_, data=data
    )
    return ticket.with_event(event)


def _edit(ticket: Ticket, index: int, **changes: object) -> Ticket:
    events = list(ticket.events)
    event = events[index]
    data = {**event.data, **{k: v for k, v in changes.items() if k not in ("at", "by")}}
    events[index] = dataclasses.replace(
        event,
        at=changes.get("at", event.at),  # type: ignore[arg-type]
        by=str(changes.get("by", event.by)),
        data=data,
    )
    return dataclasses.replace(ticket, events=tuple(events))


def _drop(ticket: Ticket, type_: str) -> Ticket:
    return dataclasses.replace(ticket, events=tuple(e for e in ticket.events if e.type != type_))


RESOLVED = "2026-11-23T14:06:00+08:00"
LATER = T0 + dt.timedelta(hours=5, minutes=36)  # 14:36, when the forger commits
EARLY = T0 + dt.timedelta(hours=1)  # 10:00: what the forger wants the KPI to see
FORGERIES: list[tuple[str, str, bool, Callable[[Ticket], Ticket] | None, str, str]] = [
    # (what, author, resolved first with the CLI, the hand edit, rule, words in the message)
    (
        "events under another person's name",
        "小王",
        False,
        lambda t: _append(t, "commented", "赵六", LATER, text="PM 已知悉"),
        "actor",
        "event e6 (commented by 赵六 at 2026-11-23T14:36+08:00) is recorded under another name",
    ),
    (
        "a resolved time edited by hand",
        "李四",
        True,
        lambda t: _edit(t, -1, at=EARLY),
        "append_only",
        "event e6 (resolved by 李四 at 2026-11-23T14:06+08:00) was changed: "
        "at 2026-11-23T14:06+08:00 → 2026-11-23T10:00+08:00",
    ),
    (
        "a backdated resolve that hides when it was recorded",
        "李四",
        False,
        lambda t: _append(t, "resolved", "李四", EARLY, solution="重置证书"),
        "time",
        "event e6 (resolved by 李四 at 2026-11-23T10:00+08:00) claims a time 4h before its commit",
    ),
    (
        "a backdated resolve with a false recording time",
        "李四",
        False,
        lambda t: _append(t, "resolved", "李四", EARLY, solution="重置证书", recorded_at=EARLY),
        "time",
        "says it was recorded at 2026-11-23T10:00+08:00, but its commit is dated "
        "2026-11-23T14:36+08:00",
    ),
    (
        "an old event edited",
        "李四",
        False,
        lambda t: _edit(t, 3, text="用户说一直不能登录"),
        "append_only",
        "event e4 (commented by 李四 at 2026-11-23T09:04+08:00) was changed: text",
    ),
    (
        "an old event deleted",
        "李四",
        False,
        lambda t: _drop(t, "contacted"),
        "append_only",
        "event e5 (contacted by 李四 at 2026-11-23T09:05+08:00) was removed",
    ),
    (
        "a close by someone without the desk role",
        "李四",
        True,
        lambda t: _append(t, "closed", "李四", LATER),
        "permission",
        "李四 may not close: needs role desk",
    ),
    ("a rule file changed by someone not a rule owner", "小王", False, None, "rules", "赵六"),
]


def test_forged_pushes_are_refused_with_the_commit_and_reason(guarded: Shared) -> None:
    a, _ = guarded.clones
    clock = Clock()
    tid = new(a, clock, "财务系统无法登录")
    run(a, "accept", tid, user="小王", now=clock())
    run(a, "assign", tid, "--to", "李四", "--tier", "l1", user="小王", now=clock())
    run(a, "comment", tid, "-m", "用户说上午还能登录", user="李四", now=clock())
    run(a, "contact", tid, user="李四", now=clock())
    synced(a, clock)
    honest = git(a, "rev-parse", "HEAD")
    clock.skip(400)
    for what, author, resolve_first, change, rule, words in FORGERIES:
        git(a, "reset", "-q", "--hard", honest)
        if resolve_first:
            run(a, "resolve", tid, "--solution", "重置证书", user="李四", now=RESOLVED)
        if change is None:
            rel = "sla.yaml"
            with (a / rel).open("a", encoding="utf-8") as fh:
                fh.write("# 响应时限放宽\n")
        else:
            rel = rewrite(a, tid, change)
        forged = hand_commit(a, author, LATER.isoformat(), f"{tid}: {what}")
        report = sync(a, clock)
        assert report["exit"] == 1 and report["status"] == "declined", (what, report)
        assert report["attempts"] == 1, (what, report)  # never retried
        assert "pre-receive hook declined" in str(report["message"]), what
        prefix = f"{forged[:10]} {rel}: {rule}: "
        problems = [str(p) for p in report["problems"]]  # type: ignore[attr-defined]
        lines = [p for p in problems if p.startswith(prefix)]
        assert lines and words in lines[0], (what, problems)
        assert prefix in str(report["stderr"]), what  # sync shows the remote's own reason
        assert git(guarded.remote, "rev-parse", "main") == honest, what
        code, found = verify_json(a, f"{honest}..{forged}")
        assert code == 1 and found["commits"] == (2 if resolve_first else 1), what
        flagged = {(f["commit"], f["file"], f["rule"]) for f in found["findings"]}  # type: ignore[attr-defined]
        assert (forged, rel, rule) in flagged, (what, found)
        assert all(f[0] == forged for f in flagged), (what, found)  # the CLI's resolve passes


def test_the_rule_owner_may_change_the_rules(guarded: Shared) -> None:
    a, _ = guarded.clones
    clock = Clock()
    with (a / "sla.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# 赵六 reviewed the targets\n")
    hand_commit(a, "zhao", clock(), "sla: reviewed")  # an alias of the rule owner
    synced(a, clock)


# --- the command itself ----------------------------------------------------------------------


def test_verify_json_and_lines(desk: Desk) -> None:
    base = desk.git("rev-parse", "HEAD").strip()
    tid = desk.new(now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    desk.ok("resolve", tid, "--solution", "重启", "--at", "10:06", now="2026-11-23T14:00:00+08:00")
    clean = desk.ok("verify", "--json", f"{base}..HEAD")
    assert json.loads(clean.stdout) == {"commits": 3, "findings": []}
    assert "3 commit(s) checked" in desk.ok("verify", f"{base}..HEAD").stderr
    path = desk.ticket_path(tid)
    path.write_text(path.read_text(encoding="utf-8").replace("by: desk-wang", "by: 赵六", 1))
    desk.git("commit", "-qam", "hand edit")
    head = desk.git("rev-parse", "HEAD").strip()
    result = desk.run("verify", "--json", f"{base}..HEAD")
    assert result.exit_code == 1 and "Error: 1 finding(s) in 4 commit(s)" in result.stderr
    data = json.loads(result.stdout)
    assert data["commits"] == 4
    (finding,) = data["findings"]
    rel = path.relative_to(desk.root).as_posix()
    assert finding == {
        "commit": head,
        "file": rel,
        "rule": "append_only",
        "message": "event e1 (created by desk-wang at 2026-11-23T10:00+08:00) was changed: "
        "by desk-wang → 赵六",
    }
    text = desk.run("verify", f"{base}..HEAD")
    assert text.stdout == f"{head[:10]} {rel}: append_only: {finding['message']}\n"
    everything = json.loads(desk.run("verify", "--json", f"{ZERO}..HEAD").stdout)
    assert everything["commits"] == 5 and len(everything["findings"]) == 1
    signed = json.loads(desk.run("verify", "--json", "--require-signed", f"{base}..HEAD").stdout)
    assert sum(f["rule"] == "signature" for f in signed["findings"]) == 4
    bad = desk.run("verify", "HEAD")
    assert bad.exit_code == 2 and "OLD..NEW" in bad.stderr
    unknown = desk.run("verify", "nosuch..HEAD")
    assert unknown.exit_code == 2 and "nosuch: not a commit" in unknown.stderr
    assert desk.ok("verify", "--json", f"HEAD..{ZERO}").stdout.strip().startswith("{")


# --- the rules on texts ------------------------------------------------------------------------


def _ticket(*steps: tuple[str, str, int, dict[str, object]]) -> str:
    when = T0
    fields = {"title": "打印机卡纸", "type": "failure", "priority": "P3"}
    ticket = lifecycle.register("INC-261123-7KQ2M", fields, "小王", when, when, when).ticket
    for type_, by, minutes, data in steps:
        at = T0 + dt.timedelta(minutes=minutes)
        ticket = lifecycle.record(ticket, type_, by, at, at, type_, **data).ticket
    return ticketfile.dumps(ticket)


PATH = "tickets/2026/11/INC-261123-7KQ2M.yaml"


def _commit(author: str, minutes: int, parents: int = 1) -> rules.Commit:
    return rules.Commit("c" * 40, author, T0 + dt.timedelta(minutes=minutes), ("p" * 40,) * parents)


def _rules(findings: list[rules.Finding]) -> list[str]:
    return [f.rule for f in findings]


def test_recorded_at_is_matched_against_the_commit_within_the_tolerance() -> None:
    policy = rules.Policy.from_text("verify: {tolerance: 30m}\n")
    assert policy.tolerance == dt.timedelta(minutes=30)
    assert rules.Policy.from_text("verify: {tolerance: soon}\n").tolerance == dt.timedelta(hours=1)
    before = _ticket(("accepted", "小王", 1, {}))
    ticket = ticketfile.loads(before)
    late = lifecycle.record(
        ticket, "commented", "小王", T0 + dt.timedelta(minutes=2), T0 + dt.timedelta(hours=3), "c"
    ).ticket
    after = ticketfile.dumps(late)
    assert late.events[-1].get("recorded_at") == T0 + dt.timedelta(hours=3)
    ok = rules.check_ticket(_commit("小王", 180 + 20), PATH, [before], after, policy)
    assert ok == []
    off = rules.check_ticket(_commit("小王", 180 + 40), PATH, [before], after, policy)
    assert _rules(off) == ["time"] and "tolerance 30m" in off[0].message
    future = rules.check_ticket(_commit("小王", 170), PATH, [before], after, policy)
    assert _rules(future) == ["time"] and "says it was recorded at" in future[0].message


def test_a_merge_is_accepted_as_the_driver_makes_it_and_checked_otherwise() -> None:
    policy = rules.Policy.from_text(staffed_text())
    base = _ticket(("accepted", "小王", 1, {}))
    ours = _ticket(("accepted", "小王", 1, {}), ("commented", "小王", 3, {"text": "a"}))
    theirs = _ticket(("accepted", "小王", 1, {}), ("commented", "李四", 4, {"text": "b"}))
    merged = merge.merge_ticket_texts(base, ours, theirs).text
    commit = _commit("小王", 10, parents=2)
    assert rules.check_ticket(commit, PATH, [ours, theirs], merged, policy, base=base) == []
    # a merge that also slips in a step of its own, under someone else's name
    ticket = ticketfile.loads(merged)
    extra = ticketfile.dumps(_append(ticket, "commented", "赵六", T0 + dt.timedelta(minutes=5)))
    found = rules.check_ticket(commit, PATH, [ours, theirs], extra, policy, base=base)
    assert _rules(found) == ["actor"]
    # one that loses an event of a side
    dropped = ticketfile.dumps(_drop(ticket, "commented"))
    found = rules.check_ticket(commit, PATH, [ours, theirs], dropped, policy, base=base)
    assert _rules(found) == ["append_only", "append_only"]


def test_the_cron_identity_and_aliases() -> None:
    policy = rules.Policy.from_text(staffed_text())
    before = _ticket(("accepted", "小王", 1, {}))
    ticket = ticketfile.loads(before)
    mark = _append(ticket, "escalation", "elinkctl-check", T0 + dt.timedelta(minutes=30))
    mark = dataclasses.replace(
        mark,
        events=(*mark.events[:-1], dataclasses.replace(mark.events[-1], data={"role": "l1"})),
    )
    after = ticketfile.dumps(mark)
    assert rules.check_ticket(_commit("elinkctl-check", 30), PATH, [before], after, policy) == []
    chat = ticketfile.dumps(
        _append(ticket, "commented", "elinkctl-check", T0 + dt.timedelta(minutes=2))
    )
    found = rules.check_ticket(_commit("elinkctl-check", 30), PATH, [before], chat, policy)
    assert _rules(found) == ["permission"] and "cron identity" in found[0].message
    by_alias = ticketfile.dumps(_append(ticket, "commented", "wang", T0 + dt.timedelta(minutes=2)))
    assert rules.check_ticket(_commit("小王", 3), PATH, [before], by_alias, policy) == []


def staffed_text() -> str:
    return PEOPLE


def test_verify_staged_checks_a_hand_edit_before_it_is_committed(desk: Desk) -> None:
    tid = desk.new(now="2026-11-23T10:00:00+08:00")
    path = desk.ticket_path(tid)
    honest = path.read_text(encoding="utf-8")
    assert desk.run("verify").exit_code == 2  # a range or --staged
    empty = desk.ok("verify", "--staged", "--json", now="2026-11-23T10:05:00+08:00")
    assert json.loads(empty.stdout) == {"commits": 1, "findings": []}
    path.write_text(honest.replace("by: desk-wang", "by: 赵六", 1), encoding="utf-8")
    desk.git("add", str(path))
    result = desk.run("verify", "--staged", now="2026-11-23T10:05:00+08:00")
    assert result.exit_code == 1
    assert (
        result.stdout.startswith("staged tickets/2026/11/") and ": append_only: " in result.stdout
    )
    # git's user adds a comment in their own name, now: what the server accepts
    ticket = ticketfile.loads(honest)
    when = dt.datetime(2026, 11, 23, 10, 5, tzinfo=TZ)
    change = lifecycle.record(ticket, "commented", "Test Runner", when, when, "c", text="手工补充")
    path.write_text(ticketfile.dumps(change.ticket), encoding="utf-8")
    desk.git("add", str(path))
    desk.ok("verify", "--staged", now="2026-11-23T10:05:00+08:00")


def test_the_pre_commit_hooks_name_real_commands() -> None:
    from click.testing import CliRunner

    from elinkctl import yamlio
    from elinkctl.cli import cli

    hooks = yamlio.load((HOOK.parent.parent / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} >= {"elinkctl-verify-staged", "elinkctl-config-check"}
    for hook in hooks:
        words = hook["entry"].split()
        assert words[0] == "elinkctl"
        assert CliRunner().invoke(cli, [*words[1:], "--help"]).exit_code == 0, hook["id"]


def test_a_new_branch_is_checked_from_where_it_leaves_main(guarded: Shared) -> None:
    a, _ = guarded.clones
    clock = Clock()
    tid = new(a, clock, "打印机卡纸")
    git(a, "checkout", "-q", "-b", "honest")
    push = subprocess.run(
        ["git", "push", "-q", "origin", "honest"], cwd=a, capture_output=True, text=True
    )
    assert push.returncode == 0, push.stderr
    git(a, "checkout", "-q", "-b", "forged")
    rel = rewrite(a, tid, lambda t: _edit(t, 0, by="赵六"))
    forged = hand_commit(a, "小王", clock(), "hand edit")
    push = subprocess.run(
        ["git", "push", "-q", "origin", "forged"], cwd=a, capture_output=True, text=True
    )
    assert push.returncode != 0 and "pre-receive hook declined" in push.stderr
    assert f"remote: {forged[:10]} {rel}: append_only: event e1" in push.stderr
