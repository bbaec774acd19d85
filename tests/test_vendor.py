"""The vendor's reply deadline, the promised handling time and the redirect
reference (issue 13 items 2 and 4), through the CLI on real git stores."""

from __future__ import annotations

from typing import Any

from conftest import Desk

DAY = "2026-11-23T"
TZ = "+08:00"


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}{hhmm}:00{TZ}"


def with_vendor(desk: Desk, vendor: str = "用友", due: str | None = "12:00", **fields: str) -> str:
    """A P2 opened at 10:00, with l1 李四 at 10:05, escalated to ``vendor`` by l2 at 10:30."""
    tid = desk.new(now=at("10:00"), urgency="high", impact="medium", **fields)
    desk.ok("accept", tid, now=at("10:02"))
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", now=at("10:05"))
    args = ["escalate", tid, "--tier", "vendor", "--to", vendor, "--reason", "需原厂分析"]
    if due:
        args += ["--due", at(due)]
    desk.ok(*args, user="王五", now=at("10:30"))
    return tid


def refused(desk: Desk, *args: str, now: str, expect: str, user: str = "desk-wang") -> None:
    """Exit 1 with one ``Error:`` line naming ``expect``, and nothing committed."""
    before = desk.commit_count()
    result = desk.run(*args, now=now, user=user)
    assert result.exit_code == 1, result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expect in lines[0], lines[0]
    assert desk.commit_count() == before


def events(desk: Desk, tid: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in desk.json("show", tid)["events"] if e["type"] == type_]


# --- replied ----------------------------------------------------------------------------


def test_replied_records_the_vendors_answer_and_stops_its_clock(desk: Desk) -> None:
    tid = with_vendor(desk)
    before = desk.commit_count()
    result = desk.ok("replied", tid, "-m", "补丁已提供，今晚安装", user="王五", now=at("11:30"))
    assert "reply from 用友 recorded" in result.stderr
    assert desk.commit_count() == before + 1
    assert desk.git("log", "-1", "--format=%an").strip() == "王五"
    shown = desk.json("show", tid)
    assert shown["vendor"] == "用友"
    assert shown["vendor_replied_at"] == at("11:30")
    [ev] = events(desk, tid, "replied")
    assert ev["by"] == "王五" and ev["text"] == "补丁已提供，今晚安装"
    card = desk.ok("show", tid, now=at("11:40")).stdout
    assert "replied 2026-11-23 11:30" in card


def test_replied_after_the_due_time_says_so(desk: Desk) -> None:
    tid = with_vendor(desk)
    result = desk.ok("replied", tid, "-m", "晚了", now=at("13:00"))
    assert "after its due time" in result.stderr


def test_replied_is_refused_without_a_vendor_escalation(desk: Desk) -> None:
    tid = desk.new(now=at("10:00"))
    desk.ok("accept", tid, now=at("10:02"))
    refused(desk, "replied", tid, "-m", "?", now=at("10:10"), expect="not escalated to a vendor")
    desk.ok("escalate", tid, "--tier", "l2", "--to", "王五", "--reason", "x", now=at("10:20"))
    refused(desk, "replied", tid, "-m", "?", now=at("10:30"), expect="not escalated to a vendor")


def test_replied_is_refused_before_the_vendor_escalation(desk: Desk) -> None:
    tid = with_vendor(desk)
    refused(
        desk,
        "replied",
        tid,
        "-m",
        "早于升级",
        "--at",
        at("10:20"),
        now=at("11:00"),
        expect="before the vendor escalation",
    )


def test_replied_twice_is_refused_until_the_next_vendor_escalation(desk: Desk) -> None:
    tid = with_vendor(desk)
    desk.ok("replied", tid, "-m", "第一次答复", now=at("11:00"))
    refused(desk, "replied", tid, "-m", "again", now=at("11:10"), expect="already recorded")
    # Recorded later but dated earlier, it would still be the same escalation's second reply.
    refused(
        desk,
        "replied",
        tid,
        "-m",
        "again",
        "--at",
        at("10:45"),
        now=at("11:10"),
        expect="already recorded",
    )
    desk.ok(
        "escalate",
        tid,
        *("--tier", "vendor", "--to", "华为", "--due", at("16:00"), "--reason", "换厂商"),
        now=at("12:00"),
    )
    desk.ok("replied", tid, "-m", "华为答复", now=at("12:30"))
    shown = desk.json("show", tid)
    assert shown["vendor"] == "华为" and shown["vendor_replied_at"] == at("12:30")
    assert len(events(desk, tid, "replied")) == 2


def test_replied_needs_a_text(desk: Desk) -> None:
    tid = with_vendor(desk)
    assert desk.run("replied", tid, now=at("11:00")).exit_code == 2
    assert desk.run("replied", tid, "-m", "  ", now=at("11:00")).exit_code == 2


# --- escalate --due ---------------------------------------------------------------------


def test_a_vendor_due_time_in_the_past_is_refused(desk: Desk) -> None:
    tid = desk.new(now=at("10:00"))
    desk.ok("accept", tid, now=at("10:02"))
    esc = ("escalate", tid, "--tier", "vendor", "--to", "用友", "--reason", "x")
    refused(desk, *esc, "--due", at("09:00"), now=at("10:30"), expect="--due")
    refused(desk, *esc, "--due", "10:29", now=at("10:30"), expect="is in the past")
    # Measured against --at, the time the escalation happened, not now.
    refused(desk, *esc, "--due", "10:10", "--at", "10:20", now=at("10:30"), expect="in the past")
    desk.ok(*esc, "--due", "10:25", "--at", "10:20", now=at("10:30"))
    assert desk.json("show", tid)["vendor_due"] == at("10:25")


# --- accept --promise -------------------------------------------------------------------


def test_accept_promise_is_recorded_and_shown(desk: Desk) -> None:
    tid = desk.new(now=at("10:00"))
    desk.ok("accept", tid, "--promise", at("18:00"), "--note", "用户同意", now=at("10:05"))
    shown = desk.json("show", tid)
    assert shown["promise_at"] == at("18:00")
    [ev] = events(desk, tid, "accepted")
    assert ev["promise"] == at("18:00") and ev["note"] == "用户同意"
    assert "promised   2026-11-23 18:00" in desk.ok("show", tid, now=at("11:00")).stdout
    assert "(passed)" in desk.ok("show", tid, now=at("19:00")).stdout
    [row] = desk.json("list", now=at("11:00"))
    assert row["promise_at"] == at("18:00")
    listed = desk.ok("list", now=at("19:00")).stdout
    assert "promise" in listed.splitlines()[0] and "11-23 18:00 !" in listed
    # Tickets without a promise keep the familiar table.
    other = desk.new(now=at("10:00"), title="另一个")
    assert desk.json("list", "--status", "new", now=at("11:00"))[0]["id"] == other
    assert "promise" not in desk.ok("list", "--status", "new", now=at("11:00")).stdout


def test_a_promise_in_the_past_is_refused(desk: Desk) -> None:
    tid = desk.new(now=at("10:00"))
    refused(
        desk,
        "accept",
        tid,
        "--promise",
        at("09:30"),
        now=at("10:05"),
        expect="--promise 2026-11-23T09:30:00+08:00 is in the past",
    )
    refused(
        desk,
        "accept",
        tid,
        "--promise",
        "10:30",
        "--at",
        "10:40",
        now=at("11:00"),
        expect="is in the past",
    )
    assert desk.json("show", tid)["status"] == "new"


# --- redirect --ref ---------------------------------------------------------------------


def test_redirect_records_the_reference(desk: Desk) -> None:
    tid = desk.new(now=at("10:00"), type="request")
    result = desk.ok(
        "redirect", tid, "--to", "change", "--ref", "CHG-2026-031", "--reason", "变更流程"
    )
    assert "(CHG-2026-031)" in result.stderr
    shown = desk.json("show", tid)
    assert shown["status"] == "redirected" and shown["ref"] == "CHG-2026-031"
    [ev] = events(desk, tid, "redirected")
    assert ev["to"] == "change" and ev["ref"] == "CHG-2026-031"
    card = desk.ok("show", tid).stdout
    assert "ref        CHG-2026-031" in card and "change process CHG-2026-031" in card


# --- stats -------------------------------------------------------------------------------


def vendors(desk: Desk, now: str, *args: str) -> dict[str, dict[str, Any]]:
    out = desk.json("stats", *args, now=now)
    return {v["vendor"]: v for v in out["vendors"]}


def test_stats_reports_vendor_reply_timeliness(desk: Desk) -> None:
    timely = with_vendor(desk, "用友", due="12:00")
    desk.ok("replied", timely, "-m", "及时", now=at("11:59"))
    late = with_vendor(desk, "用友", due="12:00")
    desk.ok("replied", late, "-m", "晚了", now=at("12:01"))
    silent = with_vendor(desk, "华为", due="14:00")
    undated = with_vendor(desk, "华为", due=None)
    # Resolved (and closed) without the vendor's answer: still judged against its due time.
    desk.ok("resolve", silent, "--solution", "二线自行解决", user="王五", now=at("13:00"))
    desk.ok("confirm", silent, now=at("13:05"))
    desk.ok("close", silent, now=at("13:10"))
    desk.ok("replied", undated, "-m", "无期限的答复", now=at("13:20"))

    before = vendors(desk, at("13:30"))
    assert before == {
        "用友": {
            "vendor": "用友",
            "escalations": 2,
            "timely": 1,
            "late": 1,
            "pending": 0,
            "rate": 0.5,
        },
        "华为": {
            "vendor": "华为",
            "escalations": 2,
            "timely": 0,
            "late": 0,
            "pending": 1,
            "rate": None,
        },
    }
    # The same store later: the unanswered escalation's due time has passed
    # (a cached fold of the settled ticket must not keep it pending).
    after = vendors(desk, at("14:00"))
    assert after["华为"]["pending"] == 0 and after["华为"]["late"] == 1
    assert after["华为"]["rate"] == 0.0
    assert after["用友"] == before["用友"]
    # The existing keys stay.
    out = desk.json("stats", now=at("14:00"))
    for key in ("total", "response", "resolution", "targets", "escalations", "kb_reuse"):
        assert key in out
    assert [v["vendor"] for v in out["vendors"]] == sorted(["用友", "华为"])
    text = desk.ok("stats", now=at("14:00")).stdout
    assert "vendor replies" in text and "用友 1/1/0 50.0%" in text
    assert "Vendor reply timeliness" in desk.ok("stats", "--explain").stdout


def test_stats_by_assignee_credits_the_resolver_not_the_vendor(desk: Desk) -> None:
    resolved = with_vendor(desk, "用友")
    desk.ok("replied", resolved, "-m", "补丁", now=at("11:00"))
    desk.ok("resolve", resolved, "--solution", "打补丁", user="赵六", now=at("12:00"))
    still_with_vendor = with_vendor(desk, "华为")
    plain = desk.new(now=at("10:00"))
    desk.ok("accept", plain, now=at("10:02"))
    desk.ok("assign", plain, "--to", "钱七", "--tier", "l1", now=at("10:05"))
    desk.ok("resolve", plain, "--solution", "重启", user="desk-wang", now=at("11:00"))

    by = desk.json("stats", "--by", "assignee", now=at("13:00"))["by"]
    assert set(by) == {"赵六", "李四", "钱七"}
    assert by["赵六"]["total"] == 1 and by["赵六"]["resolution"]["timely"] == 1
    assert by["李四"]["total"] == 1  # with 华为 now: it counts for whoever held it before
    assert by["钱七"]["total"] == 1  # no vendor: the assignee, as before
    assert "用友" not in by and "华为" not in by
    assert desk.json("show", still_with_vendor)["assignee"] == "华为"
    assert desk.json("stats", "--assignee", "赵六", now=at("13:00"))["total"] == 1
    assert set(vendors(desk, at("13:00"))) == {"用友", "华为"}
