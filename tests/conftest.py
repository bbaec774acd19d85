"""Shared fixtures: every test runs against real git in a temporary directory.

An autouse fixture points HOME and git's global config at a temporary
directory, so no test can read the developer's settings or write to the
repository's own tickets/ or knowledge/.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from elinkctl.cli import cli

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Runner\n\temail = runner@example.com\n"
        "[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in (
        "ELINKCTL_STORE",
        "ELINKCTL_USER",
        "ELINKCTL_NOW",
        "EDITOR",
        "VISUAL",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ELINKCTL_LOCK_TIMEOUT", "20")
    # The repository is itself a store: a test that forgot --store must not
    # discover it from the working directory and write to its tickets/.
    monkeypatch.chdir(home)
    yield


@dataclass
class Desk:
    """A temporary store and a way to run the CLI against it."""

    root: Path
    runner: CliRunner

    def run(
        self,
        *args: str,
        user: str = "desk-wang",
        now: str | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        full_env = {"ELINKCTL_STORE": str(self.root), "ELINKCTL_USER": user}
        if now:
            full_env["ELINKCTL_NOW"] = now
        full_env.update(env or {})
        return self.runner.invoke(
            cli, list(args), env=full_env, input=input, catch_exceptions=False
        )

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self.run(*args, **kw)
        assert result.exit_code == 0, (
            f"{args}: exit {result.exit_code}\n{result.output}{result.stderr}"
        )
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def new(self, now: str = "2026-11-23T10:00:00+08:00", **fields: str) -> str:
        opts = {"title": "财务系统无法登录", "type": "failure", "reporter": "张三"}
        opts.update(fields)
        args: list[str] = ["new"]
        for key, value in opts.items():
            args += [f"--{key.replace('_', '-')}", value]
        return self.ok(*args, now=now).stdout.strip()

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout

    def ticket_path(self, ticket_id: str) -> Path:
        return self.root / "tickets" / f"20{ticket_id[4:6]}" / ticket_id[6:8] / f"{ticket_id}.yaml"

    def commit_count(self) -> int:
        return int(self.git("rev-list", "--count", "HEAD").strip())


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    runner = CliRunner()
    root = tmp_path / "store"
    result = runner.invoke(cli, ["init", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return Desk(root, runner)


@pytest.fixture
def elinkctl_bin() -> str:
    """The installed console script, for tests that run real subprocesses."""
    candidate = REPO_ROOT / ".venv" / "bin" / "elinkctl"
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("elinkctl")
    assert found, "the elinkctl console script is not installed"
    return found


@pytest.fixture
def subprocess_env(desk: Desk) -> dict[str, str]:
    env = dict(os.environ)
    env["ELINKCTL_STORE"] = str(desk.root)
    env["ELINKCTL_USER"] = "desk-wang"
    return env
