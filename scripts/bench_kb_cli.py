#!/usr/bin/env python3
"""Benchmark `elinkctl kb search` end to end, through the installed CLI.

    .venv/bin/python scripts/bench_kb_cli.py [--articles 2000] [--tickets 10000] [--runs 7]
                                             [--keep DIR]

Builds a throwaway store (`elinkctl init`) holding synthetic articles
(knowledge/*.md) and resolved incidents (tickets/YYYY/MM/*.yaml) from the
generator of scripts/bench_kb.py, commits them once, then times as
medians of --runs separate processes:

- cold: no cache (kb-index.bin, kb-docs.json, kb-stamp removed): read every file,
  build, write the cache, answer;
- warm: the cache is fresh: one directory scan, load, answer;
- touched: one ticket file changed since the cache was written (what the
  first search after a `close` or `comment` pays): re-read that file only,
  re-stamp the cache (the index is not rewritten);
- `new` with and without suggestions, and `new` when an incident was
  resolved since the last one (the suggestion index reads and adds it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_kb import synthetic_articles, synthetic_tickets  # noqa: E402

from elinkctl import yamlio  # noqa: E402
from elinkctl.domain import ids  # noqa: E402
from elinkctl.kb import Article, new_article_id, render_article  # noqa: E402

ELINKCTL = str(ROOT / ".venv" / "bin" / "elinkctl")
QUERY = "财务系统登录失败 提示证书错误"


def _ticket_yaml(
    tid: str,
    title: str,
    system: str,
    module: str,
    description: str,
    solution: str,
    opened: dt.datetime,
) -> str:
    resolved = opened + dt.timedelta(hours=2)
    data = {
        "schema": 1,
        "id": tid,
        "title": title,
        "type": "failure",
        "priority": "P3",
        "status": "resolved",
        "tier": "desk",
        "assignee": "desk-wang",
        "opened_at": opened,
        "responded_at": opened,
        "resolved_at": resolved,
        "reporter": {"name": "张三"},
        "system": system,
        "module": module,
        "description": description,
        "events": [
            {
                "id": "e1",
                "at": opened,
                "by": "desk-wang",
                "type": "created",
                "priority": "P3",
                "incident_type": "failure",
            },
            {"id": "e2", "at": opened, "by": "desk-wang", "type": "accepted"},
            {
                "id": "e3",
                "at": resolved,
                "by": "desk-wang",
                "type": "resolved",
                "solution": solution,
            },
        ],
    }
    return yamlio.dump(data)


def make_store(root: Path, n_articles: int, n_tickets: int) -> None:
    env = dict(os.environ, ELINKCTL_USER="bench")
    subprocess.run([ELINKCTL, "init", str(root)], check=True, capture_output=True, env=env)
    rng = random.Random(2026)
    tz = dt.timezone(dt.timedelta(hours=8))
    taken: set[str] = set()
    for doc in synthetic_articles(n_articles, rng):
        art_id = new_article_id(taken, rng)
        taken.add(art_id)
        symptom = doc.text.split("\n\n", 2)[1].split("。")[0]
        art = Article(
            id=art_id,
            title=doc.title,
            systems=list(doc.systems),
            modules=list(doc.modules),
            keywords=list(doc.keywords),
            symptom=symptom,
            author="bench",
            created=dt.date(2026, 1, 5),
            body=doc.text,
        )
        (root / "knowledge" / f"{art_id}.md").write_text(render_article(art), encoding="utf-8")
    seen: set[str] = set()
    for i, doc in enumerate(synthetic_tickets(n_tickets, rng)):
        opened = dt.datetime(2025, 1, 1, 9, tzinfo=tz) + dt.timedelta(hours=7 * i)
        tid = ids.new_id(opened.date(), seen, lambda n: rng.randrange(n))
        seen.add(tid)
        description, solution = doc.text.rsplit("\n", 1)
        path = root / "tickets" / f"{opened:%Y}" / f"{opened:%m}" / f"{tid}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            _ticket_yaml(
                tid, doc.title, doc.systems[0], doc.modules[0], description, solution, opened
            ),
            encoding="utf-8",
        )
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench data"], check=True)


def run_out(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run([ELINKCTL, *args], check=True, capture_output=True, env=env, text=True)
    return proc.stdout.strip()


def run_ms(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([ELINKCTL, *args], check=True, capture_output=True, env=env)
    return 1000 * (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--tickets", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="Build the store here and keep it.")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="elinkctl-bench-"))
    root = base / "store"
    try:
        t0 = time.perf_counter()
        make_store(root, args.articles, args.tickets)
        print(
            f"store: {args.articles} articles + {args.tickets} resolved incidents "
            f"({time.perf_counter() - t0:.1f} s to generate)"
        )
        env = dict(os.environ, ELINKCTL_STORE=str(root), ELINKCTL_USER="bench")
        state = root / ".git" / "elinkctl"
        search = ["kb", "search", QUERY, "--json"]

        def drop_cache() -> None:
            for name in ("kb-index.bin", "kb-docs.json", "kb-stamp"):
                (state / name).unlink(missing_ok=True)

        cold = []
        for _ in range(max(3, args.runs // 2)):
            drop_cache()
            cold.append(run_ms(search, env))
        warm = [run_ms(search, env) for _ in range(args.runs)]
        touched = []
        one = next((root / "tickets").rglob("*.yaml"))
        for _ in range(args.runs):
            os.utime(one)  # a changed ticket: new mtime, same searchable text
            touched.append(run_ms(search, env))
        help_ms = [run_ms(["--help"], env) for _ in range(args.runs)]
        size = (state / "kb-index.bin").stat().st_size / 1e6
        print(f"kb search, cold (no cache)      {statistics.median(cold):8.0f} ms")
        print(f"kb search, warm (cached)        {statistics.median(warm):8.0f} ms")
        print(f"kb search, one ticket changed   {statistics.median(touched):8.0f} ms")
        print(f"elinkctl --help (start-up)      {statistics.median(help_ms):8.0f} ms")
        print(f"index cache {size:.1f} MB")
        new = [
            "new",
            "--title",
            "财务系统登录失败",
            "--type",
            "failure",
            "--reporter",
            "张三",
            "--system",
            "财务系统",
            "--description",
            "提示证书错误",
        ]
        with_s, without, resolved = [], [], []
        for _ in range(args.runs):  # interleaved: both see the same machine
            with_s.append(run_ms(new, env))
            without.append(run_ms([*new, "--no-suggest"], env))
        for _ in range(args.runs):
            # An incident resolved since the last `new`: its suggestions read and
            # add that one document (the whole index is not loaded).
            tid = run_out([*new, "--no-suggest"], env)
            run_out(["resolve", tid, "--solution", "更新认证服务证书"], env)
            resolved.append(run_ms(new, env))
        print(f"new (with suggestions)          {statistics.median(with_s):8.0f} ms")
        print(f"new --no-suggest                {statistics.median(without):8.0f} ms")
        print(f"new, one incident resolved since {statistics.median(resolved):7.0f} ms")
        suggest_db = state / "kb-suggest.sqlite"
        if suggest_db.exists():
            print(f"suggestion index {suggest_db.stat().st_size / 1e6:.1f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
