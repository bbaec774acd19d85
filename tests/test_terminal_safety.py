"""Nothing from a ticket reaches a terminal as a control sequence (quality
bar; issue 18 item 3): text output shows control characters visibly, while
`show --json` and the file keep the exact value."""

from __future__ import annotations

import json

from conftest import Desk
from elinkctl.cli.output import safe

EVIL_TITLE = "evil\x1b]0;pwned\x07title\x1b[2J\x9b31m"
EVIL_REPORTER = "r\x1b[31m\rX"


def test_safe_makes_every_control_character_visible() -> None:
    assert safe("a\x1b[2Jb") == "a\u241b[2Jb"
    assert safe("bell\x07") == "bell\u2407"
    assert safe("c1\x9b") == "c1\\u009b"
    assert safe("del\x7f") == "del\\u007f"
    assert safe("over\rwrite") == "over\u240dwrite"
    assert safe("keep\ttab\nand\r\nlines") == "keep\ttab\nand\r\nlines"
    assert safe("中文标题") == "中文标题"


def test_show_list_log_and_check_print_no_escape(desk: Desk) -> None:
    now = "2026-11-23T10:00:00+08:00"
    result = desk.ok(
        "new", "--title", EVIL_TITLE, "--type", "failure", "--reporter", EVIL_REPORTER,
        "--priority", "P2", now=now,
    )  # fmt: skip
    tid = result.stdout.strip()
    outputs = [
        result.stderr,
        desk.ok("show", tid, now=now).output,
        desk.ok("list", now=now).output,
        desk.ok("log", tid, now=now).output,
        desk.ok("check", now="2026-11-23T11:00:00+08:00", user="elinkctl-check").output,
        desk.run("accept", tid, "--at", "bad\x1b[2J", now=now).output,
    ]
    for text in outputs:
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, text
    assert "\u241b]0;pwned" in outputs[1]
    # The exact value is kept where it belongs: JSON and the file.
    shown = json.loads(desk.ok("show", tid, "--json", now=now).stdout)
    assert shown["title"] == EVIL_TITLE
    from elinkctl.domain import ticketfile

    stored = ticketfile.loads(desk.ticket_path(tid).read_text(encoding="utf-8"))
    assert stored.title == EVIL_TITLE
