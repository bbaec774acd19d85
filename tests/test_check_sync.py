"""`check --sync`: the cron host sees what laptops recorded before it escalates."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from conftest import Desk
from elinkctl.cli import cli


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def run(root: Path, *args: str, now: str, user: str = "desk-wang") -> str:
    result = CliRunner().invoke(
        cli,
        ["--store", str(root), *args],
        env={"ELINKCTL_USER": user, "ELINKCTL_NOW": now},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def test_check_sync_pulls_before_and_pushes_after(desk: Desk, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--bare", "-q", "-b", "main", str(remote))
    git(desk.root, "remote", "add", "origin", str(remote))
    git(desk.root, "push", "-q", "-u", "origin", "main")
    laptop = desk.root
    cron = tmp_path / "cron"
    git(tmp_path, "clone", "-q", str(remote), str(cron))

    resolved = desk.new(now="2026-11-23T10:00:00+08:00", priority="P3")
    still_open = desk.new(now="2026-11-23T10:00:00+08:00", priority="P3")
    run(laptop, "sync", now="2026-11-23T10:01:00+08:00")
    # The laptop resolves one incident, but has not synced yet.
    run(laptop, "resolve", resolved, "--solution", "x", now="2026-11-23T10:20:00+08:00")
    run(laptop, "sync", now="2026-11-23T10:21:00+08:00")

    out = run(cron, "check", "--sync", now="2026-11-23T10:40:00+08:00", user="cron")
    assert still_open in out
    assert resolved not in out
    cron_log = git(cron, "log", "--format=%an %s", "-1")
    assert cron_log.startswith("cron check:")
    # The check's commit went out: the laptop sees the escalation after its next sync.
    run(laptop, "sync", now="2026-11-23T10:41:00+08:00")
    shown = desk.json("show", still_open)
    assert [(e["role"], e["after"]) for e in shown["escalations"]] == [("l1", "0h"), ("l2", "30m")]
    assert desk.json("show", resolved)["escalations"] == []


def test_check_sync_offline_still_checks(desk: Desk, tmp_path: Path) -> None:
    git(desk.root, "remote", "add", "origin", str(tmp_path / "missing.git"))
    tid = desk.new(now="2026-11-23T10:00:00+08:00", priority="P3")
    result = desk.run("check", "--sync", now="2026-11-23T10:40:00+08:00")
    assert result.exit_code == 0, result.stderr
    assert "warning: sync:" in result.stderr
    assert tid in result.stdout
