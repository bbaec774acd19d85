"""Output fits the terminal, measured as a terminal draws it (wcwidth: a
Chinese character takes two columns): `list`, `stats` and every --help fit
80 columns by default, and `list` uses a wider terminal (COLUMNS)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from wcwidth import wcswidth

from conftest import Desk
from elinkctl.cli import COMMANDS, cli
from elinkctl.render.terminal import clip, wrap_list

NOW = "2026-11-24T10:00:00+08:00"
LONG_TITLE = "财务系统登录后页面空白，清除缓存和更换浏览器均无效，影响整个财务部月末结账工作"


def widest(text: str) -> int:
    return max((wcswidth(line) for line in text.splitlines()), default=0)


def test_clip_cuts_by_display_width() -> None:
    assert clip("网络拓扑咨询", 12) == "网络拓扑咨询"
    assert clip("网络拓扑咨询", 11) == "网络拓扑咨…"
    assert wcswidth(clip(LONG_TITLE, 30)) <= 30
    assert clip("printer jam on 3F", 10) == "printer j…"


def test_wrap_list_folds_at_commas() -> None:
    line = "vendor replies (timely/late/pending by --due): " + ", ".join(
        f"{name}厂商 0/6/0 0.0% (of 6 escalations)" for name in ("华为", "惠普", "深信服", "用友")
    )
    folded = wrap_list(line, 80)
    assert widest(folded) <= 80
    assert folded.replace("\n  ", " ").replace(":\n", ": ").replace(" ", "") == line.replace(
        " ", ""
    )


@pytest.fixture
def busy_desk(desk: Desk) -> Desk:
    desk.new(now="2026-11-23T09:00:00+08:00", title=LONG_TITLE)
    desk.new(now="2026-11-23T09:30:00+08:00", title="printer jam on the third floor, again")
    ticket = desk.new(now="2026-11-23T09:40:00+08:00", title="邮件系统收不到外部邮件")
    desk.ok("accept", ticket, now="2026-11-23T09:45:00+08:00")
    desk.ok("assign", ticket, "--to", "二线支持团队值班工程师", "--tier", "l2", now=NOW)
    return desk


def test_list_fits_80_columns_and_uses_a_wider_terminal(busy_desk: Desk) -> None:
    narrow = busy_desk.ok("list", now=NOW, env={"COLUMNS": "80"}).stdout
    assert widest(narrow) <= 80, narrow
    assert "…" in narrow  # the long title was cut, by display width
    wide = busy_desk.ok("list", now=NOW, env={"COLUMNS": "200"}).stdout
    assert LONG_TITLE in wide
    assert widest(wide) <= 200


def test_stats_fits_80_columns(busy_desk: Desk) -> None:
    for args in ((), ("--by", "system"), ("--by", "priority")):
        out = busy_desk.ok("stats", *args, now=NOW, env={"COLUMNS": "80"}).stdout
        assert widest(out) <= 80, out


def _all_commands() -> list[list[str]]:
    found: list[list[str]] = [[]]
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        found.append([name])
        for sub in getattr(command, "commands", {}):
            found.append([name, sub])
    return found


@pytest.mark.parametrize("args", _all_commands(), ids=lambda a: " ".join(a) or "elinkctl")
def test_every_help_fits_80_columns(desk: Desk, args: list[str]) -> None:
    out = desk.ok(*args, "--help", env={"COLUMNS": "80"}).stdout
    assert widest(out) <= 80, out


def test_excel_csv_has_a_bom_and_crlf(busy_desk: Desk, tmp_path: Path) -> None:
    target = tmp_path / "按系统统计.csv"
    busy_desk.ok("stats", "--by", "system", "--excel", "-o", str(target), now=NOW)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8, not GBK
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "group" and len(rows) >= 2
    plain = busy_desk.runner.invoke(
        cli,
        ["stats", "--csv"],
        env={"ELINKCTL_STORE": str(busy_desk.root), "ELINKCTL_NOW": NOW},
    ).stdout_bytes
    assert not plain.startswith(b"\xef\xbb\xbf")  # scripts keep plain UTF-8
    assert (
        raw.decode("utf-8-sig").replace("\r\n", "\n").splitlines()[0]
        == (plain.decode().splitlines()[0])
    )


def test_stats_html_both_spellings(busy_desk: Desk, tmp_path: Path) -> None:
    new, old = tmp_path / "new.html", tmp_path / "old.html"
    busy_desk.ok("stats", "--html", "-o", str(new), now=NOW)
    busy_desk.ok("stats", "--html", str(old), now=NOW)
    assert new.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert old.read_text("utf-8") == new.read_text("utf-8")


def test_one_spelling_per_meaning_old_ones_still_work(desk: Desk) -> None:
    ticket = desk.new(now="2026-11-23T09:00:00+08:00")
    # -m, --note everywhere; --message kept (hidden) for scripts.
    desk.ok("comment", ticket, "--note", "新写法", now=NOW)
    desk.ok("comment", ticket, "--message", "旧写法", now=NOW)
    desk.ok("accept", ticket, "-m", "用户同意", now=NOW)
    help_text = desk.ok("comment", "--help").stdout
    assert "-m, --note TEXT" in help_text and "--message" not in help_text
    # --as after the command, as people type it.
    desk.ok("comment", ticket, "-m", "二线已接手", "--as", "王五", now=NOW)
    assert desk.git("log", "-1", "--format=%an").strip() == "王五"
    # visit: --appointment books; the contract's --at still does.
    desk.ok("assign", ticket, "--to", "李四", "--tier", "l1", now=NOW)
    desk.ok("visit", ticket, "--appointment", "2026-11-25 14:00", now=NOW)
    shown = desk.json("show", ticket, now=NOW)
    assert [e for e in shown["events"] if e["type"] == "visit_scheduled"]
    both = desk.run("visit", ticket, "--appointment", "2026-11-25 14:00", "--at", "14:00", now=NOW)
    assert both.exit_code == 2


def _run_on_a_terminal(argv: list[str], env: dict[str, str]) -> bytes:
    """Run with stdin and stdout on a pseudo-terminal, as a person does."""
    import os
    import pty
    import subprocess

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            argv, stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)


def test_long_output_is_paged_on_a_terminal_only(
    busy_desk: Desk, elinkctl_bin: str, tmp_path: Path
) -> None:
    import os
    import subprocess

    paged = tmp_path / "paged.txt"
    env = {
        **os.environ,
        "ELINKCTL_STORE": str(busy_desk.root),
        "ELINKCTL_NOW": NOW,
        "ELINKCTL_PAGER": f"cat > {paged}",
        "LINES": "4",
        "COLUMNS": "80",
    }
    _run_on_a_terminal([elinkctl_bin, "list"], env)
    assert paged.exists() and "INC-" in paged.read_text("utf-8")
    paged.unlink()

    piped = subprocess.run([elinkctl_bin, "list"], env=env, capture_output=True, check=True)
    assert not paged.exists()  # never in a pipe
    assert b"INC-" in piped.stdout

    _run_on_a_terminal([elinkctl_bin, "list"], {**env, "LINES": "50"})
    assert not paged.exists()  # it fits the screen
    _run_on_a_terminal([elinkctl_bin, "list"], {**env, "ELINKCTL_PAGER": ""})
    assert not paged.exists()  # turned off


def test_show_aligns_the_timeline_whoever_acted(desk: Desk) -> None:
    ticket = desk.new(now="2026-11-23T09:00:00+08:00", priority="P2")
    desk.ok("check", now="2026-11-23T10:30:00+08:00")  # recorded by elinkctl-check
    desk.ok("comment", ticket, "-m", "已电话联系", now="2026-11-23T10:40:00+08:00", user="李四")
    card = desk.ok("show", ticket, now="2026-11-23T11:00:00+08:00").stdout
    timeline = card.split("timeline:\n", 1)[1].splitlines()
    names = ("desk-wang", "elinkctl-check", "李四")
    starts = set()
    for line in timeline:
        for name in names:
            if name in line:
                head = line[: line.index(name) + len(name)]
                rest = line[len(head) :]
                starts.add(wcswidth(head) + len(rest) - len(rest.lstrip()))
    assert len(starts) == 1, timeline
    stats = desk.ok("stats", now="2026-11-23T11:00:00+08:00").stdout
    assert "1 callbacks" not in stats


def test_kpi_html_marks_the_month_in_progress(desk: Desk, tmp_path: Path) -> None:
    for day in ("2026-11-02T10:00:00+08:00", "2026-11-03T10:00:00+08:00"):
        ticket = desk.new(now=day)
        desk.ok("accept", ticket, now=day)
    desk.new(now="2026-12-01T10:00:00+08:00")  # December: only a day old, nothing decided
    out = tmp_path / "kpi.html"
    desk.ok("stats", "--html", "-o", str(out), now="2026-12-02T10:00:00+08:00")
    html = out.read_text("utf-8")
    assert "2026-12*" in html and "2026-12（本月至今，未结束 in progress）" in html
    assert "2026-12 响应" not in html  # nothing decided yet in December: no point
    desk.ok("accept", desk.new(now="2026-12-01T11:00:00+08:00"), now="2026-12-01T11:05:00+08:00")
    desk.ok("stats", "--html", "-o", str(out), now="2026-12-02T10:00:00+08:00")
    html = out.read_text("utf-8")
    assert 'pt-response partial" ' in html and "未结束" in html  # hollow, off the line
    assert 'class="n n-response"' in html  # points show how many incidents they rest on
    assert "事件及时响应率 = 及时响应数 ÷（及时 + 超时）" in html


def test_article_ids_complete_in_the_shell(desk: Desk) -> None:
    """`kb show KB-<TAB>` offers the store's article IDs (file names only)."""
    import os
    import subprocess
    import sys

    added = desk.ok("kb", "add", "--title", "打印机卡纸处理", "--solution", "取出残纸").stdout
    article = added.strip()
    env = {
        **os.environ,
        "ELINKCTL_STORE": str(desk.root),
        "_ELINKCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": f"elinkctl kb show {article[:4]}",
        "COMP_CWORD": "3",
    }
    script = "import sys; from elinkctl.cli import cli; cli(prog_name='elinkctl')"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    ).stdout
    assert f"plain,{article}" in out.splitlines()
