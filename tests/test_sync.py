"""`sync` with a real bare remote and plain `git clone`s, every command a real process."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

from elinkctl.domain import lifecycle, merge, ticketfile
from gitfixtures import fsck_clean, git, run, shared_desk, tickets

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


class Clock:
    """ELINKCTL_NOW that moves forward one minute per command."""

    def __init__(self) -> None:
        self.minute = 0

    def __call__(self) -> str:
        self.minute += 1
        return (T0 + dt.timedelta(minutes=self.minute)).isoformat()


def comments(store: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for t in tickets(store).values():
        out.update(str(e.get("text")) for e in t.events if e.type == "commented")
    return out


def new(store: Path, clock: Clock, title: str, user: str = "desk-wang") -> str:
    return run(
        store,
        "new",
        "--title",
        title,
        "--type",
        "failure",
        "--reporter",
        "张三",
        user=user,
        now=clock(),
    ).stdout.strip()


def test_clones_interleave_changes_and_sync_in_turns(tmp_path: Path) -> None:
    desk = shared_desk(tmp_path, clones=3)
    clock = Clock()
    a, b, c = desk.clones
    ids = [new(a, clock, "财务系统无法登录"), new(a, clock, "打印机卡纸")]
    run(a, "sync", now=clock())
    for clone in (b, c):
        run(clone, "sync", now=clock())
        config = (clone / ".git" / "config").read_text()
        assert '[merge "elinkctl-ticket"]' in config and "-m elinkctl merge-file" in config
    expected: Counter[str] = Counter()
    orders = [(a, b, c), (c, a, b), (b, c, a), (a, c, b)]
    for rnd, order in enumerate(orders):
        for i, clone in enumerate(desk.clones):
            for ticket_id in ids:
                text = f"r{rnd}-clone{i}-{ticket_id[-5:]}"
                run(clone, "comment", ticket_id, "-m", text, user=f"eng{i}", now=clock())
                expected[text] += 1
            run(clone, "edit", ids[0], "--system", f"系统{rnd}{i}", user=f"eng{i}", now=clock())
        if rnd == 1:  # two desks screen the same incident at once
            run(a, "accept", ids[1], user="eng0", now=clock())
            run(b, "accept", ids[1], user="eng1", now=clock())
        for clone in order:
            report = json.loads(run(clone, "sync", "--json", now=clock()).stdout)
            assert report["ok"] and report["status"] in ("synced", "up-to-date")
    for clone in desk.clones:  # the first clone sees what the last one pushed
        run(clone, "sync", now=clock())
    heads = {git(clone, "rev-parse", "HEAD^{tree}") for clone in desk.clones}
    assert len(heads) == 1
    for clone in desk.clones:
        assert comments(clone) == expected
        fsck_clean(clone)
        accepted = tickets(clone)[ids[1]]
        kinds = [e.type for e in accepted.events]
        assert kinds.count("accepted") == 1 and kinds.count("superseded") == 1
        edited = tickets(clone)[ids[0]]
        # the last round's edits conflict; every discarded value is on record
        notes = [e for e in edited.events if e.get("merge")]
        assert notes and all(e.get("discarded") for e in notes)
    report = json.loads(run(a, "sync", "--json").stdout)
    assert report["status"] == "up-to-date" and report["commits_out"] == 0


def test_sync_without_remote_and_offline(tmp_path: Path) -> None:
    desk = shared_desk(tmp_path, clones=2)
    a, b = desk.clones
    lone = tmp_path / "lone"
    run(tmp_path, "init", str(lone))
    proc = run(lone, "sync", "--json")
    assert json.loads(proc.stdout)["status"] == "no-remote"
    assert "no remote configured" in proc.stderr
    clock = Clock()
    ticket_id = new(a, clock, "网络中断")
    shutil.move(desk.remote, tmp_path / "away.git")
    proc = run(a, "sync", check=False)
    assert proc.returncode == 1
    assert "cannot reach origin" in proc.stderr and "local commits kept" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ticket_id in git(a, "log", "-1", "--format=%s")
    shutil.move(tmp_path / "away.git", desk.remote)
    run(a, "sync")
    run(b, "sync")
    assert ticket_id in tickets(b)


def _crafted(ticket_id: str, by: str, minute: int, title: str) -> str:
    when = T0 + dt.timedelta(minutes=minute)
    fields = {"title": title, "type": "failure", "priority": "P3", "reporter": {"name": by}}
    change = lifecycle.register(ticket_id, fields, by, when, when, when)
    return ticketfile.dumps(change.ticket)


def _commit_file(store: Path, rel: str, text: str, message: str) -> None:
    path = store / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(store, "add", rel)
    git(store, "commit", "--quiet", "-m", message)


def test_id_collision_keeps_both_incidents(tmp_path: Path) -> None:
    desk = shared_desk(tmp_path, clones=3)
    a, b, c = desk.clones
    same = "INC-261123-7KQ2M"
    rel = f"tickets/2026/11/{same}.yaml"
    # the same ID drawn in two clones for different incidents; a's is the earlier
    _commit_file(a, rel, _crafted(same, "desk-a", 1, "A 的事件"), "a: new")
    _commit_file(b, rel, _crafted(same, "desk-b", 5, "B 的事件"), "b: new")
    later = (T0 + dt.timedelta(minutes=6)).isoformat()
    run(b, "comment", same, "-m", "b before sync", user="desk-b", now=later)
    run(b, "sync")
    # a merges: a's incident keeps the ID, b's is renamed here
    report = json.loads(run(a, "sync", "--json").stdout)
    assert len(report["collisions"]) == 1 and report["collisions"][0]["old"] == same
    renamed = report["collisions"][0]["new"]
    # meanwhile b kept working on its incident under the old ID
    later = (T0 + dt.timedelta(minutes=30)).isoformat()
    run(b, "comment", same, "-m", "b after a's repair", user="desk-b", now=later)
    run(b, "sync")
    run(a, "sync")
    run(c, "sync")
    for clone in desk.clones:
        found = tickets(clone)
        assert set(found) == {same, renamed}
        assert found[same].title == "A 的事件" and found[same].aliases == ()
        assert found[renamed].title == "B 的事件" and found[renamed].aliases == (same,)
        texts = Counter(e.get("text") for e in found[renamed].events if e.type == "commented")
        assert texts == Counter({"b before sync": 1, "b after a's repair": 1})
        fsck_clean(clone)
        assert not list((clone / ".git" / "elinkctl").glob("collisions/*.json"))
    shown = json.loads(run(c, "show", renamed[-5:], "--json").stdout)
    assert shown["id"] == renamed


def test_knowledge_articles_merge_without_markers(tmp_path: Path) -> None:
    desk = shared_desk(tmp_path, clones=2)
    a, b = desk.clones
    rel = "knowledge/KB-7KQ2M.md"
    article = (
        "---\nid: KB-7KQ2M\ntitle: 登录失败\nkeywords:\n- 登录\n---\n\n"
        "## 现象\n\n无法登录。\n\n## 原因\n\n证书过期。\n\n## 解决方案\n\n更新证书。\n"
    )
    _commit_file(a, rel, article, "kb")
    run(a, "sync")
    run(b, "sync")
    for clone, word, mark in ((a, "证书", "A"), (b, "SSO", "B")):
        edited = article.replace("- 登录\n", f"- 登录\n- {word}\n")
        _commit_file(clone, rel, edited.replace("证书过期。", f"证书过期（{mark}）。"), mark)
    run(a, "sync")
    run(b, "sync")
    run(a, "sync")
    for clone in desk.clones:
        text = (clone / rel).read_text(encoding="utf-8")
        assert "<<<<<<<" not in text and "证书过期（A）。" in text and "证书过期（B）。" in text
        assert merge.CONFLICT_HEADING in text
        front, _ = merge.split_front_matter(text)
        assert sorted(front["keywords"]) == ["SSO", "登录", "证书"]
