"""The check lease: `check --sync` on two hosts against one bare remote, one acting.

Real clones of a real bare remote, the real CLI in subprocesses, notices
delivered to a real SMTP server and a real HTTP webhook on 127.0.0.1. Time is
ELINKCTL_NOW: a lease expires because `now` moves past it, never by sleeping.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl import yamlio
from gitfixtures import ELINKCTL, env_for, git, shared_desk

if TYPE_CHECKING:
    from notify_servers import RobotServer, SmtpServer

pytest_plugins = ["notify_servers"]

T0 = dt.datetime.fromisoformat("2026-11-23T10:00:00+08:00")
PEOPLE: dict[str, dict[str, Any]] = {
    "小王": {"email": "xiaowang@example.com"},
    "李四": {"email": "lisi@example.com"},
    "周二": {"email": "zhouer@example.com"},
    "王五": {"email": "wangwu@example.com", "channels": ["hook"]},
    "赵总": {"email": "zhaozong@example.com"},
}
ROLES = {
    "desk": ["小王"],
    "l1": ["李四"],
    "l2": ["周二"],
    "vendor": [],
    "pm": ["王五"],
    "management": ["赵总"],
}
# P3: 0h → 李四, 30m → 周二, 4h → 王五 (mail and the webhook), 12h → 赵总.
LEVELS = {"0h": ["lisi@example.com"], "30m": ["zhouer@example.com"]}
LEVELS["4h"] = ["wangwu@example.com", "hook"]
LEVELS["12h"] = ["zhaozong@example.com"]


SMTP_LOGIN = ("desk", "pw-7d1e")


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


class Hosts:
    """A bare remote, a laptop (the seed clone) and two cron hosts A and B."""

    def __init__(self, tmp: Path, smtp: SmtpServer, robot: RobotServer) -> None:
        shared = shared_desk(tmp, 3)
        self.remote = shared.remote
        self.laptop, self.a, self.b = shared.clones
        self.smtp, self.robot = smtp, robot
        path = self.laptop / "escalation.yaml"
        data = yamlio.load(path.read_text(encoding="utf-8"))
        hook = robot.channels()["hook"]
        data.update(
            roles=ROLES,
            people=PEOPLE,
            channels={
                "mail": smtp.channel(username="desk", password="${SMTP_PASSWORD}"),
                "hook": hook,
            },
            notify={"sla_warning": [], "sla_breach": []},  # escalations only: easy to count
            check_lease={"expires_after": "15m"},
        )
        path.write_text(yamlio.dump(data), encoding="utf-8")
        git(self.laptop, "commit", "-q", "-m", "people, channels, lease", "--", "escalation.yaml")
        git(self.laptop, "push", "-q", "origin", "main")
        for host in (self.a, self.b):
            git(host, "pull", "-q", "--ff-only")
        self.tickets: list[str] = []

    def env(self, store: Path, now: str, *, dead: bool = False) -> dict[str, str]:
        extra = {**self.robot.env(), "SMTP_PASSWORD": SMTP_LOGIN[1]}
        if dead:  # the robots on a port where nothing listens, mail refused
            base = self.robot.base_url
            extra = {k: v.replace(base, "http://127.0.0.1:9") for k, v in extra.items()}
            extra["SMTP_PASSWORD"] = "wrong"
        return env_for(store, "cron", now, **extra)

    def new(self, minutes: float, title: str = "邮件系统收不到外部邮件") -> str:
        proc = self.run(
            self.laptop,
            "new",
            "--title",
            title,
            "--type",
            "failure",
            "--reporter",
            "张三",
            "--priority",
            "P3",
            minutes=minutes,
        )
        tid = proc.stdout.strip()
        self.run(self.laptop, "sync", minutes=minutes)
        self.tickets.append(tid)
        return tid

    def run(
        self, store: Path, *args: str, minutes: float, dead: bool = False, code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*ELINKCTL, *args],
            env=self.env(store, at(minutes), dead=dead),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == code, f"{args}: exit {proc.returncode}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def check(self, host: Path, minutes: float, *, dead: bool = False) -> dict[str, Any]:
        """`check --sync --json` on a cron host; the JSON plus its stderr."""
        proc = self.run(host, "check", "--sync", "--json", minutes=minutes, dead=dead)
        data: dict[str, Any] = json.loads(proc.stdout)
        data["stderr"] = proc.stderr
        return data

    def received(self) -> Counter[tuple[str, str]]:
        """(ticket, recipient address or "hook") → how many notices it got."""
        seen: Counter[tuple[str, str]] = Counter()
        with self.smtp.lock:
            mails = list(self.smtp.mails)
        for mail in mails:
            text = mail.subject + mail.body
            for tid in self.tickets:
                if tid in text:
                    for rcpt in mail.rcpt_tos:
                        seen[(tid, rcpt)] += 1
        for request in self.robot.delivered("webhook"):
            for tid in self.tickets:
                if tid in request.text:
                    seen[(tid, "hook")] += 1
        return seen

    def expected(self, tid: str, *levels: str) -> Counter[tuple[str, str]]:
        return Counter({(tid, r): 1 for level in levels for r in LEVELS[level]})


def fired(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["ticket"], e["after"]) for e in data["escalations"]]


def test_one_host_acts_the_other_stands_by_and_takes_over_after_expiry(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    tid = desk.new(0)

    first = desk.check(desk.a, 1)
    assert first["lease"]["status"] == "taken" and first["standby"] is False
    assert fired(first) == [(tid, "0h")]
    assert "holds the check lease now" in first["stderr"]

    standby = desk.check(desk.b, 2)
    assert standby["standby"] is True and standby["lease"]["status"] == "standby"
    assert standby["lease"]["holder"] == first["lease"]["host"]
    assert standby["escalations"] == [] and standby["notifications"] == []
    assert "standby" in standby["stderr"]
    # every existing key of check --json is still there
    assert {"escalations", "sla_warnings", "sla_breaches", "reminders", "notifications"} <= set(
        standby
    )

    held = desk.check(desk.a, 35)
    assert held["lease"]["status"] == "held" and fired(held) == [(tid, "30m")]
    assert "check lease" not in held["stderr"]  # renewing is not news
    again = desk.check(desk.b, 36)
    assert again["standby"] and "check lease" not in again["stderr"]  # nor is standing by again

    # A dies. Before its lease expires (35m + 15m) B still stands by ...
    assert desk.check(desk.b, 49)["standby"]
    # ... after it, B takes over and escalates what came due meanwhile, once.
    taken = desk.check(desk.b, 4 * 60 + 1)
    assert taken["lease"]["status"] == "taken"
    assert taken["lease"]["previous"] == first["lease"]["host"]
    assert fired(taken) == [(tid, "4h")]
    assert "taken over from" in taken["stderr"]
    assert desk.check(desk.b, 4 * 60 + 2)["escalations"] == []

    # A comes back: it syncs, sees B's lease and stands by.
    back = desk.check(desk.a, 4 * 60 + 3)
    assert back["standby"] and back["escalations"] == []
    assert desk.received() == desk.expected(tid, "0h", "30m", "4h")
    for host in (desk.a, desk.b, desk.laptop):
        desk.run(host, "sync", minutes=4 * 60 + 5)
        assert desk.run(host, "fsck", minutes=4 * 60 + 5).returncode == 0


def test_a_dead_holders_pending_notices_are_sent_by_the_taker_once(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    tid = desk.new(0)
    desk.run(desk.laptop, "sync", minutes=3 * 60)
    # A's endpoints are dead: it records the levels, cannot deliver, keeps them
    # pending and publishes them with the lease; then A dies.
    dead = desk.check(desk.a, 4 * 60 + 1, dead=True)
    assert fired(dead) == [(tid, "0h"), (tid, "30m"), (tid, "4h")]
    assert dead["notifications"] and not any(n["ok"] for n in dead["notifications"])
    assert desk.received() == Counter()
    assert desk.check(desk.b, 4 * 60 + 10)["standby"]

    taken = desk.check(desk.b, 4 * 60 + 17)
    assert taken["lease"]["status"] == "taken" and taken["lease"]["imported"] >= 1
    assert taken["escalations"] == []  # recorded by A, pulled: not escalated again
    assert all(n["ok"] for n in taken["notifications"])
    assert desk.received() == desk.expected(tid, "0h", "30m", "4h")
    assert desk.check(desk.b, 4 * 60 + 20)["notifications"] == []

    # A's machine comes back with its pending items: standing by, it sends none.
    back = desk.check(desk.a, 4 * 60 + 21)
    assert back["standby"] and back["notifications"] == []
    # B dies in turn; A takes over, imports B's delivered keys: still nothing twice.
    again = desk.check(desk.a, 4 * 60 + 40)
    assert again["lease"]["status"] == "taken"
    assert all(n["ok"] for n in again["notifications"])
    assert desk.received() == desk.expected(tid, "0h", "30m", "4h")


DECLINE_BRANCHES = """#!/bin/sh
while read -r old new ref; do
    case $ref in refs/heads/*) echo "branch pushes refused for the test" >&2; exit 1 ;; esac
done
exit 0
"""


def test_delivered_keys_travel_with_the_lease(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    """A notifies but its events never reach the remote (the branch push is
    refused); B, taking over, finds the same levels due and records them, but
    the keys A delivered came with the lease: nobody is told twice."""
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    tid = desk.new(0)
    hook = desk.remote / "hooks" / "pre-receive"
    hook.write_text(DECLINE_BRANCHES, encoding="utf-8")
    hook.chmod(0o755)
    first = desk.check(desk.a, 31)
    assert fired(first) == [(tid, "0h"), (tid, "30m")]
    assert "warning: sync" in first["stderr"]
    assert desk.received() == desk.expected(tid, "0h", "30m")
    hook.unlink()

    taken = desk.check(desk.b, 50)
    assert taken["lease"]["status"] == "taken"
    assert fired(taken) == [(tid, "0h"), (tid, "30m")]  # A's record never arrived
    assert taken["notifications"] == []  # ... but its deliveries did
    assert desk.received() == desk.expected(tid, "0h", "30m")


def test_no_remote_needs_no_lease(tmp_path: Path, smtp_server: SmtpServer) -> None:
    store = tmp_path / "desk"
    subprocess.run(
        [*ELINKCTL, "init", str(store), "--as", "setup"], check=True, capture_output=True
    )
    env = env_for(store, "desk-wang", at(0))
    subprocess.run(
        [
            *ELINKCTL,
            "new",
            "--title",
            "x",
            "--type",
            "failure",
            "--reporter",
            "y",
            "--priority",
            "P3",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [*ELINKCTL, "check", "--sync", "--json"],
        env=env_for(store, "cron", at(1)),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["lease"]["status"] == "none" and data["standby"] is False
    assert [e["after"] for e in data["escalations"]] == ["0h"]
    assert "check lease" not in proc.stderr
    assert not (store / ".git" / "refs" / "elinkctl").exists()


def test_unreachable_remote_last_holder_goes_on_others_stand_by(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    tid = desk.new(0)
    assert desk.check(desk.a, 1)["lease"]["status"] == "taken"
    assert desk.check(desk.b, 2)["standby"]
    desk.remote.rename(desk.remote.with_name("gone.git"))
    alone = desk.check(desk.a, 31)
    assert alone["lease"]["status"] == "unconfirmed" and fired(alone) == [(tid, "30m")]
    assert "checks alone" in alone["stderr"]
    waiting = desk.check(desk.b, 32)
    assert waiting["standby"] and waiting["escalations"] == []
    assert "held the lease last" in waiting["stderr"]


def test_junk_in_the_lease_ref_is_taken_over_cleanly(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    desk.new(0)
    junk = git(
        desk.laptop, "commit-tree", "-m", "junk", git(desk.laptop, "rev-parse", "HEAD^{tree}")
    )
    git(desk.laptop, "push", "-q", "origin", f"{junk}:refs/elinkctl/lease")
    data = desk.check(desk.a, 1)
    assert data["lease"]["status"] == "taken"
    assert "no lease.json" in data["stderr"]
    assert desk.check(desk.b, 2)["standby"]


def test_bad_lease_setting_is_one_line_naming_the_file(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    path = desk.a / "escalation.yaml"
    text = path.read_text(encoding="utf-8").replace("expires_after: 15m", "expires_after: soon")
    path.write_text(text, encoding="utf-8")
    git(desk.a, "commit", "-q", "-m", "bad", "--", "escalation.yaml")
    proc = subprocess.run(
        [*ELINKCTL, "check", "--sync"],
        env=desk.env(desk.a, at(1)),
        capture_output=True,
        text=True,
    )
    assert proc.returncode in (1, 2)
    assert "Traceback" not in proc.stderr
    assert "escalation.yaml" in proc.stderr and "check_lease.expires_after" in proc.stderr
    checked = subprocess.run(
        [*ELINKCTL, "config", "check"], env=desk.env(desk.a, at(1)), capture_output=True, text=True
    )
    assert checked.returncode != 0 and "check_lease" in checked.stdout + checked.stderr


def test_a_standby_host_still_pushes_what_a_person_committed_there(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    tid = desk.new(0)
    assert desk.check(desk.a, 1)["lease"]["status"] == "taken"
    desk.run(desk.b, "sync", minutes=2)
    desk.run(desk.b, "comment", tid, "-m", "在备机上记录", minutes=3)
    standby = desk.check(desk.b, 4)
    assert standby["standby"] and standby["escalations"] == []
    desk.run(desk.laptop, "sync", minutes=5)
    shown = json.loads(desk.run(desk.laptop, "show", tid, "--json", minutes=5).stdout)
    assert "在备机上记录" in json.dumps(shown, ensure_ascii=False)
    # and the holder's quiet run pushes nothing, pulls it, and stays quiet
    quiet = desk.check(desk.a, 6)
    assert quiet["lease"]["status"] == "held" and quiet["escalations"] == []
    assert "check lease" not in quiet["stderr"], quiet


def test_a_stalled_holder_learns_it_lost_the_lease(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    """A holder stalled past its expiry (not dead) cannot write the lease any
    more once another host took it: compare-and-swap refuses its write."""
    from elinkctl.services.lease import CheckLease
    from elinkctl.store.store import Store

    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    desk.new(0)
    stalled = CheckLease(Store(desk.a), T0 + dt.timedelta(minutes=1))
    assert stalled.acquire().status == "taken"
    assert stalled.publish() == "ok"  # still its own
    taken = desk.check(desk.b, 20)  # past 1m + 15m
    assert taken["lease"]["status"] == "taken"
    assert stalled.publish() == "moved"
    assert desk.check(desk.a, 21)["standby"]


def test_a_mailed_reporters_acknowledgement_survives_a_takeover(
    tmp_path: Path, make_smtp_server: Callable[..., SmtpServer], robot_server: RobotServer
) -> None:
    """The reporter's address is on the ticket, not in `people:`: the taker
    still sends the dead holder's acknowledgement, checked against the pulled
    ticket, and keeps the event it answers (so it goes only for a real event)."""
    desk = Hosts(tmp_path, make_smtp_server(login=SMTP_LOGIN), robot_server)
    mail = (
        "From: 客户甲 <kehu@customer.example>\r\nTo: desk@example.com\r\n"
        "Subject: =?utf-8?b?"
        + base64.b64encode("邮件系统收不到外部邮件".encode()).decode()
        + "?=\r\n"
        "Message-ID: <m1@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "从今天早上开始收不到外部邮件。\r\n"
    )
    proc = subprocess.run(
        [*ELINKCTL, "ingest", "email"],
        input=mail,
        env=desk.env(desk.a, at(0), dead=True),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    tid = proc.stdout.split()[0]
    desk.tickets.append(tid)
    dead = desk.check(desk.a, 1, dead=True)  # A holds the lease, cannot deliver, dies
    assert not dead["standby"]
    snapshot = json.loads(git(desk.remote, "show", "refs/elinkctl/lease:outbox.json") or "{}")
    pending = [p for p in snapshot.get("pending", []) if "reporter@" in p["key"]]
    assert pending and pending[0]["event"]["ticket"] == tid

    taken = desk.check(desk.b, 20)
    assert taken["lease"]["status"] == "taken"
    assert desk.received()[(tid, "kehu@customer.example")] == 1
    desk.check(desk.b, 25)
    assert desk.received()[(tid, "kehu@customer.example")] == 1
