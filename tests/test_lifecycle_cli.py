"""The incident lifecycle through the CLI contract (issue 2), on real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import Desk


def last_commit(desk: Desk) -> tuple[str, str, list[str]]:
    """(author name, subject, changed files) of HEAD."""
    author = desk.git("log", "-1", "--format=%an").strip()
    subject = desk.git("log", "-1", "--format=%s").strip()
    files = desk.git("show", "--name-only", "--format=", "HEAD").split()
    return author, subject, files


def test_p3_walked_through_the_whole_process(desk: Desk) -> None:
    tid = desk.new(
        now="2026-11-23T10:00:00+08:00",
        phone="13800138000",
        dept="财务部",
        system="财务系统",
        module="登录",
        urgency="medium",
        impact="medium",
        source="phone",
        location="3号楼501",
        contact="李会计 13700000000",
        description="多名用户反映登录报错",
    )
    assert len(tid) == len("INC-261123-7KQ2M")
    short = tid[-5:]
    rel = f"tickets/2026/11/{tid}.yaml"
    steps = [
        (("accept", short), "desk-wang", "10:05", "in_progress", "accepted"),
        (
            ("assign", short, "--to", "李四", "--tier", "l1"),
            "desk-wang",
            "10:08",
            "in_progress",
            "assigned to 李四 (l1)",
        ),
        (
            ("contact", short, "-m", "电话联系用户"),
            "李四",
            "10:20",
            "in_progress",
            "contacted the user",
        ),
        (
            ("pend", short, "--reason", "等待用户提供日志"),
            "李四",
            "10:30",
            "pending",
            "pending: 等待用户提供日志",
        ),
        (("resume", short), "李四", "11:30", "in_progress", "resumed"),
        (
            ("escalate", short, "--tier", "l2", "--to", "王五", "--reason", "一线无法定位"),
            "李四",
            "11:40",
            "in_progress",
            "escalated to l2 (王五)",
        ),
        (
            ("resolve", short, "--solution", "更新认证服务证书并重启"),
            "王五",
            "14:00",
            "resolved",
            "resolved",
        ),
        (("confirm", short), "desk-wang", "14:30", "resolved", "user confirmed the resolution"),
        (
            ("callback", short, "--satisfaction", "5", "-m", "用户满意"),
            "desk-wang",
            "15:00",
            "resolved",
            "callback, satisfaction 5/5",
        ),
        (("close", short), "desk-wang", "15:01", "closed", "closed"),
    ]
    commits = desk.commit_count()
    for args, user, clock, status, message in steps:
        desk.ok(*args, user=user, now=f"2026-11-23T{clock}:00+08:00")
        commits += 1
        assert desk.commit_count() == commits, args
        author, subject, files = last_commit(desk)
        assert author == user
        assert subject == f"{tid}: {message}"
        assert files == [rel]
        assert desk.git("status", "--porcelain") == ""
        shown = desk.json("show", tid)
        assert shown["status"] == status
    shown = desk.json("show", short)
    assert shown["tier"] == "l2"
    assert shown["assignee"] == "王五"
    assert shown["opened_at"] == "2026-11-23T10:00:00+08:00"
    assert shown["responded_at"] == "2026-11-23T10:05:00+08:00"
    assert shown["resolved_at"] == "2026-11-23T14:00:00+08:00"
    assert shown["closed_at"] == "2026-11-23T15:01:00+08:00"
    assert shown["pending"] == [["2026-11-23T10:30:00+08:00", "2026-11-23T11:30:00+08:00"]]
    assert shown["satisfaction"] == 5
    assert [e["type"] for e in shown["events"]] == [
        "created",
        "accepted",
        "assigned",
        "contacted",
        "pended",
        "resumed",
        "escalated",
        "resolved",
        "confirmed",
        "callback",
        "closed",
    ]
    for key in (
        "id",
        "title",
        "type",
        "priority",
        "status",
        "tier",
        "assignee",
        "opened_at",
        "responded_at",
        "resolved_at",
        "closed_at",
        "escalations",
        "events",
    ):
        assert key in shown
    assert all({"id", "at", "by", "type"} <= set(e) for e in shown["events"])


def test_resolve_diff_is_state_lines_plus_one_event(desk: Desk) -> None:
    tid = desk.new()
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    desk.ok("resolve", tid, "--solution", "重置密码", now="2026-11-23T11:00:00+08:00", user="王五")
    diff = desk.git("show", "--format=", "--unified=0", "HEAD")
    added = [
        line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]
    removed = [
        line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    assert removed == ["-status: in_progress"]
    assert added == [
        "+status: resolved",
        "+resolved_at: 2026-11-23T11:00:00+08:00",
        "+- id: e3",
        "+  at: 2026-11-23T11:00:00+08:00",
        "+  by: 王五",
        "+  type: resolved",
        "+  solution: 重置密码",
    ]


def test_ticket_file_is_readable_yaml(desk: Desk) -> None:
    tid = desk.new(description="第一行\n第二行", phone="13800138000")
    text = desk.ticket_path(tid).read_text(encoding="utf-8")
    assert text.startswith(f"schema: 1\nid: {tid}\ntitle: 财务系统无法登录\n")
    assert "\\u" not in text
    assert "description: |-\n  第一行\n  第二行\n" in text
    assert "opened_at: 2026-11-23T10:00:00+08:00\n" in text
    assert "phone: '13800138000'" in text
    assert "&id" not in text


@pytest.mark.parametrize(
    ("setup", "args", "fragment"),
    [
        ([], ("close",), "cannot close"),
        ([], ("resume",), "cannot resume"),
        ([("accept",)], ("accept",), "allowed: assign"),
        ([("accept",), ("resolve", "--solution", "x")], ("pend", "--reason", "r"), "cannot pend"),
        ([("reject", "--reason", "超出范围")], ("resolve", "--solution", "x"), "cannot resolve"),
    ],
)
def test_refused_transitions_write_nothing(
    desk: Desk, setup: list[tuple[str, ...]], args: tuple[str, ...], fragment: str
) -> None:
    tid = desk.new()
    for step in setup:
        desk.ok(step[0], tid, *step[1:], now="2026-11-23T10:10:00+08:00")
    before = desk.ticket_path(tid).read_bytes()
    commits = desk.commit_count()
    result = desk.run(args[0], tid, *args[1:], now="2026-11-23T10:20:00+08:00")
    assert result.exit_code == 1
    assert fragment in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output
    assert desk.ticket_path(tid).read_bytes() == before
    assert desk.commit_count() == commits


def test_at_option_rules(desk: Desk) -> None:
    tid = desk.new(now="2026-11-23T10:00:00+08:00")
    future = desk.run(
        "accept", tid, "--at", "2026-11-23T11:00:00+08:00", now="2026-11-23T10:30:00+08:00"
    )
    assert future.exit_code == 2 and "in the future" in future.stderr
    before = desk.run(
        "accept", tid, "--at", "2026-11-23T09:00:00+08:00", now="2026-11-23T10:30:00+08:00"
    )
    assert before.exit_code == 2 and "before the incident was opened" in before.stderr
    desk.ok("accept", tid, "--at", "10:07", now="2026-11-23T10:30:00+08:00")
    assert desk.json("show", tid)["responded_at"] == "2026-11-23T10:07:00+08:00"


def test_event_recorded_in_the_past_is_placed_in_time_order(desk: Desk) -> None:
    tid = desk.new(now="2026-11-23T10:00:00+08:00")
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    desk.ok("comment", tid, "-m", "后记", now="2026-11-23T12:00:00+08:00")
    desk.ok("contact", tid, "--at", "2026-11-23T10:30:00+08:00", now="2026-11-23T12:05:00+08:00")
    events = desk.json("show", tid)["events"]
    assert [e["type"] for e in events] == ["created", "accepted", "contacted", "commented"]
    # A past event that would make history impossible is refused.
    desk.ok("resolve", tid, "--solution", "x", now="2026-11-23T13:00:00+08:00")
    bad = desk.run(
        "pend",
        tid,
        "--reason",
        "r",
        "--at",
        "2026-11-23T13:30:00+08:00",
        now="2026-11-23T14:00:00+08:00",
    )
    assert bad.exit_code == 1


def test_ids_prefix_suffix_ambiguity_and_bad_ids(desk: Desk) -> None:
    a = desk.new(now="2026-11-23T10:00:00+08:00")
    b = desk.new(now="2026-11-23T10:01:00+08:00")
    assert desk.json("show", a[-5:].lower())["id"] == a
    assert desk.json("show", a)["id"] == a
    amb = desk.run("show", "INC-261123")
    assert amb.exit_code == 1
    assert "ambiguous" in amb.stderr and a in amb.stderr and b in amb.stderr
    missing = desk.run("show", "ZZZZZZ")
    assert missing.exit_code == 1 and "no incident matches" in missing.stderr
    for bad in ("../../etc/passwd", "tickets/2026", "a b", ""):
        result = desk.run("show", bad)
        assert result.exit_code == 2, bad
        assert "Traceback" not in result.output


def test_corrupt_ticket_named_with_line_and_others_still_work(desk: Desk) -> None:
    good = desk.new(now="2026-11-23T10:00:00+08:00")
    bad = desk.new(now="2026-11-23T10:01:00+08:00")
    path = desk.ticket_path(bad)
    path.write_text(
        path.read_text(encoding="utf-8").replace("type: failure", "type: [failure", 1),
        encoding="utf-8",
    )
    result = desk.run("show", bad)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: tickets/2026/11/{bad}.yaml line ")
    assert "Traceback" not in result.output
    desk.ok("accept", good, now="2026-11-23T10:05:00+08:00")
    listed = desk.run("list", "--json", env={})
    assert listed.exit_code == 0
    assert [t["id"] for t in __import__("json").loads(listed.stdout)] == [good]
    assert f"{bad}.yaml line" in listed.stderr
    fsck = desk.run("fsck")
    assert fsck.exit_code == 1 and f"tickets/2026/11/{bad}.yaml line" in fsck.stdout


def test_broken_sla_yaml_is_one_clear_error(desk: Desk) -> None:
    (desk.root / "sla.yaml").write_text("timezone: Asia/Shanghai\ntargets: [\n", encoding="utf-8")
    result = desk.run("new", "--title", "x", "--type", "failure", "--reporter", "r")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: sla.yaml line ")
    assert "Traceback" not in result.output


def test_unknown_values_are_usage_errors(desk: Desk) -> None:
    result = desk.run("new", "--title", "x", "--type", "outage", "--reporter", "r")
    assert result.exit_code == 2 and "outage" in result.stderr
    tid = desk.new()
    result = desk.run("assign", tid, "--to", "李四", "--tier", "l3")
    assert result.exit_code == 2
    result = desk.run("callback", tid, "--satisfaction", "9")
    assert result.exit_code == 2


def test_new_requires_title_type_reporter_without_a_terminal(desk: Desk) -> None:
    result = desk.run("new", "--title", "打印机卡纸")
    assert result.exit_code == 2
    assert "missing --type, --reporter" in result.stderr
    assert desk.git("status", "--porcelain") == ""


def test_new_prints_only_the_id_and_derives_priority(desk: Desk) -> None:
    result = desk.ok(
        "new",
        "--title",
        "全网中断",
        "--type",
        "failure",
        "--reporter",
        "张三",
        "--urgency",
        "high",
        "--impact",
        "high",
        now="2026-11-23T10:00:00+08:00",
    )
    tid = result.stdout.strip()
    assert result.stdout == tid + "\n"
    assert desk.json("show", tid)["priority"] == "P1"
    low = desk.new(urgency="low", impact="medium")
    assert desk.json("show", low)["priority"] == "P4"
    forced = desk.new(urgency="low", impact="low", priority="P2")
    assert desk.json("show", forced)["priority"] == "P2"


def test_key_users_sort_first_and_scope_is_opt_in(desk: Desk) -> None:
    sla = desk.root / "sla.yaml"
    text = sla.read_text(encoding="utf-8")
    text = text.replace("key_users: []", "key_users: [钱总]").replace(
        "scope: []", "scope: [财务系统, OA系统]"
    )
    sla.write_text(text, encoding="utf-8")
    p2 = desk.new(reporter="普通用户", priority="P2", system="财务系统")
    vip = desk.new(reporter="钱总", priority="P4", system="OA系统")
    assert desk.json("show", vip)["key_user"] is True
    assert [t["id"] for t in desk.json("list")] == [vip, p2]
    refused = desk.run(
        "new", "--title", "x", "--type", "request", "--reporter", "r", "--system", "游戏平台"
    )
    assert refused.exit_code == 2 and "not in the service scope" in refused.stderr
    forced = desk.ok(
        "new",
        "--title",
        "x",
        "--type",
        "request",
        "--reporter",
        "r",
        "--system",
        "游戏平台",
        "--force",
    )
    assert forced.stdout.strip().startswith("INC-")


def test_backfill_rules(desk: Desk) -> None:
    now = "2026-11-23T10:00:00+08:00"
    p1 = desk.ok(
        "new",
        "--title",
        "核心交换机宕机",
        "--type",
        "failure",
        "--reporter",
        "监控",
        "--priority",
        "P1",
        "--opened-at",
        "2026-11-23T08:30",
        now=now,
    ).stdout.strip()
    shown = desk.json("show", p1)
    assert shown["opened_at"] == "2026-11-23T08:30:00+08:00"
    created = shown["events"][0]
    assert created["backfill"] is True and created["recorded_at"] == "2026-11-23T10:00:00+08:00"
    assert p1.startswith("INC-261123-")
    refused = desk.run(
        "new",
        "--title",
        "x",
        "--type",
        "failure",
        "--reporter",
        "r",
        "--priority",
        "P3",
        "--opened-at",
        "2026-11-23T08:30",
        now=now,
    )
    assert refused.exit_code == 2 and "--reason" in refused.stderr
    desk.ok(
        "new",
        "--title",
        "x",
        "--type",
        "failure",
        "--reporter",
        "r",
        "--priority",
        "P3",
        "--opened-at",
        "2026-11-23T08:30",
        "--reason",
        "电话记录补录",
        now=now,
    )


def test_edit_records_changes_and_needs_reason_for_priority(desk: Desk) -> None:
    tid = desk.new(priority="P3")
    no_reason = desk.run("edit", tid, "--priority", "P2", now="2026-11-23T10:10:00+08:00")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    desk.ok(
        "edit",
        tid,
        "--priority",
        "P2",
        "--reason",
        "影响扩大",
        "--location",
        "5楼",
        now="2026-11-23T10:10:00+08:00",
    )
    shown = desk.json("show", tid)
    assert shown["priority"] == "P2" and shown["location"] == "5楼"
    edited = shown["events"][-1]
    assert edited["type"] == "edited"
    assert edited["changes"] == {"priority": ["P3", "P2"], "location": [None, "5楼"]}
    assert edited["reason"] == "影响扩大"
    desk.ok("edit", tid, "--phone", "13900000000", now="2026-11-23T10:11:00+08:00")
    assert desk.json("show", tid)["reporter"]["phone"] == "13900000000"


def test_command_never_commits_unrelated_staged_changes(desk: Desk) -> None:
    tid = desk.new()
    (desk.root / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    desk.git("add", "notes.txt")
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    assert "notes.txt" not in desk.git("show", "--name-only", "--format=", "HEAD")
    assert desk.git("status", "--porcelain").strip() == "A  notes.txt"


def test_screening_paths(desk: Desk) -> None:
    a = desk.new()
    desk.ok("reject", a, "--reason", "个人设备不在服务范围", now="2026-11-23T10:05:00+08:00")
    desk.ok("transfer", a, "--reason", "客户坚持", now="2026-11-23T10:10:00+08:00")
    assert desk.json("show", a)["status"] == "pm_review"
    desk.ok("accept", a, user="项目经理-赵六", now="2026-11-23T10:20:00+08:00")
    assert desk.json("show", a)["status"] == "in_progress"
    b = desk.new()
    desk.ok("redirect", b, "--to", "change", now="2026-11-23T10:05:00+08:00")
    assert desk.json("show", b)["status"] == "redirected"


def test_reopen_and_vendor(desk: Desk) -> None:
    tid = desk.new()
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    desk.ok(
        "escalate",
        tid,
        "--tier",
        "vendor",
        "--to",
        "用友",
        "--due",
        "2026-11-24 12:00",
        "--reason",
        "需原厂分析",
        now="2026-11-23T10:30:00+08:00",
    )
    shown = desk.json("show", tid)
    assert shown["tier"] == "vendor" and shown["vendor"] == "用友"
    assert shown["vendor_due"] == "2026-11-24T12:00:00+08:00"
    desk.ok("resolve", tid, "--solution", "补丁", now="2026-11-23T12:00:00+08:00")
    desk.ok("reopen", tid, "--reason", "问题复现", now="2026-11-23T13:00:00+08:00")
    shown = desk.json("show", tid)
    assert shown["status"] == "in_progress" and shown["resolved_at"] is None
    assert shown["reopened"] == 1
    desk.ok("resolve", tid, "--solution", "补丁2", now="2026-11-23T15:00:00+08:00")
    assert desk.json("show", tid)["resolved_at"] == "2026-11-23T15:00:00+08:00"


def test_visit_books_appointment(desk: Desk) -> None:
    tid = desk.new()
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    desk.ok("visit", tid, "--at", "2026-11-24 14:00", now="2026-11-23T10:30:00+08:00")
    assert desk.json("show", tid)["visit_at"] == "2026-11-24T14:00:00+08:00"


def test_list_filters_and_table(desk: Desk) -> None:
    a = desk.new(priority="P1", system="网络")
    b = desk.new(priority="P3", system="OA系统")
    desk.ok("accept", b, now="2026-11-23T10:05:00+08:00")
    desk.ok("resolve", b, "--solution", "x", now="2026-11-23T10:06:00+08:00")
    assert [t["id"] for t in desk.json("list", "--open")] == [a]
    assert [t["id"] for t in desk.json("list", "--closed")] == [b]
    assert [t["id"] for t in desk.json("list", "--system", "OA系统")] == [b]
    assert desk.json("list", "--since", "2026-11-24") == []
    table = desk.ok("list", now="2026-11-23T12:00:00+08:00").stdout
    assert a in table and "网络" not in table and "财务系统无法登录" in table


def test_log_shows_history(desk: Desk) -> None:
    tid = desk.new()
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    out = desk.ok("log", tid).stdout
    assert f"{tid}: accepted" in out and f"{tid}: registered" in out


def test_store_discovery_from_a_subdirectory(desk: Desk, elinkctl_bin: str, tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "ELINKCTL_STORE"}
    env.update(ELINKCTL_USER="desk-wang", ELINKCTL_NOW="2026-11-23T10:00:00+08:00")
    proc = subprocess.run(
        [elinkctl_bin, "new", "--title", "网络慢", "--type", "failure", "--reporter", "张三"],
        cwd=desk.root / "tickets",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    tid = proc.stdout.strip()
    assert desk.ticket_path(tid).exists()
    nowhere = subprocess.run(
        [elinkctl_bin, "list"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert nowhere.returncode == 1 and "no store found" in nowhere.stderr


def test_actor_falls_back_to_git_user(desk: Desk) -> None:
    result = desk.runner.invoke(
        __import__("elinkctl.cli", fromlist=["cli"]).cli,
        ["new", "--title", "x", "--type", "request", "--reporter", "r"],
        env={"ELINKCTL_STORE": str(desk.root), "ELINKCTL_NOW": "2026-11-23T10:00:00+08:00"},
    )
    assert result.exit_code == 0, result.output
    assert desk.git("log", "-1", "--format=%an").strip() == "Test Runner"


def test_every_command_has_help(desk: Desk) -> None:
    from elinkctl.cli import COMMANDS

    for name in COMMANDS:
        result = desk.run(name, "--help")
        assert result.exit_code == 0, name
        assert "Usage:" in result.stdout
    from elinkctl.cli import HIDDEN

    top = desk.run("--help")
    assert all(name in top.stdout for name in COMMANDS if name not in HIDDEN)
    assert "merge-file" not in top.stdout


def test_interrupted_article_commit_is_recovered(desk: Desk) -> None:
    """A `kb add` killed after writing its file is committed by the next command."""
    import json as _json

    from elinkctl.store.store import Store

    tid = desk.new()
    store = Store(desk.root)
    article = desk.root / "knowledge" / "KB-7KQ2M.md"
    article.write_text(
        "---\nid: KB-7KQ2M\ntitle: 打印机卡纸\nsystems: []\nmodules: []\nkeywords: []\n"
        "symptom: 卡纸\nincidents: []\nauthor: 小王\ncreated: 2026-11-23\nreviewed:\n---\n\n"
        "## 现象\n\n卡纸\n\n## 原因\n\n-\n\n## 解决方案\n\n取出卡纸\n\n## 临时措施\n\n-\n",
        encoding="utf-8",
    )
    store.journal_path.parent.mkdir(parents=True, exist_ok=True)
    store.journal_path.write_text(
        _json.dumps(
            {"paths": ["knowledge/KB-7KQ2M.md"], "message": "KB-7KQ2M: added", "author": "小王"}
        ),
        encoding="utf-8",
    )
    desk.ok("accept", tid, now="2026-11-23T10:05:00+08:00")
    log = desk.git("log", "--format=%an|%s", "-3").splitlines()
    assert log[1] == "小王|KB-7KQ2M: added (recovered after interruption)"
    assert desk.git("status", "--porcelain") == ""
    # A journal naming anything else is discarded, never committed.
    (desk.root / "evil.txt").write_text("x", encoding="utf-8")
    store.journal_path.write_text(
        _json.dumps({"paths": ["evil.txt"], "message": "m", "author": "a"}), encoding="utf-8"
    )
    desk.ok("comment", tid, "-m", "x", now="2026-11-23T10:06:00+08:00")
    assert "evil.txt" not in desk.git("log", "--name-only", "--format=", "-3")
