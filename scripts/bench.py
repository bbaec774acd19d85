"""`make bench`: how elinkctl scales to years of incidents.

Builds (once; cached under ./bench-stores/, gitignored) stores of 1,000,
10,000 and 100,000 generated tickets (500 open) and times the commands
people and cron run, each as a fresh process, median of several runs,
against a baseline measured in the same run on the same machine:

- check (cron, steady state after a first run), list --open, kb search, --help: absolute targets;
- stats warm, after a pull that changed 100 tickets, and cold (no index),
  the last against parsing every ticket file once with PyYAML's C loader;
- new and assign against a bare ``git add && git commit`` of one file;
- peak memory (max RSS) of stats.

With a size above 100,000 (``BENCH_SIZES=100000,300000``), the warm reads
of the bigger store are also measured in a full clone and in sparse clones
(one year, two years checked out) against the full 100,000 store
(`sparse_reads`; the clones live in ./bench-stores/sparse-*).

``BENCH_SIZES=1000,10000`` runs smaller stores. Speed is asserted here
only, never by timed tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
STORES = ROOT / "bench-stores"
NOW = "2026-11-20T12:00:00+08:00"
BIN = Path(sys.executable).parent / "elinkctl"
OPEN = 500
# Targets at 100,000 tickets (seconds, or ratio for "x" entries, MB for memory).
TARGETS: dict[str, tuple[str, float]] = {
    "check": ("s", 0.3),
    "list --open": ("s", 0.3),
    "stats warm": ("s", 0.5),
    "stats after pull (100 changed)": ("s", 1.0),
    "stats cold": ("x", 1.0),
    "new": ("x", 1.3),
    "new --no-suggest": ("x", 1.3),
    "assign": ("x", 1.3),
    "--help": ("s", 0.15),
    "kb search": ("s", 0.3),
    "kb search peak memory": ("MB", 60.0),
    "stats peak memory": ("MB", 200.0),
    "clone: first list --open": ("s", 2.0),
    "clone: first check": ("s", 3.0),
    "clone: first stats": ("s", 8.0),
    "clone: first stats peak memory": ("MB", 200.0),
}
WARM = ("check", "list --open", "stats warm", "stats after pull (100 changed)", "stats peak memory")
"""Warm targets that must hold within `GROWTH` of their 100,000 figure at bigger sizes."""
GROWTH = 1.5
FIRST = (("list --open", ("list", "--open")), ("check", ("check",)), ("stats", ("stats",)))
"""A fresh clone's first commands (issue 17)."""


def env_for(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ELINKCTL_STORE=str(store), ELINKCTL_USER="bench", ELINKCTL_NOW=NOW)
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {err.decode()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def git(store: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=store, check=True, capture_output=True, text=True, env=env_for(store)
    ).stdout.strip()


def ensure_store(n: int) -> Path:
    store = STORES / f"s{n}"
    if (store / ".git").is_dir() and (store / "sla.yaml").exists():
        return store
    if store.exists():
        shutil.rmtree(store)
    print(f"generating {n} tickets in {store} (once) …", file=sys.stderr)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "generate.py"),
            str(store),
            "--tickets",
            str(n),
            "--months",
            "36",
            "--open",
            str(min(OPEN, n // 2)),
            "--seed",
            str(n),
            "--now",
            NOW,
        ],
        check=True,
        env={**os.environ, "ELINKCTL_USER": "bench"},
    )
    return store


def change_tickets(store: Path, count: int) -> None:
    """Commit ``count`` changed tickets (a comment each), like a colleague's pushes."""
    from elinkctl.domain import lifecycle, ticketfile
    from elinkctl.store.store import Store

    s = Store(store)
    now = dt.datetime.fromisoformat(NOW)
    paths = []
    for ticket_id in s.open_ids()[:count]:
        ticket = s.load(ticket_id)
        change = lifecycle.record(ticket, "commented", "同事", now, now, "comment", text="远程备注")
        path = s.path_of(ticket_id)
        path.write_text(ticketfile.dumps(change.ticket), encoding="utf-8")
        paths.append(s.rel(path))
    git(store, "add", "--", *paths)
    git(store, "commit", "-q", "-m", f"{count} tickets changed upstream")


FIGURES: dict[tuple[int, str], float] = {}
"""(tickets, measure) -> value, so bigger sizes compare with 100,000 in the same run."""


def bench_size(n: int, commands: set[str], rows: list[list[str]]) -> None:
    """Append the figures of ``n`` tickets to ``rows`` as they are measured."""
    store = ensure_store(n)
    env = env_for(store)
    runs = 3 if n >= 100_000 else 5

    def run(*args: str) -> tuple[float, float]:
        return timed([str(BIN), *args], store, env)

    def add(name: str, value: float, baseline: float | None = None, note: str = "") -> None:
        FIGURES[(n, name)] = value
        unit, target = TARGETS.get(name, ("", 0.0))
        shown = f"{value:.1f} MB" if unit == "MB" else f"{value:.3f}"
        verdict = ""
        shown_target = (
            (f"≤ {target:g} {unit}" if unit != "x" else f"≤ {target:g}× baseline") if target else ""
        )
        if n > 100_000 and name in WARM and baseline is None:
            base = FIGURES.get((100_000, name))
            if base is not None:  # 100,000 measured in this run: compare with it
                baseline, shown_target = base, f"≤ {GROWTH:g}× 100k"
                unit, target = "x", GROWTH
                note = (note + "; " if note else "") + "baseline: the 100,000 figure of this run"
            else:
                target *= GROWTH
                shown_target = f"≤ {target:g} {unit} (1.5× target)"
        ratio = value / baseline if baseline else None
        if target and n >= 100_000:
            measured = ratio if unit == "x" else value
            verdict = "met" if measured is not None and measured <= target else "MISSED"
        rows.append(
            [
                f"{n:,}",
                name,
                shown,
                "" if baseline is None else f"{baseline:.3f}",
                "" if ratio is None else f"{ratio:.2f}×",
                shown_target,
                verdict,
                note,
            ]
        )
        print(f"  {n:,} {name}: {value:.3f}", file=sys.stderr)

    run("list", "--open")  # warm the index once
    # check
    if "check" in commands:
        # Cron's steady state: the first run records whatever the generated
        # history left due (and builds the plan cache); later runs, minutes
        # apart, find little or nothing new. That is what runs every 5 minutes.
        run("check")
        add("check", median_of(runs, lambda: run("check")[0]), note="steady state, cron")
    else:
        rows.append([f"{n:,}", "check", "", "", "", "", "skipped", "no check command yet"])
    add("list --open", median_of(runs, lambda: run("list", "--open")[0]))
    # stats warm and memory
    run("stats")
    mem: list[float] = []

    def stats_warm() -> float:
        elapsed, rss = run("stats")
        mem.append(rss)
        return elapsed

    add("stats warm", median_of(runs, stats_warm))
    add("stats peak memory", max(mem))
    # stats after a pull changing 100 tickets: a fast-forward to a commit
    # that changed them (what `git pull` does to the work tree and index).
    head = git(store, "rev-parse", "HEAD")
    change_tickets(store, 100)
    upstream = git(store, "rev-parse", "HEAD")
    git(store, "reset", "-q", "--hard", head)

    def after_pull() -> float:
        git(store, "reset", "-q", "--hard", head)
        run("stats")  # the index is warm at the old commit
        git(store, "merge", "-q", "--ff-only", upstream)
        return run("stats")[0]

    add("stats after pull (100 changed)", median_of(runs, after_pull))
    git(store, "reset", "-q", "--hard", head)
    # cold: no index at all vs parsing every file once with the C loader
    baseline_code = (
        "import pathlib, yaml\n"
        "for p in sorted(pathlib.Path('tickets').glob('*/*/*.yaml')):\n"
        "    yaml.load(p.read_text(encoding='utf-8'), Loader=yaml.CSafeLoader)\n"
    )
    cold_runs = 1 if n >= 100_000 else 3
    parse_all = median_of(cold_runs, lambda: timed([sys.executable, "-c", baseline_code], store)[0])
    index_db = store / ".git" / "elinkctl" / "index.sqlite"

    def cold() -> float:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{index_db}{suffix}").unlink(missing_ok=True)
        # No published index either (`bench_clone` publishes again): this row
        # is the parse of every file, the clone rows are the publication's.
        git(store, "update-ref", "-d", "refs/heads/elinkctl-index")
        return run("stats")[0]

    add(
        "stats cold",
        median_of(cold_runs, cold),
        parse_all,
        "baseline: parse every file once (C loader)",
    )
    # writes: new / assign against a bare add + commit of one file
    bare_dir = store / "bench-bare"
    bare_dir.mkdir(exist_ok=True)
    counter = [0]

    def bare() -> float:
        counter[0] += 1
        f = bare_dir / "note.txt"
        f.write_text(f"{time.time()} {counter[0]}\n", encoding="utf-8")
        start = time.perf_counter()
        git(store, "add", "--", "bench-bare/note.txt")
        git(store, "commit", "-q", "-m", "bare commit", "--", "bench-bare/note.txt")
        return time.perf_counter() - start

    bare_s = median_of(runs, bare)
    if "kb" in commands:
        # A desk that searches its knowledge base has the search index (and so
        # the suggestion index `new` reads); one that never did gets a one-line
        # note from `new` instead. Time the first: suggestions actually found.
        run("kb", "search", "打印机")
    new_args = ["new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "王五"]
    new_args += ["--priority", "P4"]
    note = "baseline: git add + git commit of one file"
    add("new", median_of(runs, lambda: run(*new_args)[0]), bare_s, note + "; with KB suggestions")
    add(
        "new --no-suggest", median_of(runs, lambda: run(*new_args, "--no-suggest")[0]), bare_s, note
    )
    from elinkctl.store.store import Store

    target = next(
        i
        for i in Store(store).open_ids()
        if "status: in_progress" in Store(store).path_of(i).read_text("utf-8")
    )
    turn = [0]

    def assign() -> float:
        turn[0] += 1
        who = "张伟" if turn[0] % 2 else "王强"
        return run("assign", target, "--to", who, "--tier", "l1")[0]

    add("assign", median_of(runs, assign), bare_s, "baseline: git add + git commit of one file")
    if "kb" in commands:
        kb_mem: list[float] = []
        add("kb search", median_of(runs, lambda: _kept(kb_mem, run("kb", "search", "打印机"))))
        add("kb search peak memory", max(kb_mem))
    else:
        rows.append([f"{n:,}", "kb search", "", "", "", "", "skipped", "no kb command yet"])
    add("--help", median_of(max(runs, 7), lambda: run("--help")[0]))
    if "index" in commands:
        bench_clone(n, store, env, runs, add)
    git_costs(n, store, add)


def _kept(memory: list[float], result: tuple[float, float]) -> float:
    """The time of a run, its peak memory kept in `memory`."""
    memory.append(result[1])
    return result[0]


def read_every_file(store: Path) -> float:
    """The floor of a first command: one process reading every ticket file once."""
    code = (
        "import os\n"
        "for top, _, names in os.walk('tickets'):\n"
        "    for name in names:\n"
        "        with open(os.path.join(top, name), 'rb') as f: f.read()\n"
    )
    return timed([sys.executable, "-c", code], store)[0]


def bench_clone(
    n: int, store: Path, env: dict[str, str], runs: int, add: Callable[..., None]
) -> None:
    """A fresh clone's first commands, with the index the check host published
    (`elinkctl index publish`) and without one, against reading every file once.

    A fresh clone's state is a work tree and no ``.git/elinkctl``: each timed
    run deletes that directory and runs one command as a new process."""
    clone_dir = STORES / f"clone-{n}"
    if clone_dir.exists():
        shutil.rmtree(clone_dir)
    timed([str(BIN), "stats"], store, env)  # the folds a plain stats uses, for the publication
    published, _ = timed([str(BIN), "index", "publish"], store, env)
    start = time.perf_counter()
    subprocess.run(["git", "clone", "-q", str(store), str(clone_dir)], check=True)
    cloned = time.perf_counter() - start
    clone_env = env_for(clone_dir)
    floor = median_of(runs, lambda: read_every_file(clone_dir))
    state = clone_dir / ".git" / "elinkctl"

    def first(args: tuple[str, ...]) -> tuple[float, float]:
        shutil.rmtree(state, ignore_errors=True)
        return timed([str(BIN), *args], clone_dir, clone_env)

    note = "baseline: read every ticket file once"
    for name, args in FIRST:
        add(
            f"clone: first {name}",
            median_of(runs, functools.partial(lambda a: first(a)[0], args)),
            floor,
            note + "; with the published index",
        )
    _, rss = first(("stats",))
    add("clone: first stats peak memory", rss)
    subprocess.run(
        ["git", "update-ref", "-d", "refs/remotes/origin/elinkctl-index"], cwd=clone_dir, check=True
    )
    cold_runs = 1 if n >= 100_000 else 3
    for name, args in FIRST:
        add(
            f"clone: first {name}, nothing published",
            median_of(cold_runs, functools.partial(lambda a: first(a)[0], args)),
            floor,
            note + "; builds the index (both cores)",
        )
    add(
        "index publish (check host)",
        published,
        note="index, plan, facts, folds, KB databases: one commit",
    )
    add("git clone (local, hard links)", cloned)
    shutil.rmtree(clone_dir)


def git_costs(n: int, store: Path, add: Callable[..., None]) -> None:
    """What grows with the store (the plan for 1,000,000 tickets in docs/performance.md)."""
    git_env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git_time(*args: str) -> float:
        return median_of(3, lambda: timed(["git", *args], store, git_env)[0])

    add("git ls-files -s tickets/", git_time("ls-files", "-z", "-s", "--", "tickets/"))
    add("git diff-files tickets/", git_time("diff-files", "-z", "--name-status", "--", "tickets/"))
    add("git status", git_time("status", "--porcelain", "-uno"))
    mb = 1024 * 1024
    add("size: git index file (MB)", (store / ".git" / "index").stat().st_size / mb)
    packs = (store / ".git" / "objects" / "pack").glob("*.pack")
    add("size: git pack (MB)", sum(p.stat().st_size for p in packs) / mb)
    index_db = store / ".git" / "elinkctl" / "index.sqlite"
    if index_db.exists():
        add("size: index.sqlite (MB)", index_db.stat().st_size / mb)
    blob = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectsize) %(objectsize:disk)"],
        input="refs/heads/elinkctl-index:index.sqlite\n",
        cwd=store,
        capture_output=True,
        text=True,
    )
    sizes = blob.stdout.split()
    if blob.returncode == 0 and len(sizes) == 2 and sizes[0].isdigit():
        add("size: published index (MB)", int(sizes[0]) / mb)
        add("size: published index, compressed in git (MB)", int(sizes[1]) / mb)


def main() -> int:
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",") if s]
    # Time the program, not the bytecode compiler: an installed package ships
    # compiled modules, and with PYTHONDONTWRITEBYTECODE set (as on CI
    # machines) an editable checkout would recompile every edited module in
    # every timed process.
    import compileall

    compileall.compile_dir(ROOT / "src", quiet=1)
    from elinkctl.cli import COMMANDS

    commands = set(COMMANDS)
    rows: list[list[str]] = []
    try:
        for n in sizes:
            bench_size(n, commands, rows)
        big = [n for n in sizes if n > 100_000]
        if big and 100_000 in sizes:
            rows += interleaved([100_000, *big])
            for n in big:
                rows += sparse_reads(n, STORES / f"s{n}", STORES / "s100000")
    finally:  # a failing command (others' work in progress) still leaves the figures so far
        report(rows)
    return 0


def interleaved(sizes: list[int], rounds: int = 5) -> list[list[str]]:
    """Warm reads of the bigger stores against 100,000, one process of each
    size in turn: the machine's load changes over a long run, so sizes
    measured minutes apart are not comparable; these are."""
    reads = (("check", ("check",)), ("list --open", ("list", "--open")), ("stats warm", ("stats",)))
    times: dict[tuple[int, str], list[float]] = {}
    for n in sizes:
        store = STORES / f"s{n}"
        for _, args in reads:
            timed([str(BIN), *args], store, env_for(store))  # settle after the writes above
    for _ in range(rounds):
        for n in sizes:
            store = STORES / f"s{n}"
            for name, args in reads:
                value = timed([str(BIN), *args], store, env_for(store))[0]
                times.setdefault((n, name), []).append(value)
    rows = []
    for n in sizes[1:]:
        for name, _ in reads:
            value = statistics.median(times[(n, name)])
            base = statistics.median(times[(100_000, name)])
            ratio = value / base
            rows.append(
                [
                    f"{n:,}",
                    f"{name} (interleaved)",
                    f"{value:.3f}",
                    f"{base:.3f}",
                    f"{ratio:.2f}×",
                    f"≤ {GROWTH:g}× 100k",
                    "met" if ratio <= GROWTH else "MISSED",
                    f"baseline: 100,000, the same {rounds} rounds, one process of each in turn",
                ]
            )
    return rows


SPARSE_CONES = (("full clone", ()), ("sparse (2026)", ("tickets/2026",)))
SPARSE_CONES += (("sparse (2025+2026)", ("tickets/2025", "tickets/2026")),)
"""Clones whose warm reads are compared with a full store of 100,000: what
an engineer checks out (docs/performance.md, the plan for 1,000,000, item 3)."""


def sparse_clone(store: Path, target: Path, cone: tuple[str, ...]) -> str:
    """A clone of ``store`` at ``target`` (a sparse one holding ``cone``) and,
    for the note, how many ticket files its work tree holds. Kept between
    runs (``git pull`` brings it up to date); never written into ``store``."""
    if not (target / ".git").is_dir():
        if target.exists():
            shutil.rmtree(target)
        extra = ["--sparse"] if cone else []
        subprocess.run(["git", "clone", "-q", *extra, str(store), str(target)], check=True)
        if cone:
            git(target, "sparse-checkout", "set", *cone)
    else:
        git(target, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    if cone:  # a step of a first check may have checked out more months
        git(target, "sparse-checkout", "set", *cone)
    listed = git(target, "ls-files", "-t", "--", "tickets/").splitlines()
    present = sum(1 for line in listed if not line.startswith("S "))
    return f"{present:,} of {len(listed):,} ticket files checked out"


def sparse_reads(n: int, store: Path, base: Path, rounds: int = 5) -> list[list[str]]:
    """Warm `check`, `list --open` and `stats` of a full clone and of sparse
    clones of ``n`` tickets against the full 100,000 store (``base``), one
    process of each in turn for ``rounds`` rounds (as `interleaved`).

    A sparse clone has no work-tree file for the tickets outside its cone:
    ``git diff-files`` lstat()s only the months checked out, and the index
    reads the others from their blobs when they change
    (`elinkctl.cache.blobs`). The clones' first commands (index built or
    fetched from the publication) and `check`'s first run (escalations due
    in the generated history, written in months it checks out) happen
    before the timed rounds."""
    reads = (("check", ("check",)), ("list --open", ("list", "--open")), ("stats", ("stats",)))
    clones: list[tuple[str, Path, str]] = []
    for label, cone in SPARSE_CONES:
        name = label.split(" (")[-1].rstrip(")") if cone else "full"
        target = STORES / f"sparse-{n}-{name}"
        note = sparse_clone(store, target, cone)
        clones.append((label, target, note))
    where = [("100,000 (full)", base, "")] + clones
    for _, root, _ in where:
        for _, args in reads:
            timed([str(BIN), *args], root, env_for(root))  # first runs, not timed
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for label, root, _ in where:
            for name, args in reads:
                value = timed([str(BIN), *args], root, env_for(root))[0]
                times.setdefault((label, name), []).append(value)
    rows = []
    for label, _, note in clones:
        for name, _ in reads:
            value = statistics.median(times[(label, name)])
            base_value = statistics.median(times[("100,000 (full)", name)])
            ratio = value / base_value
            rows.append(
                [
                    f"{n:,}",
                    f"{label}: {name}",
                    f"{value:.3f}",
                    f"{base_value:.3f}",
                    f"{ratio:.2f}×",
                    f"≤ {GROWTH:g}× 100k",
                    "met" if ratio <= GROWTH else "MISSED",
                    f"{note}; baseline: the full 100,000 store, the same {rounds} rounds",
                ]
            )
    return rows


def report(rows: list[list[str]]) -> None:
    load = os.getloadavg()
    print(
        tabulate(
            rows,
            headers=[
                "tickets",
                "measure",
                "median s",
                "baseline s",
                "ratio",
                "target (at 100k)",
                "",
                "note",
            ],
            disable_numparse=True,
        )
    )
    print(
        f"\n{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
        f"times are wall-clock medians of fresh processes."
    )


if __name__ == "__main__":
    raise SystemExit(main())
