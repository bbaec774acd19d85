"""Hostile intake (issue 18 item 6): mail nested a thousand multiparts deep,
JSON nested 100,000 deep, numbers of thousands of digits, an alert storm.

Each is one clean line on stderr and the data-error exit (65, sysexits),
nothing written; or, within the bounds of `elinkctl.ingest.limits`, it
registers in bounded time. Afterwards a healthy ticket is still writable
and `fsck` passes. Through the CLI on a real git store."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import Result

from conftest import Desk
from elinkctl.cli import cli
from elinkctl.ingest import limits

NOW = "2026-11-23T10:00:00+08:00"
EX_DATAERR = 65


def ingest(desk: Desk, kind: str, data: bytes) -> Result:
    env = {"ELINKCTL_STORE": str(desk.root), "ELINKCTL_USER": "mail-intake", "ELINKCTL_NOW": NOW}
    return desk.runner.invoke(cli, ["ingest", kind], env=env, input=data, catch_exceptions=False)


def alert(i: int = 0, **extra: object) -> dict[str, object]:
    return {
        "status": "firing",
        "labels": {"alertname": f"DiskFull{i}", "instance": f"host{i}:9100"},
        "annotations": {"summary": f"disk full on host{i}"},
        "startsAt": "2026-11-23T01:00:00Z",
        "fingerprint": f"{i:016x}",
        **extra,
    }


def payload(alerts: list[dict[str, object]], **extra: object) -> bytes:
    body = {"version": "4", "status": "firing", "receiver": "x", "alerts": alerts, **extra}
    return json.dumps(body).encode()


def nested_mail(depth: int, kind: str = "multipart/mixed") -> bytes:
    text = "From: a@example.com\nSubject: deep\nMessage-ID: <deep@x>\nMIME-Version: 1.0\n"
    for i in range(depth):
        text += f'Content-Type: {kind}; boundary="b{i}"\n\n--b{i}\n'
    text += "Content-Type: text/plain\n\nhello\n"
    for i in reversed(range(depth)):
        text += f"--b{i}--\n"
    return text.encode()


def refused(desk: Desk, kind: str, data: bytes, words: str) -> None:
    commits = desk.commit_count()
    started = time.monotonic()
    result = ingest(desk, kind, data)
    assert time.monotonic() - started < 5
    assert result.exit_code == EX_DATAERR, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert words in lines[0]
    assert desk.commit_count() == commits
    assert desk.git("status", "--porcelain", "--untracked-files=all") == ""


def healthy(desk: Desk) -> None:
    tid = desk.new(now=NOW)
    desk.ok("comment", tid, "-m", "still writable", now=NOW)
    fsck = desk.run("fsck", now=NOW)
    assert fsck.exit_code == 0, fsck.output


CASES: dict[str, tuple[str, bytes, str]] = {
    "JSON nested 100,000 deep": ("alert", b"[" * 100_000 + b"]" * 100_000, "nested"),
    "alerts nested 100,000 deep": (
        "alert",
        b'{"alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "nested",
    ),
    "a label nested 900 deep": (
        "alert",
        payload([alert(labels={"alertname": "x", "deep": json.loads("[" * 900 + "]" * 900)})]),
        "nested",
    ),
    "a number of 10,000 digits": (
        "alert",
        payload([alert()]).replace(
            b'"version": "4"', b'"n": ' + b"9" * 10_000 + b', "version": "4"'
        ),
        "number",
    ),
    "a float of 10,000 digits": (
        "alert",
        payload([alert()]).replace(
            b'"version": "4"', b'"n": 1.' + b"9" * 10_000 + b', "version": "4"'
        ),
        "number",
    ),
    "a start in the year 9999": (
        "alert",
        payload([alert(startsAt="9999-12-31T23:59:59-12:00")]),
        "outside the years",
    ),
    "a Zabbix timestamp of the far future": (
        "alert",
        json.dumps(
            {"event_name": "x", "status": "PROBLEM", "trigger_id": "1", "timestamp": "9" * 15}
        ).encode(),
        "range",
    ),
    "a Zabbix severity of 5,000 digits": (
        "alert",
        json.dumps(
            {"event_name": "x", "status": "PROBLEM", "trigger_id": "1", "severity": "9" * 5000}
        ).encode(),
        "severity number",
    ),
    "3,001 alerts": ("alert", payload([alert(i) for i in range(3001)]), "at most 3,000"),
    "mail 1,000 multiparts deep": ("email", nested_mail(1000), "MIME parts"),
    "mail 30 multiparts deep": ("email", nested_mail(30), "nested more than 20"),
    "mail 1,000 messages deep": ("email", nested_mail(1000, "message/rfc822"), "MIME parts"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_clean_line(desk: Desk, name: str) -> None:
    kind, data, words = CASES[name]
    refused(desk, kind, data, words)
    healthy(desk)


def test_an_alert_storm_within_the_bound_registers_in_one_commit(desk: Desk) -> None:
    commits = desk.commit_count()
    started = time.monotonic()
    result = ingest(desk, "alert", payload([alert(i) for i in range(limits.MAX_ALERTS)]))
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr[-300:]
    assert len(result.stdout.split()) == limits.MAX_ALERTS
    assert desk.commit_count() == commits + 1
    assert elapsed < 60  # about 3.5 s on an idle machine; generous for a loaded one
    healthy(desk)


def test_strange_text_is_stored_readably(desk: Desk) -> None:
    """A NUL, a lone surrogate, U+2028 and a 1 MB label: registered, and every
    reader gets them back (NUL and surrogates as U+FFFD, long text cut)."""
    labels = {
        "alertname": "nul\u0000here",
        "instance": "sep\u2028here",
        "big": "y" * 1_000_000,
    }
    data = payload([alert(labels=labels, annotations={"summary": "lone \ud800 surrogate"})])
    result = ingest(desk, "alert", data)
    assert result.exit_code == 0, result.stderr
    (tid,) = result.stdout.split()
    shown = desk.json("show", tid, now=NOW)
    assert "\ufffd" in shown["title"]
    text = json.dumps(shown, ensure_ascii=False)
    assert "\u0000" not in text and len(text) < 4 * limits.MAX_FIELD_CHARS
    healthy(desk)


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 31 Dec 9999 23:59:59 -1200",
        "Mon, 1 Nov 99999999999999999999 10:00:00 +0800",
        "Mon, 1 Nov 2026 99999999999:00:00 +0800",
        "Mon, 1 Nov 2026 10:00:00 +99999999999999",
    ],
)
def test_a_mail_with_an_impossible_date_registers(desk: Desk, date: str) -> None:
    mail = f"From: a@example.com\nSubject: odd date\nDate: {date}\n\nhi\n".encode()
    result = ingest(desk, "email", mail)
    assert result.exit_code == 0, result.stderr
    healthy(desk)


def test_mail_with_too_many_parts_is_refused_before_parsing(desk: Desk) -> None:
    parts = "".join("--B\nContent-Type: text/plain\n\nx\n" for _ in range(50_000))
    mail = (
        "From: a@example.com\nSubject: many\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="B"\n\n{parts}--B--\n'
    ).encode()
    refused(desk, "email", mail, "MIME parts")
