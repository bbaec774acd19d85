"""`stats` end to end: a scripted, hand-computed data set built through the CLI.

Targets (shipped sla.yaml): P1 15m/4h, P2 30m/8h on 24x7; P3 1h/2wd(15h),
P4 4h/5wd on business hours 09:00-12:00 13:30-18:00. 2026-11-23 is a Monday.
Stats are taken as of NOW = Wednesday 2026-11-25 12:00.

    id  prio  story                                         response  resolution
    A   P1    accept 10m, resolve 3h, KB article, callback 5      timely    timely
    B   P1    accept 30m, resolve 5h, complaint              late      late
    C   P2    accept 10m, pending 4h, resolved 10h wall/6h   timely    timely  (paused)
    D   P2    accept 20m, resolve 3h, reopen, resolve 9h     timely    late    (reopened)
    E   P3    rejected false-alarm (monitoring, 监控平台)     excluded
    F   P4    redirected to change                          excluded
    G   P2    Tue 09:00 accept 10m, still open (due 17:00)  timely    late    (open, late)
    H   P4    Wed 09:00 untouched (response due 14:30)      pending   pending (open, pending)
    I   P3    Fri 17:30, accept Mon 09:20 (50m business),   timely    timely  (business)
              resolve Mon 16:00 (6h business, 70.5h wall)
    J   P3    accept 30m, pending since 11:00               timely    pending (paused, open)

Overall: response 6/1/1 → 6/7; resolution 3/3/2 → 1/2.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from elinkctl.cli import cli

NOW = "2026-11-25T12:00:00+08:00"


class Store:
    """A module-wide store: the data set is built once (≈40 commits)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.runner = CliRunner()

    def run(self, *args: str, now: str = NOW) -> Result:
        env = {**self.env, "ELINKCTL_STORE": str(self.root), "ELINKCTL_NOW": now}
        return self.runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    def ok(self, *args: str, now: str = NOW) -> str:
        result = self.run(*args, now=now)
        assert result.exit_code == 0, f"{args}: {result.output}{result.stderr}"
        return result.stdout

    def new(self, opened: str, priority: str, **fields: str) -> str:
        args = [
            "new",
            "--title",
            f"事件 {priority}",
            "--type",
            "failure",
            "--reporter",
            "张三",
            "--priority",
            priority,
        ]
        for key, value in fields.items():
            args += [f"--{key}", value]
        return self.ok(*args, now=opened).strip()

    def do(self, *args: str) -> None:
        self.ok(*args)

    def stats(self, *args: str) -> Any:
        return json.loads(self.ok("stats", "--json", *args))


def _env(home: Path) -> dict[str, str]:
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Runner\n\temail = runner@example.com\n"
        "[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    return {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "ELINKCTL_USER": "desk-wang",
        "ELINKCTL_LOCK_TIMEOUT": "20",
    }


def build(store: Store) -> dict[str, str]:
    ids: dict[str, str] = {}
    kb = ids["KB"] = store.ok(
        "kb",
        "add",
        "--title",
        "财务系统登录失败",
        "--system",
        "财务系统",
        "--symptom",
        "无法登录",
        "--solution",
        "重启认证服务",
    ).strip()
    a = ids["A"] = store.new("2026-11-23T10:00+08:00", "P1", system="财务系统")
    store.do("accept", a, "--at", "2026-11-23T10:10")
    store.do("assign", a, "--to", "李四", "--tier", "l1", "--at", "2026-11-23T10:20")
    store.do("resolve", a, "--solution", "重启", "--kb", kb, "--at", "2026-11-23T13:00")
    store.do("confirm", a, "--at", "2026-11-23T14:00")
    store.do("review", a, "--approve", "--at", "2026-11-23T14:10")  # a P1: the PM reviews
    store.do("report", "major", a, "--issue", "--at", "2026-11-23T14:20")
    store.do("callback", a, "--satisfaction", "5", "--at", "2026-11-23T15:00")
    store.do("close", a, "--at", "2026-11-23T15:05")
    b = ids["B"] = store.new("2026-11-23T10:00+08:00", "P1", system="财务系统")
    store.do("accept", b, "--at", "2026-11-23T10:30")
    store.do("complain", b, "-m", "太慢", "--at", "2026-11-23T12:00")
    store.do("resolve", b, "--solution", "更换硬盘", "--at", "2026-11-23T15:00")
    c = ids["C"] = store.new("2026-11-23T09:00+08:00", "P2", system="OA")
    store.do("accept", c, "--at", "2026-11-23T09:10")
    store.do("pend", c, "--reason", "等用户", "--at", "2026-11-23T10:00")
    store.do("resume", c, "--at", "2026-11-23T14:00")
    store.do("resolve", c, "--solution", "s", "--at", "2026-11-23T19:00")
    store.do("callback", c, "--satisfaction", "3", "--at", "2026-11-23T20:00")
    d = ids["D"] = store.new("2026-11-23T09:00+08:00", "P2", system="OA")
    store.do("accept", d, "--at", "2026-11-23T09:20")
    store.do("resolve", d, "--solution", "a", "--at", "2026-11-23T12:00")
    store.do("reopen", d, "--reason", "又坏了", "--at", "2026-11-23T13:00")
    store.do("resolve", d, "--solution", "b", "--kb", kb, "--at", "2026-11-23T18:00")
    e = ids["E"] = store.new("2026-11-23T11:00+08:00", "P3", source="monitoring", system="监控平台")
    store.do("reject", e, "--reason", "false-alarm", "--at", "2026-11-23T11:10")
    f = ids["F"] = store.new("2026-11-23T11:00+08:00", "P4")
    store.do("redirect", f, "--to", "change", "--at", "2026-11-23T11:10")
    g = ids["G"] = store.new("2026-11-24T09:00+08:00", "P2", system="OA")
    store.do("accept", g, "--at", "2026-11-24T09:10")
    ids["H"] = store.new("2026-11-25T09:00+08:00", "P4")
    i = ids["I"] = store.new("2026-11-20T17:30+08:00", "P3", system="财务系统")
    store.do("accept", i, "--at", "2026-11-23T09:20")
    store.do("resolve", i, "--solution", "s", "--at", "2026-11-23T16:00")
    j = ids["J"] = store.new("2026-11-23T10:00+08:00", "P3")
    store.do("accept", j, "--at", "2026-11-23T10:30")
    store.do("pend", j, "--reason", "等厂商", "--at", "2026-11-23T11:00")
    return ids


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, str]]]:
    home = tmp_path_factory.mktemp("home")
    store = Store(tmp_path_factory.mktemp("s") / "store", _env(home))
    result = store.runner.invoke(
        cli, ["init", str(store.root)], env=store.env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    yield store, build(store)


def rc(d: dict[str, Any]) -> tuple[int, int, int, float | None]:
    return d["timely"], d["late"], d["pending"], d["rate"]


def test_overall_rates_match_hand_computation(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    out = store.stats()
    assert out["total"] == 10 and out["counted"] == 8
    assert out["excluded"] == {"rejected": 1, "redirected": 1}
    assert rc(out["response"]) == (6, 1, 1, 6 / 7)
    assert rc(out["resolution"]) == (3, 3, 2, 0.5)
    assert out["response"]["below_target"] and out["resolution"]["below_target"]
    assert out["targets"]["response_rate"] == 0.9
    assert out["targets"]["resolution_rate"] == 0.9
    assert "by" not in out


def test_other_measures(data: tuple[Store, dict[str, str]]) -> None:
    store, ids = data
    out = store.stats()
    # MTTA wall: 10m, 30m, 10m, 20m, 10m, 63h50m, 30m → median 20m, p90 = 7th of 7.
    assert out["mtta"] == {"count": 7, "median_s": 1200.0, "p90_s": 229800.0}
    # MTTR wall: 3h, 5h, 10h, 9h, 70h30m → median 9h, p90 = 5th of 5.
    assert out["mttr"] == {"count": 5, "median_s": 32400.0, "p90_s": 253800.0}
    assert out["reopen"] == {"reopened": 1, "resolved": 5, "rate": 0.2}
    assert out["satisfaction"]["mean"] == 4.0 and out["satisfaction"]["count"] == 2
    assert out["complaints"] == {"count": 1, "incidents": 1}
    assert out["false_alarms"] == {
        "count": 1,
        "by_source": {"monitoring": 1},
        "by_system": {"监控平台": 1},
    }
    assert out["kb_reuse"] == {ids["KB"]: 2}
    assert out["backlog"] == {"<1d": 1, "1-3d": 2, "3-7d": 0, "7-30d": 0, ">30d": 0}
    assert out["by_status"] == {
        "closed": 1,
        "in_progress": 1,
        "new": 1,
        "pending": 1,
        "redirected": 1,
        "rejected": 1,
        "resolved": 4,
    }


def test_by_priority(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    by = store.stats("--by", "priority")["by"]
    assert list(by) == ["P1", "P2", "P3", "P4"]
    assert rc(by["P1"]["response"]) == (1, 1, 0, 0.5)
    assert rc(by["P1"]["resolution"]) == (1, 1, 0, 0.5)
    assert rc(by["P2"]["response"]) == (3, 0, 0, 1.0)
    assert rc(by["P2"]["resolution"]) == (1, 2, 0, 1 / 3)
    assert rc(by["P3"]["response"]) == (2, 0, 0, 1.0)
    assert rc(by["P3"]["resolution"]) == (1, 0, 1, 1.0)
    assert by["P3"]["excluded"]["rejected"] == 1
    assert rc(by["P4"]["response"]) == (0, 0, 1, None)
    assert by["P4"]["excluded"]["redirected"] == 1


def test_as_of_earlier_now_open_incident_is_pending(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    # Tuesday 16:00: G (P2, due Tue 17:00) is still pending.
    out = json.loads(
        store.ok("stats", "--json", "--priority", "P2", now="2026-11-24T16:00:00+08:00")
    )
    assert rc(out["resolution"]) == (1, 1, 1, 0.5)


def test_filters_select_by_reported_date(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    assert store.stats("--since", "2026-11-23")["total"] == 9  # I was reported on Friday
    assert store.stats("--until", "2026-11-20")["total"] == 1
    assert store.stats("--since", "2026-11-24", "--until", "2026-11-24")["total"] == 1
    p2 = store.stats("--priority", "P2", "--system", "OA")
    assert p2["total"] == 3 and rc(p2["resolution"]) == (1, 2, 0, 1 / 3)
    assert store.stats("--open")["total"] == 3
    by_month = store.stats("--by", "month")["by"]
    assert list(by_month) == ["2026-11"] and by_month["2026-11"]["total"] == 10


def test_csv_parses(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    rows = list(csv.DictReader(io.StringIO(store.ok("stats", "--csv", "--by", "priority"))))
    assert [r["group"] for r in rows] == ["P1", "P2", "P3", "P4"]
    p2 = rows[1]
    assert (p2["resolution_timely"], p2["resolution_late"], p2["resolution_pending"]) == (
        "1",
        "2",
        "0",
    )
    assert float(p2["resolution_rate"]) == pytest.approx(1 / 3, abs=1e-4)
    assert rows[3]["response_rate"] == ""  # no data is empty, never 0
    overall = list(csv.DictReader(io.StringIO(store.ok("stats", "--csv"))))
    assert len(overall) == 1 and overall[0]["group"] == "all"
    assert float(overall[0]["response_rate"]) == pytest.approx(6 / 7, abs=1e-4)


def test_table_and_explain(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    text = store.ok("stats", "--by", "priority")
    assert "事件及时响应率" in text and "85.7%" in text and "50.0%" in text
    assert ">= 90%" in text and "BELOW TARGET" in text
    # Long lines fold at their commas to fit 80 columns (issue 16).
    assert "1 rejected (1 false alarm), 1 redirected" in text.replace(",\n  ", ", ")
    explain = store.ok("stats", "--explain")
    for words in (
        "timely / (timely + late)",
        "last resolve",
        "pending",
        "Rejected",
        "redirected",
        "MTTA",
        "business:",
        "24x7",
    ):
        assert words in explain


def test_json_and_csv_exclude_each_other(data: tuple[Store, dict[str, str]]) -> None:
    store, _ = data
    assert store.run("stats", "--json", "--csv").exit_code == 2


class Checker(HTMLParser):
    """Well-formedness (every element closed in order) and what the charts hold."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "col"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.svgs = 0
        self.points: dict[str, int] = {}
        self.bars: list[dict[str, str | None]] = []
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if a.get(key):
                self.external.append(str(a[key]))
        classes = (a.get("class") or "").split()
        for c in classes:
            if c.startswith("pt-"):
                self.points[c[3:]] = self.points.get(c[3:], 0) + 1
        if tag == "g" and "bar" in classes:
            self.bars.append(a)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> but open: {self.stack[-3:]}")
            return
        self.stack.pop()


def check_html(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert checker.stack == [], checker.stack
    assert checker.scripts == 0 and checker.external == []
    return checker


def test_html_report(data: tuple[Store, dict[str, str]], tmp_path: Path) -> None:
    store, _ = data
    out = tmp_path / "kpi.html"
    store.ok("stats", "--html", str(out), "--by", "priority")
    page = out.read_text(encoding="utf-8")
    checker = check_html(page)
    assert checker.svgs == 2
    assert checker.points == {"response": 1, "resolution": 1}
    assert [b["data-period"] for b in checker.bars] == ["2026-11"]
    assert checker.bars[0]["data-total"] == "10"
    assert "85.7%" in page and "≥ 90%" in page and "@page" in page


def test_html_trend_over_months_with_a_gap(tmp_path: Path) -> None:
    """Aug and Oct have incidents, Sep none: 3 bars, 2 points per rate line."""
    home = tmp_path / "home"
    home.mkdir()
    store = Store(tmp_path / "store", _env(home))
    assert store.runner.invoke(cli, ["init", str(store.root)], env=store.env).exit_code == 0
    x = store.new("2026-08-03T10:00+08:00", "P1", title="<script>alert(1)</script>")
    store.do("accept", x, "--at", "2026-08-03T10:05")
    store.new("2026-08-04T10:00+08:00", "P2")
    y = store.new("2026-10-12T10:00+08:00", "P4")
    store.do("resolve", y, "--solution", "s", "--at", "2026-10-12T11:00")
    out = tmp_path / "trend.html"
    store.ok("stats", "--html", str(out))
    checker = check_html(out.read_text(encoding="utf-8"))
    assert checker.svgs == 2
    assert checker.points == {"response": 2, "resolution": 2}
    assert [(b["data-period"], b["data-total"]) for b in checker.bars] == [
        ("2026-08", "2"),
        ("2026-09", "0"),
        ("2026-10", "1"),
    ]
    assert "<script>" not in out.read_text(encoding="utf-8")
    # --by month is the series as data, too.
    by = store.stats("--by", "month")["by"]
    assert list(by) == ["2026-08", "2026-10"]
