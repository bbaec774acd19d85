"""SIGKILL writers at random moments; the next command recovers, nothing
acknowledged is lost, nothing is doubled, fsck and git fsck pass."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from gitfixtures import ELINKCTL, env_for, fsck_clean, git, run, tickets

ROUNDS = 18
WRITERS = 3
NOW = "2026-11-23T12:00:00+08:00"


def test_sigkilled_writers_lose_no_acknowledged_event(tmp_path: Path) -> None:
    store = tmp_path / "desk"
    run(tmp_path, "init", str(store))
    ticket_id = run(
        store,
        "new",
        "--title",
        "被杀的写入",
        "--type",
        "failure",
        "--reporter",
        "张三",
        now="2026-11-23T10:00:00+08:00",
    ).stdout.strip()
    rng = random.Random(20261123)
    acknowledged: list[str] = []
    attempted: list[str] = []
    for rnd in range(ROUNDS):
        procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        for w in range(WRITERS):
            text = f"r{rnd}-w{w}"
            attempted.append(text)
            proc = subprocess.Popen(
                [*ELINKCTL, "comment", ticket_id, "-m", text],
                env=env_for(store, f"eng{w}", NOW),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: git children can die too
            )
            procs.append((text, proc))
        time.sleep(rng.uniform(0.15, 1.0))
        victims = rng.sample(procs, rng.randint(1, WRITERS - 1))
        for n, (_, proc) in enumerate(victims):
            try:
                if (rnd + n) % 2:
                    os.killpg(proc.pid, signal.SIGKILL)  # the command and its git child
                else:
                    os.kill(proc.pid, signal.SIGKILL)  # the command only; git runs on
            except ProcessLookupError:
                pass
        for text, proc in procs:
            if proc.wait(timeout=60) == 0:
                acknowledged.append(text)
    run(store, "comment", ticket_id, "-m", "after the massacre", now=NOW)
    acknowledged.append("after the massacre")
    ticket = tickets(store)[ticket_id]
    found = Counter(str(e.get("text")) for e in ticket.events if e.type == "commented")
    assert all(found[text] == 1 for text in acknowledged), (acknowledged, found)
    assert all(count == 1 for count in found.values())
    assert set(found) <= {*attempted, "after the massacre"}
    # some writers were really killed, some really finished
    assert len(acknowledged) < len(attempted) + 1 and len(acknowledged) > ROUNDS // 2
    fsck_clean(store)
    assert not (store / ".git" / "index.lock").exists()
    assert not (store / ".git" / "elinkctl" / "journal.json").exists()
    git(store, "fsck", "--no-progress")
    # every event on disk is in a commit: the working file equals HEAD
    assert git(store, "diff", "HEAD", "--stat") == ""


def _crash_scene(tmp_path: Path, scene: str) -> tuple[Path, str]:
    """A store left exactly as a command killed at one point of a write leaves it."""
    import json

    from elinkctl.domain import lifecycle, ticketfile
    from elinkctl.store.store import Store

    root = tmp_path / "desk"
    run(tmp_path, "init", str(root))
    ticket_id = run(
        root,
        "new",
        "--title",
        "现场",
        "--type",
        "failure",
        "--reporter",
        "张三",
        now="2026-11-23T10:00:00+08:00",
    ).stdout.strip()
    store = Store(root)
    path = store.path_of(ticket_id)
    rel = store.rel(path)
    ticket = store.load(ticket_id)
    when = ticket.opened_at
    changed = lifecycle.record(ticket, "commented", "eng", when, when, "c", text="killed").ticket
    journal = {"paths": [rel], "message": f"{ticket_id}: comment", "author": "eng", "email": None}
    state = store.state_dir
    state.mkdir(parents=True, exist_ok=True)
    if scene == "journal-half-written":
        (state / f".journal.json.{os.getpid()}.tmp").write_text('{"paths": [', encoding="utf-8")
        return root, ""
    (state / "journal.json").write_text(json.dumps(journal), encoding="utf-8")
    if scene == "ticket-half-written":
        (path.parent / f".{path.name}.4242.tmp").write_text("schema: 1\nid: INC", encoding="utf-8")
        return root, ""
    path.write_text(ticketfile.dumps(changed), encoding="utf-8")
    if scene == "renamed-not-committed":
        (root / ".git" / "index.lock").write_text("", encoding="utf-8")  # git killed too
        return root, "killed"
    # inside git commit: HEAD moved, the index was never written
    git(root, "commit", "--quiet", "--only", "-m", "c", "--", rel)
    git(root, "read-tree", "HEAD~1")
    return root, "killed"


def test_each_crash_point_is_recovered_by_the_next_command(tmp_path: Path) -> None:
    scenes = [
        "journal-half-written",
        "ticket-half-written",
        "renamed-not-committed",
        "head-moved-index-stale",
    ]
    for scene in scenes:
        root, survivor = _crash_scene(tmp_path / scene, scene)
        ticket_id = next(iter(tickets(root)))
        run(root, "comment", ticket_id, "-m", "next", now=NOW)
        found = Counter(
            str(e.get("text")) for e in tickets(root)[ticket_id].events if e.type == "commented"
        )
        assert found == Counter(["next", survivor] if survivor else ["next"]), scene
        fsck_clean(root)
        assert not list((root / ".git" / "elinkctl").glob(".*.tmp")), scene
        assert git(root, "status", "--porcelain") == "", scene
