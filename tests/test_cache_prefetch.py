"""git's calls for the index check started as the process starts
(`elinkctl.cache.prefetch`): used once, dropped after a write, never started
for other commands, and the real entry point answers like the library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Desk
from tests.test_cache_index import NOW, assert_same, some_ticket
from tests.test_cache_listing import age_directories, copy_as_untracked, generated

from elinkctl.cache import prefetch
from elinkctl.store.store import Store


@pytest.fixture
def gen_desk(desk: Desk) -> Desk:
    return generated(desk)


def test_command_and_store_from_argv():
    assert prefetch.command_and_store(["list", "--open"]) == ("list", None)
    assert prefetch.command_and_store(["--store", "/x", "--as", "张三", "check"]) == ("check", "/x")
    assert prefetch.command_and_store(["--store=/y", "stats", "--by", "x"]) == ("stats", "/y")
    assert prefetch.command_and_store(["--help"]) == (None, None)
    assert prefetch.command_and_store([]) == (None, None)


def test_early_snapshot_is_used_once_and_dropped_after_a_write(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ELINKCTL_STORE", str(gen_desk.root))
    prefetch.start(["list", "--open"])
    store = Store(gen_desk.root)
    assert prefetch.started() == str(store.root)
    store.index().refresh()
    assert prefetch.started() is None  # taken by the first refresh
    # Started, then a ticket is written in the same process: the early
    # output is older than the write and must not be used.
    prefetch.start(["check"])
    assert prefetch.started() is not None
    ticket_id = store.open_ids()[0]
    path = store.path_of(ticket_id)
    path.write_text(path.read_text("utf-8").replace("\ntitle: ", "\ntitle: 写后 "), "utf-8")
    store.git.run("add", "--", store.rel(path))
    assert prefetch.started() is None
    fresh = Store(gen_desk.root)
    assert any(s.title.startswith("写后") for s in fresh.summaries())


def test_no_early_start_for_other_commands_or_outside_a_store(
    gen_desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ELINKCTL_STORE", str(gen_desk.root))
    prefetch.start(["new", "--title", "x"])
    prefetch.start(["list", "--help"])
    assert prefetch.started() is None
    monkeypatch.setenv("ELINKCTL_STORE", str(tmp_path))
    prefetch.start(["list"])
    assert prefetch.started() is None


def test_cli_process_answers_like_in_process(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch):
    """The real entry point (early start on) after a hand edit and an untracked file."""
    age_directories(gen_desk.root)
    assert_same(gen_desk, monkeypatch)
    path = some_ticket(gen_desk.root, "in_progress")
    path.write_text(path.read_text("utf-8").replace("\ntitle: ", "\ntitle: 手改 "), "utf-8")
    copy_as_untracked(gen_desk.root)
    expected = assert_same(gen_desk, monkeypatch)
    env = {**os.environ, "ELINKCTL_STORE": str(gen_desk.root), "ELINKCTL_NOW": NOW}
    for args in (("list", "--open", "--json"), ("stats", "--json")):
        proc = subprocess.run(
            [sys.executable, "-m", "elinkctl", *args], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == expected[" ".join(args)][1]
