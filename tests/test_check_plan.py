"""The check plan cache never changes what `check` finds, only how much it reads."""

from __future__ import annotations

import datetime as dt
import json

from conftest import Desk

TZ = dt.timezone(dt.timedelta(hours=8))


def findings(doc: dict) -> set[tuple[str, ...]]:
    out = set()
    for kind in ("escalations", "sla_warnings", "sla_breaches"):
        for f in doc[kind]:
            out.add((kind, f["ticket"], str(f.get("role") or f.get("clock")), str(f.get("after"))))
    return out


def test_plan_cache_agrees_with_a_full_scan_over_days(desk: Desk) -> None:
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=TZ)  # a Friday: weekends and business hours
    ids = {p: desk.new(now=start.isoformat(), priority=p) for p in ("P1", "P2", "P3", "P4")}
    plan = desk.root / ".git" / "elinkctl" / "check-plan.json"
    actions = {
        3: ("accept", ids["P3"]),
        4: ("accept", ids["P4"]),
        5: ("pend", ids["P4"]),
        9: ("resume", ids["P4"]),
        12: ("accept", ids["P2"]),
        20: ("resolve", ids["P2"]),
        26: ("reopen", ids["P2"]),
    }
    extra = {
        "pend": ["--reason", "等用户"],
        "resolve": ["--solution", "x"],
        "reopen": ["--reason", "又坏了"],
    }
    now = start
    step_minutes = [10] * 30 + [60] * 20 + [600] * 10
    for step, minutes in enumerate(step_minutes):
        now += dt.timedelta(minutes=minutes)
        if step in actions:
            cmd, tid = actions[step]
            desk.ok(cmd, tid, *extra.get(cmd, []), now=now.isoformat())
        kept = plan.read_bytes() if plan.exists() else None
        plan.unlink(missing_ok=True)
        truth = json.loads(desk.ok("check", "--dry-run", "--json", now=now.isoformat()).stdout)
        if kept is not None:
            plan.write_bytes(kept)
        real = json.loads(desk.ok("check", "--json", now=now.isoformat()).stdout)
        assert findings(real) == findings(truth), f"step {step} at {now}"
    # The plan was in use: it lists the still-open tickets.
    entries = json.loads(plan.read_text(encoding="utf-8"))["entries"]
    assert len(entries) == 4  # all still open (P2 was reopened)


def test_corrupt_plan_is_rebuilt(desk: Desk) -> None:
    tid = desk.new(now="2026-11-23T10:00:00+08:00", priority="P3")
    desk.ok("check", now="2026-11-23T10:05:00+08:00")
    plan = desk.root / ".git" / "elinkctl" / "check-plan.json"
    plan.write_text("{not json", encoding="utf-8")
    out = desk.ok("check", now="2026-11-23T10:31:00+08:00").stdout
    assert tid in out and "30m" in out
    assert "entries" in json.loads(plan.read_text(encoding="utf-8"))
    assert desk.ok("check", now="2026-11-23T10:32:00+08:00").stdout == ""
    assert tid in json.loads(plan.read_text(encoding="utf-8"))["entries"].popitem()[0]
