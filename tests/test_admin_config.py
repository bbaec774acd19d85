"""`config check` and `fsck` for admins: an unset ``${VAR}`` of a channel is
named with file and line (a warning, a problem with --env), and both speak
--json."""

from __future__ import annotations

import json

from conftest import Desk
from elinkctl import yamlio


def with_channel(desk: Desk) -> None:
    path = desk.root / "escalation.yaml"
    data = yamlio.load(path.read_text(encoding="utf-8"))
    data["channels"] = {"ops-ding": {"type": "wecom", "url": "${WECOM_OPS_URL}"}}
    path.write_text(yamlio.dump(data), encoding="utf-8")


def test_an_unset_variable_is_named_with_its_line(desk: Desk) -> None:
    with_channel(desk)
    result = desk.run("config", "check")
    assert result.exit_code == 0, result.output
    assert "escalation.yaml line" in result.stderr
    assert "channels.ops-ding.url: ${WECOM_OPS_URL} is not set" in result.stderr

    strict = desk.run("config", "check", "--env")
    assert strict.exit_code == 1
    assert "${WECOM_OPS_URL} is not set" in strict.stdout

    doc = json.loads(desk.run("config", "check", "--env", "--json").stdout)
    assert doc["ok"] is False and any("WECOM_OPS_URL" in p for p in doc["problems"])

    env = {"WECOM_OPS_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"}
    quiet = desk.run("config", "check", "--env", env=env)
    assert quiet.exit_code == 0 and "WECOM_OPS_URL" not in quiet.output


def test_fsck_json(desk: Desk) -> None:
    desk.new()
    doc = json.loads(desk.run("fsck", "--json").stdout)
    assert doc == {"ok": True, "tickets": 1, "problems": []}


def test_log_json(desk: Desk) -> None:
    ticket = desk.new()
    desk.ok("accept", ticket, "-m", "受理", now="2026-11-23T10:05:00+08:00")
    entries = json.loads(desk.run("log", ticket, "--json").stdout)
    assert [set(e) for e in entries] == [{"commit", "at", "author", "email", "message"}] * 2
    assert entries[0]["message"].startswith(ticket) and entries[0]["at"].endswith("+08:00")
    assert entries[0]["author"] == "desk-wang"
    assert desk.run("log", ticket, "--json", "-p").exit_code == 2


def test_a_reader_registers_the_merge_driver(desk: Desk) -> None:
    """A fresh `git clone` has no .git/config drivers; reading is enough to
    register them, so a reviewer's later `git pull` merges tickets structurally."""
    desk.git("config", "--remove-section", "merge.elinkctl-ticket")
    desk.git("config", "--remove-section", "merge.elinkctl-kb")
    desk.ok("list")
    assert "merge-file" in desk.git("config", "merge.elinkctl-ticket.driver")
    assert "merge-file" in desk.git("config", "merge.elinkctl-kb.driver")


def test_a_rule_file_with_a_key_twice_is_refused_naming_both_lines(desk: Desk) -> None:
    """A second `channels:` pasted at the end of escalation.yaml used to replace
    the first without a word; now every command that reads it says where."""
    path = desk.root / "escalation.yaml"
    text = path.read_text(encoding="utf-8")
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("roles:"))
    path.write_text(text + "\nroles:\n  desk: [somebody]\n", encoding="utf-8")
    last = len(path.read_text(encoding="utf-8").splitlines()) - 1
    result = desk.run("config", "check")
    assert result.exit_code == 1
    assert f"escalation.yaml line {last}: duplicate key 'roles' (first on line {first})" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert desk.run("check", "--dry-run").exit_code == 1
