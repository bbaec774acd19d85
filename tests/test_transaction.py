"""Store.transaction, the one way to change the store, on a real git store."""

from __future__ import annotations

import pytest

from conftest import Desk
from elinkctl.domain import lifecycle
from elinkctl.errors import StoreBusy, StoreError
from elinkctl.store.store import Store
from gitfixtures import git

NOW = "2026-11-23T10:00:00+08:00"


def _commits(desk: Desk) -> int:
    return len(git(desk.root, "log", "--format=%s").splitlines())


def test_an_exception_inside_writes_nothing(desk: Desk) -> None:
    ticket_id = desk.new()
    store = Store(desk.root)
    before = store.path_of(ticket_id).read_bytes()
    commits = _commits(desk)
    with pytest.raises(RuntimeError), store.transaction("小王") as tx:
        ticket = tx.find(ticket_id)
        change = lifecycle.record(
            ticket, "commented", "小王", ticket.opened_at, ticket.opened_at, "c", text="x"
        )
        tx.put(change.ticket)
        raise RuntimeError("the step failed half-way")
    assert store.path_of(ticket_id).read_bytes() == before
    assert _commits(desk) == commits
    assert git(desk.root, "status", "--porcelain") == ""


def test_staged_but_not_committed_is_a_bug_that_writes_nothing(desk: Desk) -> None:
    ticket_id = desk.new()
    store = Store(desk.root)
    before = store.path_of(ticket_id).read_bytes()
    with pytest.raises(StoreError, match="uncommitted changes"), store.transaction("小王") as tx:
        tx.put(tx.find(ticket_id))
    assert store.path_of(ticket_id).read_bytes() == before


def test_each_commit_is_one_commit_by_the_actor(desk: Desk) -> None:
    first, second = desk.new(), desk.new()
    store = Store(desk.root)
    commits = _commits(desk)
    with store.transaction("李四") as tx:
        for n, ticket_id in enumerate((first, second)):
            ticket = tx.find(ticket_id)
            at = ticket.opened_at
            tx.put(lifecycle.record(ticket, "commented", "李四", at, at, "c", text=str(n)).ticket)
            tx.commit(f"{ticket_id}: commented")
    assert _commits(desk) == commits + 2
    assert tx.commits == [f"{first}: commented", f"{second}: commented"]
    assert git(desk.root, "log", "-2", "--format=%an").split() == ["李四", "李四"]
    assert git(desk.root, "status", "--porcelain") == ""


def test_a_staged_ticket_is_read_back_and_its_id_is_taken(desk: Desk) -> None:
    ticket_id = desk.new()
    store = Store(desk.root)
    with store.transaction("小王") as tx:
        ticket = tx.load(ticket_id)
        at = ticket.opened_at
        changed = lifecycle.record(ticket, "commented", "小王", at, at, "c", text="1").ticket
        tx.put(changed)
        assert tx.load(ticket_id) == changed
        assert ticket_id in tx.taken
        assert "INC-261123-ZZZZZ" not in tx.taken
        assert "not an id" not in tx.taken
        tx.commit("c")


def test_only_tickets_and_articles_can_be_staged(desk: Desk) -> None:
    store = Store(desk.root)
    with store.transaction("小王") as tx:
        with pytest.raises(StoreError, match="not a ticket or article path"):
            tx.put_file(desk.root / "sla.yaml", "evil: true\n")
        assert tx.staged == []


def test_cron_does_not_wait_for_a_held_lock(desk: Desk) -> None:
    holder = Store(desk.root)
    with holder.locked():
        with pytest.raises(StoreBusy), Store(desk.root).transaction("elinkctl-check", wait=False):
            pass  # pragma: no cover - never entered


def test_commits_are_dated_at_elinkctl_now(desk: Desk) -> None:
    """DESIGN §8: under ELINKCTL_NOW the commits a command makes are dated then."""
    ticket_id = desk.new(now="2026-11-23T10:00:00+08:00")
    assert git(desk.root, "log", "-1", "--format=%aI %cI").split() == [
        "2026-11-23T10:00:00+08:00",
        "2026-11-23T10:00:00+08:00",
    ]
    desk.ok("accept", ticket_id, now="2026-11-24T09:30:00+08:00")
    assert git(desk.root, "log", "-1", "--format=%aI").strip() == "2026-11-24T09:30:00+08:00"
