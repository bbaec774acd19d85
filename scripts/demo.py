"""`make demo`: a day at the service desk, on a throwaway store.

Registers a realistic batch of incidents on Monday 2026-11-23 (the story is
in scenario.py), walks them through the procedure (screening, dispatch,
first contact, on-site visit, functional escalation, pending, resolution,
confirmation, callback, closure, a knowledge-base article), lets cron's
`check` run through the day, and ends with the list, the major incident and
the KPIs. Every command is printed before it runs, so the output doubles as
a tour of the CLI.

Usage: python scripts/demo.py DIR   (DIR is deleted and re-created)
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario import DAY, STEPS, command  # noqa: E402

BIN = str(Path(sys.executable).with_name("elinkctl"))

PEOPLE = """\
roles:
  desk: [小王]
  l1: [李四]
  l2: [王五]
  vendor: []
  pm: [赵六]
  management: [钱七]
people:
  小王: {channels: [desk-log]}
  李四: {channels: [desk-log]}
  王五: {channels: [desk-log]}
  赵六: {channels: [desk-log]}
  钱七: {channels: [desk-log]}
# The demo has no mail server or chat robot: a command channel appends each
# notification to a file instead (argv, no shell; the message is JSON on stdin).
channels:
  desk-log:
    type: command
    argv: [@python@, -c, @script@, @log@]
"""
LOG_SCRIPT = (
    "import json,sys; m=json.load(sys.stdin); "
    "line=m['subject']+' → '+', '.join(m['recipients']); "
    "open(sys.argv[1],'a',encoding='utf-8').write(line+'\\n')"
)


def run(root: Path, at: str, user: str, args: list[str], *, show: bool = True) -> str:
    """One CLI command as `user` at `at` o'clock on the demo day; exits on failure."""
    env = dict(os.environ, ELINKCTL_STORE=str(root), ELINKCTL_USER=user)
    env["ELINKCTL_NOW"] = f"{DAY}T{at}:00+08:00"
    if show:
        print(f"\n[{at} {user}] $ elinkctl {shlex.join(args)}", flush=True)
    proc = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, check=False)
    if show:
        sys.stdout.write(proc.stdout)
        sys.stdout.write("".join(f"  {line}\n" for line in proc.stderr.splitlines()))
    if proc.returncode != 0:
        sys.exit(f"step failed ({proc.returncode}): elinkctl {shlex.join(args)}\n{proc.stderr}")
    return proc.stdout.strip()


def play(root: Path, only: set[str] | None = None, show: bool = True) -> dict[str, str]:
    """Run the scenario's steps (those of the ``only`` incidents, if given); return the IDs."""
    ids: dict[str, str] = {}
    for step in STEPS:
        at, user, incident, _ = step
        key = incident.removeprefix("new:")
        if only is not None and key not in only:
            continue
        out = run(root, at, user, command(step, ids), show=show)
        if incident.startswith("new:"):
            ids[key] = out
    return ids


def configure(root: Path, log: Path) -> None:
    """People, roles and a notification channel for the demo; 钱总 is a key user."""
    esc = root / "escalation.yaml"
    text = esc.read_text(encoding="utf-8")
    people = (
        PEOPLE.replace("@python@", json.dumps(sys.executable))
        .replace("@script@", json.dumps(LOG_SCRIPT))
        .replace("@log@", json.dumps(str(log)))
    )
    start = text.index("roles:")
    end = text.index("channels: {}\n") + len("channels: {}\n")
    esc.write_text(text[:start] + people + text[end:], encoding="utf-8")
    sla = root / "sla.yaml"
    text = sla.read_text(encoding="utf-8").replace("key_users: []", "key_users: [钱总]")
    sla.write_text(text, encoding="utf-8")
    env = dict(os.environ, GIT_AUTHOR_NAME="小王", GIT_AUTHOR_EMAIL="desk@example.com")
    env.update(GIT_COMMITTER_NAME="小王", GIT_COMMITTER_EMAIL="desk@example.com")
    git = ["git", "-C", str(root), "commit", "-qam", "demo: people, roles, key users"]
    subprocess.run(git, check=True, env=env)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-store").resolve()
    if root.exists():
        shutil.rmtree(root)
    subprocess.run([BIN, "init", str(root)], check=True, env=dict(os.environ, ELINKCTL_USER="小王"))
    log = root.parent / f"{root.name}-notifications.log"
    log.unlink(missing_ok=True)
    configure(root, log)
    print(f"demo store: {root}")
    ids = play(root)
    run(root, "17:30", "小王", ["list"])
    run(root, "17:30", "小王", ["show", ids["p1"]])
    run(root, "17:30", "小王", ["stats", "--since", DAY])
    if log.exists():
        print(f"\nNotifications sent today ({log.name}):")
        print(log.read_text(encoding="utf-8"), end="")
    print(f"\nThe demo store is a git repository: git -C {root.name} log --stat | less")


if __name__ == "__main__":
    main()
