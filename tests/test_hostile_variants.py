"""Variants of issue 18's classes found by a second hostile pass (QA).

Through the CLI on real git stores (the ``desk`` fixture), like the other
``test_hostile_*`` files: each case is one that got through before its fix.
"""

from __future__ import annotations

import json
import re

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
