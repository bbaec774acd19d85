"""Variants of issue 18's classes found by a second hostile pass (QA).

Through the CLI on real git stores (the ``desk`` fixture), like the other
``test_hostile_*`` files: each case is one that got through before its fix.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path

import pytest

from conftest import Desk

NOW = "2026-11-23T10:00:00+08:00"
LATER = "2026-11-25T10:00:00+08:00"

# What a terminal would act on or reorder: C0 but newline/tab, DEL, C1,
# the line separators and the bidirectional controls.
ACTS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
BIDI = "a\u202etxt.exe\u2066b\u2069\u200fc\u2028d\u2029e"


def _clean(text: str) -> bool:
    return ACTS.search(text.replace("\r\n", "\n")) is None


def test_bidi_overrides_and_line_separators_are_shown_not_obeyed(desk: Desk) -> None:
    """U+202E made a title read backwards in `show`, `list`, `log`, `kb
    search`, `stats --csv`; U+2028/9 broke a line for line-reading scripts."""
    tid = desk.new(now=NOW, title=f"T{BIDI}", system=f"S{BIDI}")
    desk.ok("comment", tid, "-m", f"C{BIDI}", now=NOW)
    desk.ok("resolve", tid, "--solution", f"sol{BIDI}", now=NOW)
    for args in (
        ("show", tid),
        ("list",),
        ("log", tid),
        ("kb", "search", f"T{BIDI}"),
        ("stats", "--csv", "--by", "system"),
        ("print", tid),
    ):
        result = desk.run(*args, now=LATER)
        assert result.exit_code == 0, (args, result.output)
        assert _clean(result.stdout) and _clean(result.stderr), (args, result.output)
    assert "\\u202e" in desk.ok("show", tid, now=LATER).stdout
    # JSON keeps the exact value (the escape is JSON's own).
    raw = desk.ok("show", tid, "--json", now=LATER).stdout
    assert _clean(raw)
    assert json.loads(raw)["title"] == f"T{BIDI}"


def test_click_usage_errors_do_not_echo_escapes(desk: Desk) -> None:
    """click quotes an unexpected extra argument raw."""
    tid = desk.new(now=NOW)
    for args in (
        ("show", tid, "x\x1b]0;pwned\x07\u202e"),
        ("list", "--open", "\x1b[2J"),
        ("show", "--\x1b]52;c;eA==\x07"),
    ):
        result = desk.run(*args, now=NOW)
        assert result.exit_code == 2
        assert _clean(result.output), result.output


def _bomb(name: str) -> str:
    levels = [f"&{name}0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        levels.append(f"&{name}{i} [" + ", ".join([f"*{name}{i - 1}"] * 10) + "]")
    return "[" + ", ".join(levels) + "]"


# name -> (text added to an event of a hand-committed ticket, line fsck names, reason)
FILE_CASES: dict[str, tuple[str, int, str]] = {
    # repr() of the key node walked every alias: every reader hung, fsck too
    "an alias bomb as a mapping key": (f"  ? {_bomb('k')}\n  : 1\n", 19, "key that is a list"),
    "a list as a key": ("  ? [a, b]\n  : x\n", 19, "key that is a list"),
    # PyYAML's timestamp constructor failed with AttributeError: a traceback
    "a tagged timestamp in year 99999": (
        "  when: !!timestamp 99999-01-01T00:00:00Z\n",
        19,
        "not a date",
    ),
    "a tagged timestamp that is no date": ("  when: !!timestamp soon\n", 19, "not a date"),
    # KeyError / IndexError from PyYAML's constructors: a traceback
    "a tagged bool that is no bool": ("  flag: !!bool maybe\n", 19, "not a valid !!bool"),
    "a tagged empty int": ("  n: !!int ''\n", 19, "not a valid !!int"),
    # the fast reader recursed once per level: RecursionError in every reader
    "1,100 nested block mappings": (
        "".join("  " + "  " * i + f"k{i}:\n" for i in range(1100)),
        0,
        "nesting depth",
    ),
}

TEMPLATE = """schema: 1
id: INC-261123-AAAAB
title: x
type: failure
priority: P3
status: new
tier: desk
assignee: null
opened_at: 2026-11-23T10:00:00+08:00
reporter:
  name: r
events:
- id: e1
  at: 2026-11-23T10:00:00+08:00
  by: desk-wang
  type: created
  priority: P3
  incident_type: failure
"""


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_a_hand_committed_ticket_costs_one_warning(desk: Desk, name: str) -> None:
    added, line, reason = FILE_CASES[name]
    good = desk.new(now=NOW)
    bad = "INC-261123-AAAAB"
    path = desk.ticket_path(bad)
    path.write_text(TEMPLATE + added, encoding="utf-8")
    desk.git("add", "--", str(path))
    desk.git("commit", "-q", "-m", "a hand edit")
    started = time.monotonic()
    fsck = desk.run("fsck", now=LATER)
    assert time.monotonic() - started < 5
    assert fsck.exit_code == 1
    rel = "tickets/2026/11/INC-261123-AAAAB.yaml line "
    reported = [ln for ln in fsck.stdout.splitlines() if ln.startswith(rel)]
    assert reported and reason in reported[0], fsck.output
    if line:
        assert reported[0].startswith(f"{rel}{line}:"), reported
    for args in (("list",), ("show", bad), ("show", bad, "--json"), ("stats",), ("check",)):
        started = time.monotonic()
        result = desk.run(*args, now=LATER)  # CliRunner re-raises a traceback
        assert time.monotonic() - started < 5, args
        assert result.exit_code in (0, 1), (args, result.output)
    desk.ok("comment", good, "-m", "still writable", now=LATER)


def _readers_answer(desk: Desk, good: str, bad: str) -> None:
    for args in (
        ("list",),
        ("show", bad),
        ("show", good),
        ("stats",),
        ("check",),
        ("kb", "search", "x"),
    ):
        started = time.monotonic()
        result = desk.run(*args, now=LATER)
        assert time.monotonic() - started < 5, args
        assert result.exit_code in (0, 1), (args, result.output)
    desk.ok("comment", good, "-m", "still writable", now=LATER)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_named_like_a_ticket_is_never_waited_on(desk: Desk, kind: str) -> None:
    """Every reader opened it and waited for a writer (FIFO) or read forever."""
    good = desk.new(now=NOW)
    path = desk.ticket_path("INC-261123-AAAAB")
    if kind == "fifo":
        os.mkfifo(path)
    else:
        if os.geteuid() != 0:
            pytest.skip("mknod of a device needs root")
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1
    assert "tickets/2026/11/INC-261123-AAAAB.yaml: cannot read: not a plain file" in fsck.stdout
    _readers_answer(desk, good, "INC-261123-AAAAB")


def test_a_huge_ticket_file_is_refused_not_parsed(desk: Desk) -> None:
    """A hand-committed 50 MB title cost every command 6 s, 200,000 events 15 s."""
    good = desk.new(now=NOW)
    path = desk.ticket_path("INC-261123-AAAAB")
    path.write_text(TEMPLATE.replace("title: x", "title: " + "A" * 3_000_000), encoding="utf-8")
    desk.git("add", "--", str(path))
    desk.git("commit", "-q", "-m", "a hand edit")
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1
    assert "INC-261123-AAAAB.yaml: cannot read: 3,000,2" in fsck.stdout
    assert "more than the 2,097,152" in fsck.stdout
    _readers_answer(desk, good, "INC-261123-AAAAB")


def test_no_command_writes_a_ticket_too_large_to_read(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    before = desk.ticket_path(tid).read_bytes()
    result = desk.run("comment", tid, "-m", "y" * 2_200_000, now=NOW)
    assert result.exit_code == 1 and "nothing written" in result.stderr
    assert desk.ticket_path(tid).read_bytes() == before
    desk.ok("comment", tid, "-m", "small", now=NOW)
    assert desk.run("fsck", now=NOW).exit_code == 0


def test_rule_files_and_tickets_folder_are_not_followed_out_of_the_store(desk: Desk) -> None:
    """sla.yaml linked to /etc/passwd was read by every command; fsck listed
    every file under a linked tickets/ (a link to / walked the whole disk)."""
    tid = desk.new(now=NOW)
    sla = desk.root / "sla.yaml"
    original = sla.read_text(encoding="utf-8")
    outside = desk.root.parent / "outside.yaml"
    outside.write_text(original, encoding="utf-8")
    sla.unlink()
    sla.symlink_to(outside)
    for args in (("list",), ("fsck",), ("comment", tid, "-m", "x")):
        result = desk.run(*args, now=LATER)
        assert result.exit_code == 1 and "sla.yaml: a symbolic link" in result.output, args
    sla.unlink()
    sla.write_text(original, encoding="utf-8")
    desk.ok("comment", tid, "-m", "rules back", now=LATER)
    elsewhere = desk.root.parent / "elsewhere"
    (elsewhere / "2026" / "11").mkdir(parents=True)
    (elsewhere / "2026" / "11" / "INC-261123-ZZZZZ.yaml").write_text("not: read\n", "utf-8")
    tickets = desk.root / "tickets"
    tickets.rename(desk.root.parent / "real-tickets")
    tickets.symlink_to(elsewhere)
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1 and "tickets: a symbolic link" in fsck.stdout
    assert "ZZZZZ" not in fsck.output


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "-999999999h"]
)
def test_an_at_past_the_ends_of_time_is_one_line(desk: Desk, at: str) -> None:
    """Shifting it to the store's zone overflowed: an OverflowError traceback."""
    tid = desk.new(now=NOW)
    result = desk.run("comment", tid, "-m", "x", "--at", at, now=LATER)
    assert result.exit_code == 2 and "invalid time" in result.stderr, result.output
    desk.ok("comment", tid, "-m", "still writable", now=LATER)


def test_a_store_path_that_is_a_symlink_loop_is_one_line(desk: Desk, tmp_path: Path) -> None:
    """pathlib's resolve() raised RuntimeError: a traceback from every command and init."""
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    loop = str(tmp_path / "loop1")
    for args in (("--store", loop, "list"), ("--store", loop, "fsck"), ("init", loop)):
        result = desk.run(*args)
        assert result.exit_code in (1, 2) and "symbolic link loop" in result.stderr, args


def test_a_command_channel_echoing_a_badly_formatted_secret_leaks_nothing(desk: Desk) -> None:
    """The secret had a space and a line break (an env file's typo); the
    command's stderr tail is stripped and split, so the exact value never
    matched and the token reached stderr, check's outbox and its files."""
    secret = "tok-S3CR3T-0123456789"
    esc = desk.root / "escalation.yaml"
    text = esc.read_text(encoding="utf-8")
    text = text.replace("people: {}", "people:\n  张三: {channels: [pager]}\n", 1)
    text = text.replace(
        "channels: {}",
        "channels:\n  pager: {type: command, argv: [/bin/sh, -c, 'echo token=$T >&2; exit 3'],"
        " env: {T: '${PAGER_TOKEN}'}}\n",
        1,
    )
    esc.write_text(text.replace("  l1: []", "  l1: [张三]", 1), encoding="utf-8")
    desk.git("commit", "-q", "-am", "a pager")
    env = {"PAGER_TOKEN": f"{secret} x\n"}
    desk.new(now=NOW)
    outputs = [
        desk.run("notify", "test", "张三", env=env, now=NOW).output,
        desk.run("check", env=env, now=LATER, user="elinkctl-check").output,
        desk.run("check", "--json", env=env, now=LATER, user="elinkctl-check").output,
        desk.run("outbox", "list", "--json", env=env, now=LATER).output,
    ]
    assert "exited with 3" in outputs[0]
    for text in outputs:
        assert secret not in text, text
    for path in (desk.root / ".git").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_fsck_names_the_line_of_a_state_that_disagrees_with_the_events(desk: Desk) -> None:
    """It gave no line and Python's reprs (``datetime.datetime(2026, 11, …)``)."""
    desk.new(now=NOW)
    path = desk.ticket_path("INC-261123-AAAAB")
    text = TEMPLATE.replace("opened_at: 2026-11-23T10:00:00+08:00", "opened_at: 2026-11-23")
    path.write_text(text, encoding="utf-8")
    desk.git("add", "--", str(path))
    desk.git("commit", "-q", "-m", "a hand edit")
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1
    assert (
        "tickets/2026/11/INC-261123-AAAAB.yaml line 9: state disagrees with events: opened_at: "
        "file says 2026-11-23, events say 2026-11-23T10:00:00+08:00"
    ) in fsck.stdout, fsck.stdout


def test_a_pasted_huge_query_or_title_is_searched_in_bounded_time(desk: Desk) -> None:
    """Planning a query cost its length squared: 30,000 words took 18 s in
    `kb search` and in `new`'s suggestions."""
    desk.ok("kb", "add", "--title", "VPN无法连接", "--system", "VPN", "--solution", "重装", now=NOW)
    huge = "VPN 无法连接 " * 15_000
    for args in (
        ("kb", "search", huge),
        ("new", "--title", huge[:120_000], "--type", "failure", "--reporter", "r"),
    ):
        started = time.monotonic()
        result = desk.run(*args, now=NOW)
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started < 5, args


def test_a_fifo_named_like_an_article_is_skipped_and_named_by_fsck(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    os.mkfifo(desk.root / "knowledge" / "KB-AAAAA.md")
    for args in (("kb", "list"), ("kb", "search", "x"), ("kb", "show", "KB-AAAAA")):
        started = time.monotonic()
        result = desk.run(*args, now=NOW)
        assert time.monotonic() - started < 5 and result.exit_code in (0, 1), args
    fsck = desk.run("fsck", now=NOW)
    assert fsck.exit_code == 1 and "knowledge/KB-AAAAA.md: not a plain file" in fsck.stdout
    desk.ok("comment", tid, "-m", "still writable", now=NOW)


def test_verify_refuses_a_pushed_ticket_too_large_to_read_in_bounded_time(desk: Desk) -> None:
    """A pushed ticket of 200,000 events (16 MB) kept the pre-receive hook
    parsing for minutes."""
    desk.new(now=NOW)
    base = desk.git("rev-parse", "HEAD").strip()
    event = "- id: e{}\n  at: 2026-11-23T10:01:00+08:00\n  by: x\n  type: commented\n  text: hi\n"
    path = desk.ticket_path("INC-261123-AAAAB")
    path.write_text(TEMPLATE + "".join(event.format(i) for i in range(2, 40_000)), "utf-8")
    desk.git("add", "--", str(path))
    desk.git("commit", "-q", "-m", "a hand edit")
    started = time.monotonic()
    result = desk.run("verify", f"{base}..HEAD", now=LATER)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1 and "more than the 2,097,152 a reader opens" in result.stdout


def test_a_ticket_padded_to_the_limit_still_gets_its_escalations(desk: Desk) -> None:
    """People's writes stop 512 KiB below the reader's limit, so `check`'s
    events always fit: before, a ticket padded with comments made every
    later `check` skip it (no escalation ever) while fsck passed."""
    tid = desk.new(now=NOW)
    desk.ok("comment", tid, "-m", "y" * 1_560_000, now=NOW)
    refused = desk.run("comment", tid, "-m", "y" * 20_000, now=NOW)
    assert refused.exit_code == 1 and "may grow to; nothing written" in refused.stderr
    checked = desk.run("check", now=LATER, user="elinkctl-check")
    assert checked.exit_code == 0, checked.output
    assert tid in checked.stdout
    assert desk.run("fsck", now=LATER).exit_code == 0
