"""`sync` SIGKILLed at random moments (issue 18 item 8): inside the fetch,
the merge (its checkout, the merge driver, the merge commit), the collision
repair or the push. The next command recovers like after any killed writer:
no modified or untracked file is left that would make every later `sync`
fail ("local changes would be overwritten") while fsck says fine; nothing
committed is lost; the clones converge.

Real subprocesses on real git (a bare remote and clones), killed with
SIGKILL — sometimes the command alone, sometimes its whole process group
(git and the merge driver too)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from gitfixtures import ELINKCTL, env_for, fsck_clean, git, run, shared_desk, tickets

T0 = "2026-11-23T10:00:00+08:00"
ROUNDS = 8


def _alerts(prefix: str, n: int) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": f"{prefix}{i}", "instance": f"{prefix}-host{i}"},
            "annotations": {"summary": f"{prefix} alert {i}"},
            "startsAt": "2026-11-23T01:00:00Z",
            "fingerprint": f"{prefix}{i:012d}",
        }
        for i in range(n)
    ]
    return json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()


def _ingest(store: Path, data: bytes, user: str) -> list[str]:
    proc = subprocess.run(
        [*ELINKCTL, "ingest", "alert"],
        input=data,
        env=env_for(store, user, T0),
        capture_output=True,
        check=True,
    )
    return proc.stdout.decode().split()


def _clean(store: Path) -> None:
    assert git(store, "status", "--porcelain", "--untracked-files=all") == "", git(
        store, "status", "--porcelain", "--untracked-files=all"
    )
    assert not (store / ".git" / "MERGE_HEAD").exists()
    assert not (store / ".git" / "index.lock").exists()


def test_sync_killed_at_random_moments_recovers(tmp_path: Path) -> None:
    shared = shared_desk(tmp_path, 2)
    a, b = shared.clones
    shared_id = run(
        a, "new", "--title", "两边都改", "--type", "failure", "--reporter", "张三", now=T0
    ).stdout.strip()
    run(a, "sync", now=T0)
    run(b, "sync", now=T0)
    rng = random.Random(20261202)

    def prepare(rnd: int) -> None:
        # The other clone brings many new tickets and an edit of a shared one;
        # this clone has its own edit: a real merge with the merge driver.
        _ingest(b, _alerts(f"r{rnd}b", 150), "desk-b")
        run(b, "comment", shared_id, "-m", f"b {rnd}", user="desk-b", now=T0)
        run(b, "sync", user="desk-b", now=T0)
        if rnd % 3 != 2:
            run(a, "comment", shared_id, "-m", f"a {rnd}", now=T0)  # else a fast-forward

    # Kill moments are fractions of how long one such sync takes on this
    # machine, so they land inside the sync on a fast machine and a loaded one.
    prepare(ROUNDS)
    started = time.monotonic()
    run(a, "sync", now=T0)
    span = time.monotonic() - started
    killed = 0
    for rnd in range(ROUNDS):
        prepare(rnd)
        proc = subprocess.Popen(
            [*ELINKCTL, "sync"],
            env=env_for(a, "desk-wang", T0),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.05, 0.9) * span)
        if proc.poll() is None:
            killed += 1
            if rnd % 2:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        # The next command recovers; sync then works, and nothing is left over.
        after = run(a, "sync", "--json", now=T0, check=False)
        report = json.loads(after.stdout)
        assert report["ok"], (rnd, report, after.stderr)
        _clean(a)
        fsck_clean(a)
    assert killed >= ROUNDS // 2, killed  # most rounds really were killed mid-sync
    run(b, "sync", user="desk-b", now=T0)
    ta, tb = tickets(a), tickets(b)
    assert set(ta) == set(tb)
    texts = [str(e.get("text")) for e in ta[shared_id].events if e.type == "commented"]
    assert sorted(texts) == sorted(set(texts))  # nothing doubled
    assert {f"b {r}" for r in range(ROUNDS + 1)} <= set(texts)
    git(a, "fsck", "--no-progress")


def test_a_merge_killed_in_its_checkout_leaves_nothing_behind(tmp_path: Path) -> None:
    """The state a merge killed while writing files leaves: some files of the
    other side written, others not, git's index not updated (its lock left)."""
    shared = shared_desk(tmp_path, 2)
    a, b = shared.clones
    new_ids = _ingest(b, _alerts("x", 20), "desk-b")
    run(b, "sync", user="desk-b", now=T0)
    run(a, "new", "--title", "本地", "--type", "failure", "--reporter", "李四", now=T0)
    before = git(a, "rev-parse", "HEAD")
    git(a, "fetch", "--quiet", "origin")
    target = git(a, "rev-parse", "origin/main")
    # Half a checkout: the other side's files for half of the new tickets.
    for tid in new_ids[:10]:
        rel = f"tickets/20{tid[4:6]}/{tid[6:8]}/{tid}.yaml"
        (a / rel).parent.mkdir(parents=True, exist_ok=True)
        (a / rel).write_text(git(a, "show", f"{target}:{rel}") + "\n", encoding="utf-8")
    (a / ".git" / "index.lock").write_text("", encoding="utf-8")
    (a / ".git" / "elinkctl" / "merging").write_text(f"{before}\n{target}\n", encoding="utf-8")
    report = json.loads(run(a, "sync", "--json", now=T0, check=False).stdout)
    assert report["ok"], report
    _clean(a)
    fsck_clean(a)
    assert set(new_ids) <= set(tickets(a))
