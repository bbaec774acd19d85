"""How long `elinkctl verify` takes on a 100-commit push to a 100,000-ticket store.

The target (issue 15): at most 2 s for the pre-receive hook's whole check.
Builds the push without touching the bench store: a temporary bare
repository borrows the store's objects (``objects/info/alternates``) and
gets 100 new commits on top of its HEAD, each one step on one ticket (a
comment, as `elinkctl comment` writes it, by the commit's author at the
commit's time), made with plumbing into a temporary index. Then times
``elinkctl verify BASE..TIP`` as a fresh process, median of five runs.

    .venv/bin/python scripts/bench_verify.py [STORE] [--commits N]

STORE defaults to bench-stores/s100000 (`make bench` builds it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from elinkctl.domain import lifecycle, ticketfile
from elinkctl.store.trees import parse_batch

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "elinkctl"
START = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TARGET = 2.0
AUTHORS = ("小王", "李四", "王五", "赵六")


def git(repo: Path, *args: str, stdin: bytes | None = None, **env: str) -> bytes:
    full = dict(os.environ, GIT_DIR=str(repo), **env)
    return subprocess.run(
        ["git", *args], input=stdin, env=full, capture_output=True, check=True
    ).stdout


def build_push(store: Path, repo: Path, commits: int) -> tuple[str, str]:
    """``commits`` commits on top of the store's HEAD in ``repo``: (base, tip)."""
    objects = Path(git(store / ".git", "rev-parse", "--git-path", "objects").decode().strip())
    if not objects.is_absolute():
        objects = store / ".git" / objects
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    (repo / "objects" / "info" / "alternates").write_text(f"{objects.resolve()}\n")
    base = git(store / ".git", "rev-parse", "HEAD").decode().strip()
    paths = git(repo, "ls-tree", "-r", "--name-only", base, "--", "tickets").decode().split()
    paths = [p for p in paths if p.endswith(".yaml")]
    rng = random.Random(15)
    chosen = rng.sample(paths, commits)
    names = "".join(f"{base}:{p}\n" for p in chosen).encode()
    blobs = parse_batch(git(repo, "cat-file", "--batch", stdin=names), commits)
    index = str(repo / "bench-index")
    git(repo, "read-tree", base, GIT_INDEX_FILE=index)
    parent = base
    for i, (path, blob) in enumerate(zip(chosen, blobs, strict=True)):
        assert blob is not None
        ticket = ticketfile.loads(blob[2].decode("utf-8"))
        when = max(START, ticket.events[-1].at) + dt.timedelta(minutes=i + 1)
        author = AUTHORS[i % len(AUTHORS)]
        text = f"bench step {i}"
        change = lifecycle.record(ticket, "commented", author, when, when, text, text=text)
        oid = git(
            repo, "hash-object", "-w", "--stdin", stdin=ticketfile.dumps(change.ticket).encode()
        )
        git(repo, "update-index", "--cacheinfo", f"100644,{oid.decode().strip()},{path}",
            GIT_INDEX_FILE=index)  # fmt: skip
        tree = git(repo, "write-tree", GIT_INDEX_FILE=index).decode().strip()
        stamp = f"@{int(when.timestamp())} +0800"
        env = {
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": "bench@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        message = change.message.encode()
        parent = git(repo, "commit-tree", tree, "-p", parent, stdin=message, **env).decode().strip()
    return base, parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default=str(ROOT / "bench-stores" / "s100000"))
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    store = Path(args.store).resolve()
    if not (store / ".git").is_dir():
        sys.exit(f"{store}: no bench store (run `make bench` once to build it)")
    with tempfile.TemporaryDirectory(prefix="elinkctl-bench-verify-") as tmp:
        repo = Path(tmp) / "push.git"
        started = time.perf_counter()
        base, tip = build_push(store, repo, args.commits)
        print(
            f"built {args.commits} commits in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ELINKCTL_", "GIT_"))}
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            proc = subprocess.run(
                [str(BIN), "--store", str(repo), "verify", "--json", f"{base}..{tip}"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - started)
            if proc.returncode != 0:
                sys.exit(f"verify failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
            checked = json.loads(proc.stdout)["commits"]
            if checked != args.commits:
                sys.exit(f"verify checked {checked} commits, not {args.commits}")
    tickets = len(list((store / "tickets").rglob("*.yaml")))
    median = statistics.median(times)
    verdict = "ok" if median <= TARGET else "OVER TARGET"
    print(
        f"verify of a {args.commits}-commit push on a {tickets:,}-ticket store: "
        f"median {median:.2f} s of {args.runs} runs (min {min(times):.2f} s; "
        f"target ≤ {TARGET:.0f} s) {verdict}"
    )


if __name__ == "__main__":
    main()
