"""How the index finds what changed without reading every file
(`elinkctl.cache.listing`, `elinkctl.cache.changes`): git's listing cut per
month directory, untracked files from directory stat data, ``ls-files``
skipped while git's index file is unchanged.

Every scenario ends in the same check as tests/test_index.py: the indexed
answers equal the answers with the index switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from generate import generate
from tests.conftest import Desk
from tests.test_cache_index import NOW, NOW_DT, assert_same, git, some_ticket

from elinkctl.cache import FORMAT_VERSION, changes, prefetch
from elinkctl.cache.listing import line_of, listing_keys, split_listing
from elinkctl.store.store import Store


def generated(desk: Desk) -> Desk:
    """``desk`` with its store replaced by 60 generated tickets over 4 months."""
    shutil.rmtree(desk.root)
    generate(
        desk.root, 60, 4, open_count=8, seed=11, now=NOW_DT, actor="gen", processes=1,
        progress=False,
    )  # fmt: skip
    return desk


@pytest.fixture
def gen_desk(desk: Desk) -> Desk:
    return generated(desk)


@pytest.fixture(autouse=True)
def trust_recent_directories(monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory changed within the last seconds is always listed again
    (its ctime cannot be backdated); tests that want the stat signatures
    trusted right away shrink that window. Files keep their own racy rule."""
    monkeypatch.setattr(changes, "RACY_DIR_NS", 0)


def age_directories(root: Path) -> None:
    """Backdate every month directory's mtime, as hours after the last change."""
    past = 1_700_000_000
    for month in (root / "tickets").glob("*/*"):
        os.utime(month, (past, past))


def listing_rows(root: Path) -> dict[str, tuple[str, str, str]]:
    import sqlite3

    db = sqlite3.connect(root / ".git" / "elinkctl" / "index.sqlite")
    try:
        rows = db.execute("SELECT shard, digest, dirsig, untracked FROM listing")
        return {s: (d, g, u) for s, d, g, u in rows}
    finally:
        db.close()


def copy_as_untracked(root: Path, status: str = "in_progress") -> str:
    source = some_ticket(root, status)
    new_id = source.stem[:-5] + "ZZZZZ"
    text = source.read_text(encoding="utf-8").replace(source.stem, new_id)
    (source.parent / f"{new_id}.yaml").write_text(text, encoding="utf-8")
    return new_id


def test_untracked_file_in_a_trusted_directory(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch):
    age_directories(gen_desk.root)
    assert_same(gen_desk, monkeypatch)
    rows = listing_rows(gen_desk.root)
    assert rows and all(sig not in ("", "racy") for _, sig, _ in rows.values())
    new_id = copy_as_untracked(gen_desk.root)
    got = assert_same(gen_desk, monkeypatch)
    assert new_id in got["open_ids"]
    # Found once, then remembered with the directory's new signature.
    age_directories(gen_desk.root)
    assert new_id in assert_same(gen_desk, monkeypatch)["open_ids"]
    assert any(new_id in u for _, _, u in listing_rows(gen_desk.root).values())


def test_untracking_a_file_changes_no_directory(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch):
    """``git rm --cached`` leaves the directory as it was: the listing tells."""
    age_directories(gen_desk.root)
    assert_same(gen_desk, monkeypatch)
    path = some_ticket(gen_desk.root, "in_progress")
    git(gen_desk.root, "rm", "-q", "--cached", "--", str(path))
    path.write_text(
        path.read_text(encoding="utf-8").replace("\ntitle: ", "\ntitle: 未跟踪 "), "utf-8"
    )
    os.utime(path.parent, (1_700_000_000, 1_700_000_000))
    got = assert_same(gen_desk, monkeypatch)
    assert "未跟踪" in got["list --open --json"][1]
    git(gen_desk.root, "add", "--", str(path))
    assert "未跟踪" in assert_same(gen_desk, monkeypatch)["list --open --json"][1]


def test_removed_untracked_file_and_new_month(gen_desk: Desk, monkeypatch: pytest.MonkeyPatch):
    age_directories(gen_desk.root)
    new_id = copy_as_untracked(gen_desk.root)
    assert new_id in assert_same(gen_desk, monkeypatch)["open_ids"]
    next(gen_desk.root.glob(f"tickets/*/*/{new_id}.yaml")).unlink()
    assert new_id not in assert_same(gen_desk, monkeypatch)["open_ids"]
    # A hand-made month directory (e.g. a ticket copied from another desk).
    source = some_ticket(gen_desk.root, "in_progress")
    month = gen_desk.root / "tickets" / "2031" / "01"
    month.mkdir(parents=True)
    shutil.copy(source, month / source.name.replace(source.stem[4:10], "310101"))
    assert_same(gen_desk, monkeypatch)
    shutil.rmtree(gen_desk.root / "tickets" / "2031")
    assert_same(gen_desk, monkeypatch)


@pytest.mark.parametrize("parse_above", [64, 0])
def test_pull_rereads_only_what_changed(
    gen_desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parse_above: int
):
    """Changed paths are found by searching their month's chunk, or (many in
    one month) by parsing it; either way exactly the changed files are read."""
    monkeypatch.setattr(changes, "PARSE_CHUNK_ABOVE", parse_above)
    store = Store(gen_desk.root)
    store.index().refresh()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(gen_desk.root), str(clone))
    other = Desk(clone, gen_desk.runner)
    ids = Store(clone).open_ids()[:3]
    for ticket_id in ids:
        other.ok("comment", ticket_id, "-m", "远程备注", now=NOW)
    git(gen_desk.root, "pull", "-q", "--no-rebase", str(clone), "main")
    again = Store(gen_desk.root)
    again.index().refresh()
    assert again.index().reread == 3


def test_split_listing_matches_a_full_parse(gen_desk: Desk):
    listing = git_bytes(gen_desk.root, "ls-files", "-z", "-s", "--", "tickets/")
    chunks = split_listing(listing)
    assert chunks is not None and len(chunks) >= 4
    merged: dict[str, str] = {}
    for shard, chunk in chunks.items():
        keys, _ = listing_keys(chunk)
        assert all(p.startswith(shard + "/") for p in keys)
        merged.update(keys)
    assert merged == listing_keys(listing)[0]


def test_split_listing_odd_listings():
    blob = "0" * 40

    def line(path: str, stage: int = 0) -> bytes:
        return f"100644 {blob} {stage}\t{path}\0".encode()

    odd = line("tickets/.gitkeep") + line("tickets/2026/11/INC-261101-AAAAA.yaml")
    odd += line("tickets/2026/11/notes/x.txt") + line("tickets/README.md")
    chunks = split_listing(odd)
    assert chunks is not None
    assert list(chunks) == ["tickets/2026/11"]
    assert list(listing_keys(chunks["tickets/2026/11"])[0]) == [
        "tickets/2026/11/INC-261101-AAAAA.yaml"
    ]
    # A path with a tab and another directory's name in it: never mistaken
    # for that directory's line (parse everything instead).
    tab = line("tickets/2026/10/a.yaml") + line("tickets/2026/11/c.yaml")
    tab += line("tickets/2026/12/x\ttickets/2026/10/b.yaml")
    assert split_listing(tab) is None
    inside = line("tickets/2026/10/a\ttickets/2026/11/b.yaml") + line("tickets/2026/11/c.yaml")
    assert split_listing(inside) == {
        "tickets/2026/10": line("tickets/2026/10/a\ttickets/2026/11/b.yaml"),
        "tickets/2026/11": line("tickets/2026/11/c.yaml"),
    }
    unsorted = line("tickets/2026/11/a.yaml") + line("tickets/2026/10/b.yaml")
    unsorted += line("tickets/2026/11/c.yaml")
    assert split_listing(unsorted) is None
    assert split_listing(b"") == {}


def test_line_of_stages():
    blob = "a" * 40
    path = "tickets/2026/11/INC-261101-AAAAA.yaml"
    merged = f"100644 {blob} 0\t{path}\0".encode()
    assert line_of(merged, path) == (blob, 1)
    assert line_of(merged, path.replace("AAAAA", "BBBBB")) == (None, 0)
    conflict = b"".join(f"100644 {n * 40} {n}\t{path}\0".encode() for n in "123")
    found, stages = line_of(conflict, path)
    assert stages >= 2 and found is not None
    # A longer name that ends with this one is another file.
    other = f"100644 {blob} 0\ttickets/2026/11/X{path.rsplit('/', 1)[1]}\0".encode()
    assert line_of(other, path) == (None, 0)


def git_bytes(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True).stdout


# --- ls-files skipped while git's index file is unchanged --------------------------------


def counting_git(store: Store) -> list[tuple[str, ...]]:
    """Record the git commands the store's index runs."""
    calls: list[tuple[str, ...]] = []
    idx = store.index()
    real = idx.git

    def run(*commands: tuple[str, ...]) -> list[bytes]:
        calls.extend(tuple(c) for c in commands)
        return real(*commands)

    idx.git = run
    return calls


def test_listing_skipped_while_gits_index_is_unchanged(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(prefetch, "RACY_NS", 0)
    root = gen_desk.root
    Store(root).index().refresh()
    assert (root / ".git" / "elinkctl" / "listing.sig").exists()
    store = Store(root)
    calls = counting_git(store)
    store.index().refresh()
    assert calls == [prefetch.CHANGES]  # no ls-files
    # git's index changes (a hand edit staged): the listing is read again.
    path = some_ticket(root, "in_progress")
    path.write_text(path.read_text("utf-8").replace("\ntitle: ", "\ntitle: 暂存 "), "utf-8")
    git(root, "add", "--", str(path))
    store = Store(root)
    calls = counting_git(store)
    assert any(s.title.startswith("暂存") for s in store.summaries())
    assert prefetch.LISTING in calls
    assert_same(gen_desk, monkeypatch)
    # A commit elsewhere (a pull) replaces git's index file too.
    git(root, "commit", "-q", "-m", "手工提交")
    git(root, "reset", "-q", "--hard", "HEAD~1")
    got = assert_same(gen_desk, monkeypatch)
    assert "暂存" not in got["list --open --json"][1]


def test_listing_signature_file_unreadable_or_wrong(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(prefetch, "RACY_NS", 0)
    root = gen_desk.root
    Store(root).index().refresh()
    sig_file = root / ".git" / "elinkctl" / "listing.sig"
    _, sig, _ = sig_file.read_text("ascii").split()
    for text in (
        "garbage",
        "",
        f"v{FORMAT_VERSION} {sig} {'0' * 40}",  # another listing
        f"{sig} {'0' * 40}",  # no version: written by an older elinkctl
    ):
        sig_file.write_text(text, "ascii")
        path = some_ticket(root, "in_progress")
        path.write_text(path.read_text("utf-8").replace("\ntitle: ", "\ntitle: 再改 "), "utf-8")
        assert_same(gen_desk, monkeypatch)


def test_an_older_snapshot_written_last_is_not_trusted_later(
    gen_desk: Desk, monkeypatch: pytest.MonkeyPatch
):
    """Two commands race: the one with the older snapshot writes last. It
    leaves rows and stored chunks that describe that older state together,
    so the next command, comparing against them, still sees the truth.
    (Interleaving inside one refresh is excluded by comparing and writing in
    one write transaction; this test covers the order of whole refreshes.)"""
    root = gen_desk.root
    path = some_ticket(root, "in_progress")
    rel = path.relative_to(root).as_posix()
    original = path.read_text("utf-8")
    path.write_text(original.replace("\ntitle: ", "\ntitle: 脏 "), "utf-8")
    Store(root).index().refresh()  # the row is made from stat data
    git(root, "checkout", "--", rel)  # undone: clean again
    older = Store(root).index()
    snap = older.snapshot()  # taken now, used later
    path.write_text(original.replace("\ntitle: ", "\ntitle: 新提交 "), "utf-8")
    git(root, "commit", "-q", "-m", "手工提交", "--", rel)
    Store(root).index().refresh()  # the newer snapshot is written first
    older.refresh(snapshot=snap)  # then the older one
    got = assert_same(gen_desk, monkeypatch)
    assert "新提交" in got["list --open --json"][1]
