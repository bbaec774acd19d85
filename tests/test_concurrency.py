"""Many elinkctl processes at once: nothing lost, nothing doubled, git stays sane."""

from __future__ import annotations

import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitfixtures import fsck_clean, git, run, shared_desk, spawn, tickets

NOW = "2026-11-23T12:00:00+08:00"
WORKERS = 8
EACH = 6


def _new(store: Path, title: str) -> str:
    return run(
        store,
        "new",
        "--title",
        title,
        "--type",
        "failure",
        "--reporter",
        "张三",
        now="2026-11-23T10:00:00+08:00",
    ).stdout.strip()


def _comment_loop(store: Path, ticket_id: str, worker: int, count: int) -> list[int]:
    codes = []
    for k in range(count):
        proc = run(
            store,
            "comment",
            ticket_id,
            "-m",
            f"w{worker}-{k}",
            user=f"eng{worker}",
            now=NOW,
            check=False,
        )
        codes.append(proc.returncode)
    return codes


def _texts(store: Path, ticket_id: str) -> Counter[str]:
    ticket = tickets(store)[ticket_id]
    return Counter(str(e.get("text")) for e in ticket.events if e.type == "commented")


def test_parallel_comments_on_one_ticket_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    store = tmp_path / "desk"
    run(tmp_path, "init", str(store))
    ticket_id = _new(store, "并发评论")
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda w: _comment_loop(store, ticket_id, w, EACH), range(WORKERS)))
    assert all(code == 0 for codes in results for code in codes)
    expected = Counter(f"w{w}-{k}" for w in range(WORKERS) for k in range(EACH))
    assert _texts(store, ticket_id) == expected
    ticket = tickets(store)[ticket_id]
    assert len({e.id for e in ticket.events}) == len(ticket.events)
    # one command, one commit, each authored by its actor
    authors = Counter(git(store, "log", "--format=%an", "--", "tickets").split("\n"))
    assert all(authors[f"eng{w}"] == EACH for w in range(WORKERS))
    fsck_clean(store)


def test_clones_sync_at_the_same_time_while_writers_run(tmp_path: Path) -> None:
    desk = shared_desk(tmp_path, clones=3)
    a = desk.clones[0]
    ticket_id = _new(a, "同时同步")
    run(a, "sync")
    for clone in desk.clones[1:]:
        run(clone, "sync")
    expected: Counter[str] = Counter()
    for rnd in range(2):
        for i, clone in enumerate(desk.clones):
            text = f"r{rnd}-c{i}"
            run(clone, "comment", ticket_id, "-m", text, user=f"eng{i}", now=NOW)
            expected[text] += 1
        syncs = [spawn(clone, "sync", now=NOW) for clone in desk.clones]
        writers = [
            spawn(clone, "comment", ticket_id, "-m", f"r{rnd}-live{i}", user=f"eng{i}", now=NOW)
            for i, clone in enumerate(desk.clones)
        ]
        for proc in [*syncs, *writers]:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        expected.update(f"r{rnd}-live{i}" for i in range(len(desk.clones)))
    for _ in range(2):
        for clone in desk.clones:
            run(clone, "sync")
    for clone in desk.clones:
        assert _texts(clone, ticket_id) == expected
        fsck_clean(clone)
    trees = {git(clone, "rev-parse", "HEAD^{tree}") for clone in desk.clones}
    assert len(trees) == 1
    assert (
        subprocess.run(
            ["git", "fsck", "--no-progress"], cwd=desk.remote, capture_output=True
        ).returncode
        == 0
    )
