"""The check plan cache (`elinkctl.cache.plan`) never changes what `check`
finds, only how much it reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import Desk
from elinkctl import cache
from elinkctl.cache.plan import PLAN_FILE, PlanCache

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


# --- the plan file itself (elinkctl.cache.plan) ------------------------------------------


def test_plan_entries_are_kept_per_content_key_and_version(tmp_path: Path) -> None:
    path = tmp_path / "state" / PLAN_FILE
    due = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
    horizon = due + dt.timedelta(days=3)
    plan = PlanCache(path, "rules-1")
    plan.put("tickets/2026/11/a.yaml", "b:1", due, horizon)
    plan.put("tickets/2026/11/b.yaml", "b:2", None, horizon)
    plan.save({"tickets/2026/11/a.yaml", "tickets/2026/11/b.yaml"})
    again = PlanCache(path, "rules-1")
    assert again.get("tickets/2026/11/a.yaml", "b:1") == (due, horizon)
    assert again.get("tickets/2026/11/b.yaml", "b:2") == (None, horizon)
    assert again.get("tickets/2026/11/a.yaml", "b:9") is None  # the file changed
    assert PlanCache(path, "rules-2").get("tickets/2026/11/a.yaml", "b:1") is None
    # Tickets no longer open are dropped; an unchanged plan is not rewritten.
    again.save({"tickets/2026/11/a.yaml"})
    assert list(PlanCache(path, "rules-1").entries) == ["tickets/2026/11/a.yaml"]
    before = path.stat().st_mtime_ns
    PlanCache(path, "rules-1").save({"tickets/2026/11/a.yaml"})
    assert path.stat().st_mtime_ns == before


def test_plan_format_version_discards_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / PLAN_FILE
    plan = PlanCache(path, "v")
    plan.put("p", "k", None, dt.datetime(2026, 11, 20, tzinfo=TZ))
    plan.save({"p"})
    monkeypatch.setattr(cache, "FORMAT_VERSION", "next")
    assert PlanCache(path, "v").entries == {}


def test_unwritable_plan_is_only_slower(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    plan = PlanCache(blocked / PLAN_FILE, "v")
    plan.put("p", "k", None, dt.datetime(2026, 11, 20, tzinfo=TZ))
    plan.save({"p"})  # no error
    assert plan.get("p", "k") is not None
