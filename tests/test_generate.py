"""The store generator: realistic, valid (fsck-clean), exactly K open, deterministic."""

from __future__ import annotations

import collections
import datetime as dt
import subprocess
from pathlib import Path

from generate import build_ticket, generate, main, make_plan

from elinkctl.domain.model import OPEN_STATUSES
from elinkctl.services.fsck import check_store
from elinkctl.store.store import Store
from elinkctl.timeutil import zone

NOW = dt.datetime.fromisoformat("2026-11-20T12:00:00+08:00")


def test_generated_store_is_valid_and_committed(tmp_path: Path) -> None:
    root = tmp_path / "s"
    made = generate(
        root, 300, 6, open_count=25, seed=3, now=NOW, actor="生成器", processes=1, progress=False
    )
    store = Store(root)
    problems, count = check_store(store)
    assert problems == [] and count == 300
    tickets = list(store.iter_tickets())
    assert sorted(t.id for t in tickets) == sorted(made)
    assert sum(t.is_open for t in tickets) == 25
    assert all(e.at <= NOW for t in tickets for e in t.events)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    assert status == ""
    author = subprocess.run(
        ["git", "log", "-1", "--format=%an"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert author == "生成器"
    oldest = min(t.opened_at for t in tickets)
    assert NOW - oldest > dt.timedelta(days=150)


def test_mixes_are_realistic() -> None:
    tz = zone("Asia/Shanghai")
    plans = make_plan(3000, 12, 100, seed=11, now=NOW, tz=tz)
    tickets = [build_ticket(p, NOW, tz) for p in plans]
    share = collections.Counter(t.priority for t in tickets)
    assert 0.01 < share["P1"] / 3000 < 0.06
    assert 0.40 < share["P3"] / 3000 < 0.60
    statuses = collections.Counter(str(t.status) for t in tickets)
    assert sum(n for s, n in statuses.items() if s in OPEN_STATUSES) == 100
    rejected = statuses["rejected"] + statuses["redirected"]
    assert 0.015 < rejected / 3000 < 0.05
    kinds = collections.Counter(e.type for t in tickets for e in t.events)
    for kind in ("reopened", "complained", "callback", "pended", "escalated", "escalation"):
        assert kinds[kind] > 0, kind
    assert {t.fields.get("system") for t in tickets} >= {"财务系统", "OA系统", "ERP", "VPN"}
    assert any(t.fields.get("key_user") for t in tickets)


def test_deterministic_for_a_seed() -> None:
    tz = zone("Asia/Shanghai")
    a = [build_ticket(p, NOW, tz) for p in make_plan(50, 3, 5, seed=5, now=NOW, tz=tz)]
    b = [build_ticket(p, NOW, tz) for p in make_plan(50, 3, 5, seed=5, now=NOW, tz=tz)]
    assert a == b


def test_the_command_publishes_the_index_as_a_check_host_would(tmp_path: Path) -> None:
    """`scripts/generate.py` ends as a desk's night does: the index is published
    on `elinkctl-index` (a clone's first command starts from it); not with
    ``--no-publish``."""

    def published(root: Path) -> bool:
        listed = subprocess.run(
            ["git", "branch", "--list", "elinkctl-index"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return "elinkctl-index" in listed.stdout

    now = ["--now", "2026-11-20T12:00:00+08:00"]
    args = ["--tickets", "40", "--months", "2", "--open", "5", "--processes", "1", *now]
    assert main([str(tmp_path / "published"), *args]) == 0
    assert published(tmp_path / "published")
    assert main([str(tmp_path / "bare"), *args, "--no-publish"]) == 0
    assert not published(tmp_path / "bare")
