"""A committed symbolic link never makes elinkctl read or write outside the
store (quality bar; issue 18 item 2); fsck names it."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Desk

NOW = "2026-11-23T10:00:00+08:00"


def test_a_linked_ticket_file_is_not_read(desk: Desk, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("TOP SECRET\n", encoding="utf-8")
    tid = desk.new(now=NOW)
    link = desk.ticket_path(tid).with_name("INC-261123-ZZZZ9.yaml")
    os.symlink(secret, link)
    listed = desk.run("list", now=NOW)
    assert "TOP SECRET" not in listed.output
    shown = desk.run("show", "INC-261123-ZZZZ9", now=NOW)
    assert shown.exit_code == 1 and "symbolic link" in shown.stderr
    assert "TOP SECRET" not in shown.output
    fsck = desk.run("fsck", now=NOW)
    assert fsck.exit_code == 1 and "INC-261123-ZZZZ9.yaml: a symbolic link" in fsck.stdout
    assert "TOP SECRET" not in fsck.output


def test_a_linked_month_folder_is_neither_read_nor_written(desk: Desk, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    tid = desk.new(now=NOW)
    month = desk.ticket_path(tid).parent
    real = month.with_name("11-real")
    month.rename(real)
    (outside / f"{tid}.yaml").write_text(
        (real / f"{tid}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    os.symlink(outside, month)
    before = (outside / f"{tid}.yaml").read_bytes()
    result = desk.run("comment", tid, "-m", "x", now=NOW)
    assert result.exit_code == 1 and "symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert (outside / f"{tid}.yaml").read_bytes() == before  # nothing written outside
    fsck = desk.run("fsck", now=NOW)
    assert fsck.exit_code == 1 and "tickets/2026/11: a symbolic link" in fsck.stdout
