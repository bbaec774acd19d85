"""`new` and `assign` with notifications configured, against a bare commit.

    .venv/bin/python scripts/bench_notices.py [STORE] [ROUNDS]

STORE (default: a clone of bench-stores/s100000 under /tmp, made once) gets
people, roles, a mail channel and a WeCom robot in its escalation.yaml, so
every `new` queues the reporter's acknowledgement and every `assign` the
assignee's mail and robot post. Each round times, as fresh processes: a bare
``git add && git commit`` of one file, `new` (P4), `assign` (a P3 ticket),
`assign` with ``notices: {assigned: []}`` (nothing queued), alternating, and
prints the medians and the ratios. Delivery is not timed: it is `check`'s
(see docs/check-and-notifications.md); a P1 (send_now) is not used.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "elinkctl"
NOW = "2026-11-20T12:00:00+08:00"


def run(store: Path, *args: str) -> float:
    env = {**os.environ, "ELINKCTL_STORE": str(store), "ELINKCTL_USER": "bench"}
    env.update(ELINKCTL_NOW=NOW, WECOM_WEBHOOK="http://127.0.0.1:9/cgi-bin/webhook/send?key=k")
    start = time.perf_counter()
    done = subprocess.run([str(BIN), *args], env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args}: {done.stderr.decode()[-400:]}")
    return elapsed


def git(store: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=store, check=True, capture_output=True)


def configure(store: Path, notices: dict[str, object] | None) -> None:
    path = store / "escalation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["roles"] = {
        "desk": ["bench"],
        "l1": ["张伟", "王强"],
        "l2": [],
        "pm": [],
        "management": [],
    }
    data["people"] = {
        "bench": {"email": "bench@example.com"},
        "王五": {"email": "wangwu@customer.example"},
        "张伟": {"email": "zhangwei@example.com", "channels": ["ops-wecom"]},
        "王强": {"email": "wangqiang@example.com", "channels": ["ops-wecom"]},
    }
    data["channels"] = {
        "mail": {"type": "smtp", "host": "127.0.0.1", "port": 9, "from": "desk@example.com"},
        "ops-wecom": {"type": "wecom", "url": "${WECOM_WEBHOOK}"},
    }
    data.pop("notices", None)
    if notices is not None:
        data["notices"] = notices
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def main() -> int:
    store = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/elinkctl-bench-notices")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    if not (store / ".git").is_dir():
        source = ROOT / "bench-stores" / "s100000"
        if store.exists():
            shutil.rmtree(store)
        git(ROOT, "clone", "-q", "--local", str(source), str(store))
    run(store, "list", "--open")  # the index, once
    target = next(
        line.split()[0]
        for line in subprocess.run(
            [
                str(BIN),
                "--store",
                str(store),
                "list",
                "--status",
                "in_progress",
                "--priority",
                "P3",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "ELINKCTL_NOW": NOW},
        ).stdout.splitlines()
        if line.startswith("INC-")
    )
    bare_dir = store / "bench-bare"
    bare_dir.mkdir(exist_ok=True)
    times: dict[str, list[float]] = {"bare": [], "new": [], "assign": [], "assign, no notice": []}
    for i in range(rounds):
        (bare_dir / "note.txt").write_text(f"{time.time()} {i}\n", encoding="utf-8")
        start = time.perf_counter()
        git(store, "add", "--", "bench-bare/note.txt")
        git(store, "commit", "-q", "-m", "bare", "--", "bench-bare/note.txt")
        times["bare"].append(time.perf_counter() - start)
        configure(store, None)
        times["new"].append(
            run(store, "new", "--title", "打印机卡纸", "--type", "failure",
                "--reporter", "王五", "--priority", "P4", "--no-suggest")
        )  # fmt: skip
        who = "张伟" if i % 2 else "王强"
        times["assign"].append(run(store, "assign", target, "--to", who, "--tier", "l1"))
        configure(store, {"assigned": [], "registered": []})
        times["assign, no notice"].append(run(store, "assign", target, "--to", who, "--tier", "l1"))
    bare = statistics.median(times["bare"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:20s} {median:.3f} s  {median / bare:.2f}× bare")
    pending = store / ".git" / "elinkctl" / "outbox" / "pending"
    print(f"outbox items queued: {len(list(pending.glob('*.json')))}")
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load {load[0]:.1f}; medians of {rounds} fresh processes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
