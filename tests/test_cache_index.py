"""The ticket index (`elinkctl.cache.index`), its facts and folds give the
same answers as reading every file, whatever state they are in: fresh,
stale (hand edits, checkouts, pulls, deletions), missing or corrupt. The
reference answers come from the same commands with the index switched off
(the parsing fallback)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from generate import generate
from tests.conftest import Desk

from elinkctl.cache.facts import Facts
from elinkctl.cache.folds import FoldCache
from elinkctl.domain.kpi import DIMENSIONS
from elinkctl.domain.model import Ticket
from elinkctl.errors import StoreError
from elinkctl.store.store import Store

NOW = "2026-11-20T12:00:00+08:00"
NOW_DT = dt.datetime.fromisoformat(NOW)
COMMANDS: list[tuple[str, ...]] = [
    ("list",),
    ("list", "--json"),
    ("list", "--open", "--json"),
    ("list", "--closed", "--priority", "P3", "--json"),
    ("list", "--status", "pending"),
    ("list", "--key-user", "--since", "2026-10-01", "--json"),
    ("stats", "--json"),
    ("stats", "--by", "priority", "--json"),
    ("check", "--dry-run", "--json"),
]


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def answers(desk: Desk) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cmd in COMMANDS:
        result = desk.run(*cmd, now=NOW)
        out[" ".join(cmd)] = (result.exit_code, result.stdout, result.stderr)
    store = Store(desk.root)
    out["open_ids"] = store.open_ids()
    return out


def assert_same(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Indexed answers equal the answers with the index switched off."""
    indexed = answers(desk)
    with monkeypatch.context() as m:

        def no_index(self: Store) -> Any:
            raise StoreError("index switched off")

        m.setattr(Store, "index", no_index)
        reference = answers(desk)
    for key in reference:
        assert indexed[key] == reference[key], key
    return indexed


@pytest.fixture
def gen_desk(desk: Desk) -> Desk:
    """A store of generated tickets (the init commit of `desk` plus 80 tickets)."""
    shutil.rmtree(desk.root)
    generate(
        desk.root,
        80,
        3,
        open_count=12,
        seed=7,
        now=NOW_DT,
        actor="gen",
        processes=1,
        progress=False,
    )
    return desk


def some_ticket(root: Path, status: str = "closed") -> Path:
    for path in sorted((root / "tickets").glob("*/*/INC-*.yaml")):
        if f"\nstatus: {status}\n" in path.read_text(encoding="utf-8"):
            return path
    raise AssertionError(f"no {status} ticket")


def index_of(root: Path) -> Path:
    return root / ".git" / "elinkctl" / "index.sqlite"


def test_fresh_and_warm(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    first = assert_same(gen_desk, monkeypatch)
    assert index_of(gen_desk.root).exists()
    assert len(first["open_ids"]) == 12
    store = Store(gen_desk.root)
    store.index().refresh()
    assert store.index().reread == 0  # warm: nothing parsed


def test_hand_edit_unstaged_and_staged(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(gen_desk, monkeypatch)
    path = some_ticket(gen_desk.root, "in_progress")
    text = path.read_text(encoding="utf-8")
    old_title = text.split("\ntitle: ", 1)[1].split("\n", 1)[0]
    path.write_text(
        text.replace(f"\ntitle: {old_title}\n", "\ntitle: 手工修改的标题\n"), encoding="utf-8"
    )
    got = assert_same(gen_desk, monkeypatch)
    assert "手工修改的标题" in got["list --open --json"][1]
    git(gen_desk.root, "add", str(path))
    assert "手工修改的标题" in assert_same(gen_desk, monkeypatch)["list"][1]


def test_same_size_edit_within_a_second_is_seen(gen_desk: Desk) -> None:
    """An edit that keeps the size is caught even right after indexing (racy stat)."""
    path = some_ticket(gen_desk.root, "in_progress")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("status: in_progress", "status: in_progresz"), encoding="utf-8")
    store = Store(gen_desk.root)
    assert store.summaries()  # indexes the dirty file
    swap = ("tier: l1", "tier: l2") if "tier: l1" in text else ("tier: l2", "tier: l1")
    path.write_text(text.replace(*swap), encoding="utf-8")  # the same size
    again = Store(gen_desk.root)
    assert again.index().key_of(again.rel(path)) is not None
    assert {s.id: s.state.tier for s in again.summaries()}[path.stem] == Store(
        gen_desk.root
    ).load_path(path).state.tier


def test_checkout_of_an_older_commit(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = gen_desk.new(now=NOW)
    gen_desk.ok("accept", ticket, now=NOW)
    assert ticket in assert_same(gen_desk, monkeypatch)["open_ids"]
    git(gen_desk.root, "checkout", "-q", "HEAD~2")
    got = assert_same(gen_desk, monkeypatch)
    assert ticket not in got["open_ids"]
    git(gen_desk.root, "checkout", "-q", "main")
    assert ticket in assert_same(gen_desk, monkeypatch)["open_ids"]


def test_pull_adding_and_changing_tickets(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert_same(gen_desk, monkeypatch)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(gen_desk.root), str(clone))
    other = Desk(clone, gen_desk.runner)
    new_id = other.new(now=NOW)
    existing = some_ticket(clone, "in_progress").stem
    other.ok("comment", existing, "-m", "来自另一台机器", now=NOW)
    other.ok("pend", existing, "--reason", "等待用户", now=NOW)
    git(gen_desk.root, "pull", "-q", "--no-rebase", str(clone), "main")
    got = assert_same(gen_desk, monkeypatch)
    assert new_id in got["open_ids"]
    assert existing in got["list --status pending"][1]


def test_deleted_tickets(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(gen_desk, monkeypatch)
    one = some_ticket(gen_desk.root, "in_progress")
    one.unlink()  # deleted in the work tree only
    got = assert_same(gen_desk, monkeypatch)
    assert one.stem not in got["open_ids"]
    two = some_ticket(gen_desk.root, "closed")
    git(gen_desk.root, "rm", "-q", str(two))
    assert two.stem not in assert_same(gen_desk, monkeypatch)["list --json"][1]


def test_untracked_and_broken_files(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(gen_desk, monkeypatch)
    src = some_ticket(gen_desk.root, "pending")
    copy = src.with_name(src.stem[:-5] + "ZZZZZ.yaml")
    copy.write_text(src.read_text(encoding="utf-8").replace(src.stem, copy.stem), encoding="utf-8")
    broken = some_ticket(gen_desk.root, "closed")
    broken.write_text("schema: 1\nid: [unclosed\n", encoding="utf-8")
    got = assert_same(gen_desk, monkeypatch)
    assert copy.stem in got["open_ids"]
    assert "warning:" in got["list"][2] and broken.name in got["list"][2]


def test_missing_and_corrupt_database(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    first = assert_same(gen_desk, monkeypatch)
    db = index_of(gen_desk.root)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert assert_same(gen_desk, monkeypatch) == first
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database \x00\xff" * 300)
    assert assert_same(gen_desk, monkeypatch) == first
    assert db.read_bytes().startswith(b"SQLite format 3")


def test_index_used_by_resolve_id(gen_desk: Desk) -> None:
    store = Store(gen_desk.root)
    some = some_ticket(gen_desk.root).stem
    assert store.resolve_id(some[-5:].lower()) == some
    assert store.resolve_id(some) == some
    # An alias (old ID kept after a collision repair) resolves to the ticket.
    path = some_ticket(gen_desk.root, "pending")
    alias = path.stem[:-5] + "AAAAA"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(f"id: {path.stem}\n", f"id: {path.stem}\naliases:\n- {alias}\n"),
        encoding="utf-8",
    )
    assert Store(gen_desk.root).resolve_id(alias) == path.stem


def test_facts_computed_only_for_changed_tickets(gen_desk: Desk) -> None:
    calls: list[str] = []

    def compute(ticket: Ticket) -> dict[str, Any]:
        calls.append(ticket.id)
        return {"events": len(ticket.events), "status": str(ticket.status)}

    def facts(version: str) -> dict[str, dict[str, Any]]:
        return Facts(Store(gen_desk.root).index(), "demo", version, compute).by_id()

    first = facts("v1")
    assert len(first) == 80 and len(calls) == 80
    calls.clear()
    assert facts("v1") == first
    assert calls == []
    path = some_ticket(gen_desk.root, "in_progress")
    gen_desk.ok("comment", path.stem, "-m", "一条备注", now=NOW)
    again = facts("v1")
    assert calls == [path.stem]
    assert again[path.stem]["events"] == first[path.stem]["events"] + 1
    calls.clear()
    facts("v2")  # new version: recomputed
    assert len(calls) == 80


def test_store_iter_facts_falls_back_without_index(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    compute: Callable[[Ticket], dict[str, Any]] = lambda t: {"id": t.id}  # noqa: E731
    indexed = list(Store(gen_desk.root).iter_facts("ids", "1", compute))

    def no_index(self: Store) -> Any:
        raise StoreError("off")

    monkeypatch.setattr(Store, "index", no_index)
    assert list(Store(gen_desk.root).iter_facts("ids", "1", compute)) == indexed


# --- stats: cached folds per month directory ------------------------------------------

STATS_COMMANDS: list[tuple[str, ...]] = [
    ("stats",),
    ("stats", "--json"),
    ("stats", "--csv"),
    *[("stats", "--by", dim, "--json") for dim in DIMENSIONS],
    ("stats", "--by", "month", "--csv"),
    ("stats", "--since", "2026-09-01", "--until", "2026-10-31", "--json"),
    ("stats", "--since", "2026-10", "--by", "week", "--csv"),
    ("stats", "--closed", "--priority", "P3", "--json"),
    ("stats", "--open", "--by", "tier", "--json"),
]


def stats_answers(desk: Desk, now: str = NOW) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cmd in STATS_COMMANDS:
        result = desk.run(*cmd, now=now)
        out[" ".join(cmd)] = (result.exit_code, result.stdout, result.stderr)
    return out


def assert_stats_same(desk: Desk, monkeypatch: pytest.MonkeyPatch, now: str = NOW) -> None:
    """Twice with the index (folds made, then reused) equals the answers without it."""
    first = stats_answers(desk, now)
    second = stats_answers(desk, now)
    with monkeypatch.context() as m:

        def no_index(self: Store) -> Any:
            raise StoreError("index switched off")

        m.setattr(Store, "index", no_index)
        reference = stats_answers(desk, now)
    for key in reference:
        assert first[key] == reference[key], key
        assert second[key] == reference[key], key


def count_folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the month directories folded afresh (not taken from the cache):
    every fresh fold is handed to `FoldCache.put`."""
    folded: list[str] = []
    original = FoldCache.put

    def spy(self: FoldCache[Any], shard: str, gen: str, fold: Any) -> None:
        folded.append(shard)
        original(self, shard, gen, fold)

    monkeypatch.setattr(FoldCache, "put", spy)
    return folded


def test_stats_folds_reused_and_refolded_per_month(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_stats_same(gen_desk, monkeypatch)
    folded = count_folds(monkeypatch)
    gen_desk.ok("stats", "--json", now=NOW)
    assert folded == []  # warm: every month from the cache
    # A hand edit in the oldest month (a closed ticket, so its fold is cached).
    oldest_month = sorted((gen_desk.root / "tickets").glob("*/*"))[0]
    closed = next(
        path
        for path in sorted(oldest_month.glob("INC-*.yaml"))
        if "\nstatus: closed\n" in path.read_text(encoding="utf-8")
    )
    month = closed.parent
    text = closed.read_text(encoding="utf-8")
    prio = "P1" if "\npriority: P1\n" not in text else "P2"
    closed.write_text(re.sub(r"\npriority: P\d\n", f"\npriority: {prio}\n", text), "utf-8")
    past = time.time() - 60  # not racily new: the index trusts its stat data from now on
    os.utime(closed, (past, past))
    gen_desk.ok("stats", "--json", now=NOW)
    assert folded == [str(month.relative_to(gen_desk.root))]
    assert_stats_same(gen_desk, monkeypatch)
    # Another "now": the open incidents are folded afresh, the months are reused.
    folded.clear()
    assert_stats_same(gen_desk, monkeypatch, now="2027-03-01T09:00:00+08:00")
    assert folded == []


def test_stats_after_pull_and_rules_change(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert_stats_same(gen_desk, monkeypatch)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(gen_desk.root), str(clone))
    other = Desk(clone, gen_desk.runner)
    other.new(now=NOW)
    other.new(now="2026-11-19T08:00:00+08:00", priority="P1")
    other.ok("resolve", some_ticket(clone, "in_progress").stem, "--solution", "重启", now=NOW)
    git(gen_desk.root, "pull", "-q", "--no-rebase", str(clone), "main")
    assert_stats_same(gen_desk, monkeypatch)
    sla = gen_desk.root / "sla.yaml"
    sla.write_text(sla.read_text(encoding="utf-8").replace("4h", "1h"), encoding="utf-8")
    folded = count_folds(monkeypatch)
    assert_stats_same(gen_desk, monkeypatch)
    assert folded  # new rules: new facts, every month refolded


def test_stats_corrupt_or_missing_folds(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_stats_same(gen_desk, monkeypatch)
    db = sqlite3.connect(index_of(gen_desk.root))
    assert db.execute("SELECT count(*) FROM partials").fetchone()[0] > 0
    db.execute("UPDATE partials SET data = x'80049500'")
    db.commit()
    assert_stats_same(gen_desk, monkeypatch)
    db.execute("DELETE FROM shards")  # folds unreachable, months without a generation
    db.execute("DELETE FROM meta WHERE name LIKE 'facts:%'")
    db.execute("DELETE FROM facts WHERE rowid % 3 = 0")
    db.commit()
    db.close()
    assert_stats_same(gen_desk, monkeypatch)


def test_stats_open_tickets_folded_afresh(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change to a ticket that stays open refolds no month; settling it does."""
    assert_stats_same(gen_desk, monkeypatch)
    folded = count_folds(monkeypatch)
    ticket = some_ticket(gen_desk.root, "in_progress")
    gen_desk.ok("comment", ticket.stem, "-m", "还在处理", now=NOW)
    assert_stats_same(gen_desk, monkeypatch)
    assert folded == []
    gen_desk.ok("resolve", ticket.stem, "--solution", "重启服务", now=NOW)
    gen_desk.ok("stats", "--json", now=NOW)
    assert folded == [str(ticket.parent.relative_to(gen_desk.root))]
    assert_stats_same(gen_desk, monkeypatch)


def test_stats_folds_a_passed_vendor_due_time_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A closed incident whose vendor never answered depends on "now" only
    until the due time: the month is folded with it kept aside before then,
    refolded once after, and refolded again only if "now" goes back."""

    def at(hhmm: str) -> str:
        return f"2026-11-23T{hhmm}:00+08:00"

    tid = desk.new(now=at("10:00"), urgency="high", impact="medium")
    desk.ok("accept", tid, now=at("10:02"))
    desk.ok("assign", tid, "--to", "李四", "--tier", "l1", now=at("10:05"))
    desk.ok(
        *("escalate", tid, "--tier", "vendor", "--to", "华为", "--reason", "需原厂分析"),
        *("--due", at("14:00")),
        user="王五",
        now=at("10:30"),
    )
    desk.ok("resolve", tid, "--solution", "二线自行解决", user="王五", now=at("13:00"))
    desk.ok("confirm", tid, now=at("13:05"))
    desk.ok("close", tid, now=at("13:10"))
    month = str(next((desk.root / "tickets").glob("*/*")).relative_to(desk.root))
    folded = count_folds(monkeypatch)
    assert_stats_same(desk, monkeypatch, now=at("13:30"))  # before the due time
    queries = len(folded)  # one fold of the month per distinct query
    assert queries and set(folded) == {month}
    assert desk.json("stats", now=at("13:30"))["vendors"][0]["pending"] == 1
    folded.clear()
    assert_stats_same(desk, monkeypatch, now=at("14:00"))  # due: late for good
    refolded = len(folded)  # the queries whose filter keeps the incident, once each
    assert 0 < refolded < queries and set(folded) == {month}
    assert desk.json("stats", now=at("14:00"))["vendors"][0]["late"] == 1
    folded.clear()
    assert_stats_same(desk, monkeypatch, now="2027-06-01T09:00:00+08:00")
    assert folded == []  # any later "now": from the cache
    assert_stats_same(desk, monkeypatch, now=at("13:30"))  # back in time: refolded
    assert folded == [month] * refolded
