"""Values that would crash or hang every reader (issue 18 item 5).

A hand-committed ticket file a reviewer might merge: an alias bomb, a
number of thousands of digits, a date Python cannot hold, a tag, a
duplicate key, a NUL, a wrong type inside an event, a folder named like a
ticket file. One bad ticket costs one warning, never the desk: every read
command still answers (no traceback, no hang), a healthy ticket is still
writable, and `fsck` names the file, the line and the reason — `fsck` is
the contract: when it passes, every command works.

Through the CLI on a real git store (the ``desk`` fixture)."""

from __future__ import annotations

import time

import pytest

from conftest import Desk
from elinkctl import fastyaml, yamlio

NOW = "2026-11-23T10:00:00+08:00"
LATER = "2026-11-23T18:00:00+08:00"
BAD = "INC-261123-AAAAB"

TEMPLATE = """schema: 1
id: {id}
title: {title}
type: failure
priority: {prio}
status: new
tier: desk
assignee: null
opened_at: {at}
reporter:
  name: r
events:
- id: e1
  at: {at}
  by: {by}
  type: created
  priority: {prio}
  incident_type: failure
{extra}"""


def _bomb(name: str) -> str:
    levels = [f"&{name}0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        levels.append(f"&{name}{i} [" + ", ".join([f"*{name}{i - 1}"] * 10) + "]")
    return "[" + ", ".join(levels) + "]"


ASSIGN = "- id: e2\n  at: 2026-11-23T10:01:00+08:00\n  by: x\n"

# name -> (fields of TEMPLATE, line fsck names, words of its reason)
CASES: dict[str, tuple[dict[str, str], int, str]] = {
    "alias bomb in the title": ({"title": _bomb("a")}, 3, "aliases"),
    "alias bomb in an event": ({"extra": f"  note: {_bomb('b')}\n"}, 19, "aliases"),
    "a 5,000-digit number": ({"extra": "  phone: " + "9" * 5000 + "\n"}, 19, "number"),
    "a 5,000-digit title": ({"title": "1" * 5000}, 3, "number"),
    "a 20,000-digit hex number": ({"extra": "  n: 0x" + "f" * 20000 + "\n"}, 19, "number"),
    "a time at the end of time": ({"at": "9999-12-31T23:59:59-12:00"}, 9, "outside the years"),
    "a time at the start of time": ({"at": "0001-01-01T00:00:00+08:00"}, 9, "outside the years"),
    "a quoted time at the end of time": (
        {"at": '"9999-12-31T23:59:59+08:00"'},
        14,
        "events[0].at: outside the years",
    ),
    "February 30": ({"extra": "  when: 2026-02-30\n"}, 19, "impossible date"),
    "an offset of 99 hours": ({"extra": "  when: 2026-02-03T10:00:00+99:00\n"}, 19, "date"),
    "a set": ({"extra": "  tags: !!set {a, b}\n"}, 19, "!!set"),
    "binary": ({"title": "!!binary aGVsbG8="}, 3, "!!binary"),
    "a merge key": ({"extra": "  <<: {x: 1}\n"}, 19, "!!merge"),
    "a python tag": ({"title": "!!python/object/apply:os.system [echo hi]"}, 3, "tag"),
    "a duplicate key": ({"extra": "  by: someone-else\n"}, 19, "duplicate key 'by'"),
    "an escaped NUL": ({"title": '"a\\0b"'}, 3, "NUL"),
    "a raw NUL": ({"title": "a\0b"}, 3, ""),
    "a list as the actor": ({"by": "[a, b]"}, 15, "events[0].by: must be text"),
    "a mapping as the type": ({"extra": ASSIGN + "  type: {a: 1}\n"}, 22, "events[1].type"),
    "a list as the assignee": (
        {"extra": ASSIGN + "  type: assigned\n  to: [a, b]\n  tier: l1\n"},
        23,
        "events[1].to: must be text",
    ),
    "a promise that is no time": (
        {"extra": ASSIGN + "  type: pended\n  promise: [1]\n"},
        23,
        "promise",
    ),
    "deeply nested event data": ({"extra": "  x: [[[[[1]]]]]\n"}, 19, "nested"),
    "an unknown priority": ({"prio": "P9"}, 5, "unknown priority"),
    "a list as the title": ({"title": "[a, b]"}, 3, "title: must be text"),
    "a number as the title": ({"title": ".inf"}, 3, "title: must be text"),
    "an impossible date in the ID": ({"id": "INC-261399-AAAAB"}, 2, "impossible date"),
    "a satisfaction that is no score": (
        {"extra": ASSIGN + "  type: callback\n  satisfaction: abc\n"},
        23,
        "events[1].satisfaction: 'abc' is not a score 1–5",
    ),
}


def _write(desk: Desk, fields: dict[str, str]) -> str:
    values = {"id": BAD, "title": "x", "prio": "P3", "at": NOW, "by": "desk-wang", "extra": ""}
    values.update(fields)
    tid = values["id"]
    folder = desk.root / "tickets" / f"20{tid[4:6]}" / tid[6:8]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{tid}.yaml"
    path.write_text(TEMPLATE.format(**values), encoding="utf-8")
    desk.git("add", "--", str(path))
    desk.git("commit", "-q", "-m", "a hand edit", "--", str(path))
    return f"tickets/20{tid[4:6]}/{tid[6:8]}/{tid}.yaml"


def _every_reader_answers(desk: Desk, good: str, bad: str) -> None:
    for args in (
        ("list",),
        ("list", "--json"),
        ("show", good),
        ("show", bad),
        ("show", bad, "--json"),
        ("log", bad),
        ("stats",),
        ("kb", "search", "x"),
    ):
        started = time.monotonic()
        result = desk.run(*args, now=LATER)  # CliRunner re-raises any traceback
        assert time.monotonic() - started < 5, args
        assert result.exit_code in (0, 1), (args, result.output)
    checked = desk.run("check", now=LATER)
    assert checked.exit_code in (0, 1) and "Traceback" not in checked.output
    assert good in checked.stdout  # the healthy ticket was checked
    desk.ok("comment", good, "-m", "still writable", now=LATER)
    desk.ok("show", good, now=LATER)


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_ticket_costs_one_warning(desk: Desk, name: str) -> None:
    fields, line, reason = CASES[name]
    good = desk.new(now=NOW)
    rel = _write(desk, fields)
    started = time.monotonic()
    fsck = desk.run("fsck", now=LATER)
    assert time.monotonic() - started < 5
    assert fsck.exit_code == 1
    reported = [ln for ln in fsck.stdout.splitlines() if ln.startswith(rel)]
    assert reported, fsck.output
    assert reported[0].startswith(f"{rel} line {line}:"), reported
    assert reason in reported[0], reported
    _every_reader_answers(desk, good, fields.get("id", BAD))


def test_a_folder_named_like_a_ticket_file(desk: Desk) -> None:
    good = desk.new(now=NOW)
    month = desk.ticket_path(good).parent
    (month / "INC-261123-ZZZZZ.yaml").mkdir()
    (month / "INC-261123-ZZZZZ.yaml" / "a").write_text("x", encoding="utf-8")
    (month.parent / "13").mkdir()
    (month.parent / "13" / "b.yaml").write_text("x", encoding="utf-8")
    (desk.root / "tickets" / "junk").mkdir()
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1
    out = fsck.stdout
    assert "tickets/2026/11/INC-261123-ZZZZZ.yaml: a folder named like a ticket file" in out
    assert "tickets/2026/13: misplaced folder" in out
    assert "tickets/junk: misplaced folder" in out
    assert "tickets/2026/13/b.yaml: misplaced" not in out or "line" not in out
    shown = desk.run("show", "ZZZZZ", now=LATER)
    assert shown.exit_code == 1 and "a folder, not a ticket file" in shown.stderr
    _every_reader_answers(desk, good, good)


@pytest.mark.parametrize(
    "text",
    ["a\u2028b", "a\u2029b", "x\ny\u2028z", "尾\u2028", "\u2028", "a\x85b", "line\u2028 two"],
)
def test_line_separators_round_trip_exactly(desk: Desk, text: str) -> None:
    text = f"{text} end"
    tid = desk.new(now=NOW, title=f"t {text}")
    desk.ok("comment", tid, "-m", f"c {text}", now=NOW)
    shown = desk.json("show", tid, now=NOW)
    assert shown["title"] == f"t {text}"
    assert shown["events"][-1]["text"] == f"c {text}" or any(
        e.get("text") == f"c {text}" for e in shown["events"]
    )
    raw = desk.ticket_path(tid).read_text(encoding="utf-8")
    assert "\u2028" not in raw and "\u2029" not in raw and "\x85" not in raw
    desk.ok("comment", tid, "-m", "again", now=NOW)  # a later write keeps it exact
    assert desk.json("show", tid, now=NOW)["title"] == f"t {text}"
    assert desk.run("fsck", now=NOW).exit_code == 0


def test_a_line_separator_written_by_an_older_version_is_read_right(desk: Desk) -> None:
    """The old writer put U+2028 raw in a single-quoted scalar, which the fast
    reader misread (and the next write saved the corruption)."""
    tid = desk.new(now=NOW)
    path = desk.ticket_path(tid)
    text = path.read_text(encoding="utf-8").replace(
        "title: 财务系统无法登录", "title: 'a\u2028  b'"
    )
    path.write_text(text, encoding="utf-8")
    desk.git("commit", "-q", "-am", "old writer")
    assert desk.json("show", tid, now=NOW)["title"] == "a\u2028b"
    desk.ok("comment", tid, "-m", "x", now=NOW)
    assert desk.json("show", tid, now=NOW)["title"] == "a\u2028b"


def test_the_readers_share_their_bounds() -> None:
    assert fastyaml._MAX_NUMBER_CHARS == yamlio.MAX_NUMBER_CHARS
    assert fastyaml._YEARS == yamlio.YEARS


def test_an_alias_bomb_in_the_rules_is_refused_in_bounded_time() -> None:
    """Rule files may use anchors (a human's shorthand); their expansion is capped."""
    started = time.monotonic()
    with pytest.raises(yamlio.YamlError, match="aliases expand"):
        yamlio.load("x: " + _bomb("c") + "\n")
    assert time.monotonic() - started < 2
    assert yamlio.load("a: &d {k: 1}\nb: *d\n") == {"a": {"k": 1}, "b": {"k": 1}}
    with pytest.raises(yamlio.YamlError):
        yamlio.load("a: &e [1, *e]\n")


@pytest.mark.parametrize(
    ("added", "reason"),
    [(f"bomb: {_bomb('r')}\n", "aliases expand"), ("big: " + "9" * 5000 + "\n", "number")],
)
def test_a_rule_file_no_command_can_load_fails_fsck(desk: Desk, added: str, reason: str) -> None:
    tid = desk.new(now=NOW)
    sla = desk.root / "sla.yaml"
    original = sla.read_text(encoding="utf-8")
    sla.write_text(original + added, encoding="utf-8")
    for args in (("list",), ("show", tid), ("check",)):
        started = time.monotonic()
        result = desk.run(*args, now=LATER)
        assert time.monotonic() - started < 5
        assert (
            result.exit_code == 1 and "sla.yaml line" in result.stderr and reason in result.stderr
        )
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1 and "sla.yaml line" in fsck.stdout and reason in fsck.stdout
    sla.write_text(original, encoding="utf-8")
    desk.ok("comment", tid, "-m", "rules fixed", now=LATER)


def test_a_broken_article_fails_fsck(desk: Desk) -> None:
    article = desk.ok(
        "kb",
        "add",
        "--title",
        "VPN客户端无法连接",
        "--system",
        "VPN",
        "--solution",
        "重装",
        now=NOW,
    ).stdout.strip()
    path = desk.root / "knowledge" / f"{article}.md"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("title:", f"bomb: {_bomb('k')}\ntitle:", 1), encoding="utf-8")
    (desk.root / "knowledge" / "KB-ZZZZZ.md").mkdir()
    for args in (("kb", "list"), ("kb", "search", "vpn"), ("kb", "show", article)):
        started = time.monotonic()
        result = desk.run(*args, now=LATER)
        assert time.monotonic() - started < 5 and result.exit_code in (0, 1)
    fsck = desk.run("fsck", now=LATER)
    assert fsck.exit_code == 1
    assert f"knowledge/{article}.md line" in fsck.stdout and "aliases expand" in fsck.stdout
    assert "knowledge/KB-ZZZZZ.md: a folder named like an article file" in fsck.stdout
