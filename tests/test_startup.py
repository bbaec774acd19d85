"""What a warm read command loads: the rule-file cache, and an import guard.

At 100,000 tickets a warm `list`, `stats` or `check` is mostly interpreter
start-up and git's work-tree check, so what is imported matters. These tests
pin the two decisions that keep PyYAML out of it (no timing here: speed is
measured by `make bench`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Desk

from elinkctl.config import RuleCache, load_config
from elinkctl.errors import ConfigError

NOW = "2026-11-20T12:00:00+08:00"


def test_rule_cache_follows_edits_and_survives_corruption(desk: Desk) -> None:
    root = desk.root
    first = load_config(root)
    cache_file = root / ".git" / "elinkctl" / "rules.pickle"
    assert cache_file.exists()
    cached = load_config(root)
    assert cached.sla.data == first.sla.data
    assert cached.escalation.data == first.escalation.data
    sla = root / "sla.yaml"
    sla.write_text(
        sla.read_text("utf-8").replace("timezone: Asia/Shanghai", "timezone: Asia/Urumqi"), "utf-8"
    )
    assert str(load_config(root).tz) == "Asia/Urumqi"
    cache_file.write_bytes(b"not a pickle")
    assert str(load_config(root).tz) == "Asia/Urumqi"
    assert RuleCache(root).get("sla.yaml", sla.read_text("utf-8")) is not None  # rewritten


def test_rule_file_errors_still_name_the_line(desk: Desk) -> None:
    load_config(desk.root)  # cache the good files
    sla = desk.root / "sla.yaml"
    sla.write_text(sla.read_text("utf-8") + "\nbroken: [unclosed\n", "utf-8")
    with pytest.raises(ConfigError, match=r"^sla.yaml line \d+: "):
        load_config(desk.root)


GUARD = """
import sys
from elinkctl.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="elinkctl", standalone_mode=False)
finally:
    heavy = sorted(
        m for m in ("yaml", "git", "tabulate", "elinkctl.cache.shipped") if m in sys.modules
    )

    print("IMPORTED", ",".join(heavy), file=sys.stderr)
"""


def imported_by(root: Path, *args: str) -> set[str]:
    env = {**os.environ, "ELINKCTL_STORE": str(root), "ELINKCTL_NOW": NOW}
    proc = subprocess.run(
        [sys.executable, "-c", GUARD, *args], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("IMPORTED"))
    return set(filter(None, line.removeprefix("IMPORTED").strip().split(",")))


def test_warm_reads_import_neither_pyyaml_nor_gitpython(desk: Desk) -> None:
    ticket = desk.new(now=NOW)
    desk.ok("accept", ticket, now=NOW)
    for args in (("list", "--open"), ("stats",), ("check",)):
        for _ in range(2):  # warm the index, the rule cache and `check`'s plan (its
            imported_by(desk.root, *args)  # first run may record and commit escalations)
        heavy = imported_by(desk.root, *args)
        assert "yaml" not in heavy, args
        assert "git" not in heavy, args
    assert "tabulate" not in imported_by(desk.root, "check")


def test_the_published_index_costs_nothing_once_an_index_exists(desk: Desk) -> None:
    """Only a store without an index looks for a publication (`elinkctl.cache.shipped`)."""
    imported_by(desk.root, "list", "--open")
    for args in (("list", "--open"), ("stats",), ("check",), ("--help",)):
        assert "elinkctl.cache.shipped" not in imported_by(desk.root, *args), args
