"""A sparse checkout is a first-class way to run elinkctl (issue 17, the plan
for 1,000,000 tickets, item 3): an engineer checks out a year
(`git sparse-checkout set tickets/2026`, cone mode) and every command
answers exactly as a full clone does, without any published index. Tickets
outside the cone are read from their blobs (`elinkctl.cache.blobs`); a step
on one checks its month out first; fsck checks them from their blobs.

Real git everywhere: an origin store made by the generator, a full clone
and a sparse clone of it, compared command by command."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from generate import generate
from tests.conftest import Desk
from tests.test_cache_index import NOW, NOW_DT, index_of

from elinkctl.store.store import Store

READS: list[tuple[str, ...]] = [
    ("list", "--json"),
    ("list", "--open", "--json"),
    ("stats", "--json"),
    ("stats", "--by", "priority", "--json"),
    ("check", "--dry-run", "--json"),
    ("kb", "search", "登录", "--json"),
    ("kb", "search", "打印机 卡纸", "--json"),
    ("kb", "search", "vpn 连不上", "--json"),
]


def git(root: Path, *args: str, input_text: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, input=input_text
    ).stdout


@pytest.fixture
def origin(desk: Desk) -> Desk:
    """A generated store of 80 tickets over three months (12 open) and a
    knowledge article, nothing published."""
    shutil.rmtree(desk.root)
    generate(desk.root, 80, 3, open_count=12, seed=11, now=NOW_DT, actor="gen", processes=1)
    desk.ok(
        "kb", "add", "--title", "VPN客户端无法连接", "--system", "VPN", "--keyword", "vpn",
        "--symptom", "连接时提示超时", "--solution", "重装客户端并更新证书", now=NOW,
    )  # fmt: skip
    return desk


def months(root: Path) -> list[str]:
    found = {p.parent.relative_to(root).as_posix() for p in root.glob("tickets/*/*/INC-*.yaml")}
    return sorted(found)


def clone(origin: Desk, tmp_path: Path, name: str, cone: list[str] | None = None) -> Desk:
    """A full clone, or (``cone``) a sparse one holding only those folders."""
    target = tmp_path / name
    if cone is None:
        git(tmp_path, "clone", "-q", str(origin.root), str(target))
    else:
        git(tmp_path, "clone", "-q", "--sparse", str(origin.root), str(target))
        git(target, "sparse-checkout", "set", *cone)
    return Desk(target, CliRunner())


@pytest.fixture
def pair(origin: Desk, tmp_path: Path) -> tuple[Desk, Desk, str]:
    """(full clone, sparse clone of the oldest month, the newest month: outside
    its cone, and where the open tickets are)."""
    all_months = months(origin.root)
    full = clone(origin, tmp_path, "full")
    sparse = clone(origin, tmp_path, "sparse", [all_months[0]])
    outside = all_months[-1]
    assert not (sparse.root / outside).exists()
    assert (sparse.root / all_months[0]).is_dir()
    return full, sparse, outside


def ticket_in(root: Path, folder: str, status: str | None = None) -> str:
    """The ID of a ticket of ``folder`` (with ``status``), read from git (the
    folder may be outside the work tree)."""
    for line in git(root, "ls-files", "--", folder).splitlines():
        text = git(root, "show", f"HEAD:{line}")
        if status is None or f"\nstatus: {status}\n" in text:
            return Path(line).stem
    raise AssertionError(f"no {status} ticket in {folder}")


def assert_same_reads(full: Desk, sparse: Desk, ticket_id: str) -> None:
    commands = [
        *READS,
        ("show", ticket_id, "--json"),
        ("log", ticket_id, "--json"),
        ("print", ticket_id),
    ]
    for args in commands:
        want = full.run(*args, now=NOW)
        got = sparse.run(*args, now=NOW)
        assert (got.exit_code, got.stdout) == (want.exit_code, want.stdout), args
        assert got.exit_code == 0, (args, got.stderr)


def test_a_sparse_clone_without_publication_answers_as_a_full_clone(
    pair: tuple[Desk, Desk, str],
) -> None:
    full, sparse, outside = pair
    assert "elinkctl-index" not in git(sparse.root, "branch", "-a")
    tid = ticket_in(sparse.root, outside)
    assert_same_reads(full, sparse, tid)
    assert index_of(sparse.root).exists()  # the index was built, from blobs for the others
    assert not (sparse.root / "knowledge").exists()  # the article too is read from git
    assert "VPN客户端无法连接" in sparse.ok("kb", "search", "vpn 连不上", now=NOW).stdout
    # Warm: the second time nothing is parsed again.
    store = Store(sparse.root)
    store.index().refresh()
    assert store.index().reread == 0
    assert_same_reads(full, sparse, tid)


def test_show_of_a_ticket_outside_the_cone_without_an_index(pair: tuple[Desk, Desk, str]) -> None:
    """`show` needs no index: the blob comes from git's index entry (tag S)."""
    full, sparse, outside = pair
    tid = ticket_in(sparse.root, outside)
    want = full.ok("show", tid, "--json", now=NOW).stdout
    assert sparse.ok("show", tid, "--json", now=NOW).stdout == want
    store = Store(sparse.root)
    path = store.path_of(tid)
    assert not path.exists()
    assert store.load_path(path) == Store(full.root).load(tid)


def test_a_pull_changes_a_ticket_outside_the_cone(
    origin: Desk, pair: tuple[Desk, Desk, str]
) -> None:
    full, sparse, outside = pair
    for desk in (full, sparse):
        desk.ok("list", "--json", now=NOW)  # warm indexes at the old commit
    tid = ticket_in(origin.root, outside, "in_progress")
    origin.ok("comment", tid, "-m", "远端的补充说明", now=NOW)
    origin.ok("resolve", tid, "--solution", "重启服务后恢复", now=NOW)
    for desk in (full, sparse):
        git(desk.root, "pull", "-q", "--no-rebase", "origin", "main")
    assert not (sparse.root / outside / f"{tid}.yaml").exists()
    assert_same_reads(full, sparse, tid)
    assert '"resolved"' in sparse.ok("show", tid, "--json", now=NOW).stdout


def test_a_step_on_a_ticket_outside_the_cone_checks_its_month_out(
    pair: tuple[Desk, Desk, str],
) -> None:
    full, sparse, outside = pair
    tid = ticket_in(sparse.root, outside, "in_progress")
    before = sparse.commit_count()
    result = sparse.ok("comment", tid, "-m", "用户已确认", now=NOW)
    assert f"checked out {outside} (sparse checkout)" in result.stderr
    assert sparse.commit_count() == before + 1
    assert (sparse.root / outside / f"{tid}.yaml").is_file()
    assert outside in git(sparse.root, "sparse-checkout", "list")
    assert git(sparse.root, "status", "--porcelain") == ""
    full.ok("comment", tid, "-m", "用户已确认", now=NOW)
    assert_same_reads(full, sparse, tid)
    # A second step in the same month has nothing more to check out.
    again = sparse.ok("comment", tid, "-m", "再次确认", now=NOW)
    assert "sparse checkout" not in again.stderr


def test_a_step_that_cannot_check_out_writes_nothing(pair: tuple[Desk, Desk, str]) -> None:
    _, sparse, outside = pair
    tid = ticket_in(sparse.root, outside, "in_progress")
    before = sparse.commit_count()
    lock = sparse.root / ".git" / "index.lock"
    lock.write_text("")  # another git holds git's index: sparse-checkout add fails
    try:
        result = sparse.run("comment", tid, "-m", "写不进去", now=NOW)
    finally:
        lock.unlink()
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"cannot check out {outside}" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sparse.commit_count() == before
    assert not (sparse.root / outside).exists()
    assert not (sparse.root / ".git" / "elinkctl" / "journal.json").exists()


def test_check_escalates_an_old_open_ticket_outside_the_cone(
    pair: tuple[Desk, Desk, str],
) -> None:
    """What `check` records on a full clone it records on the sparse one,
    checking out the months of the tickets it writes."""
    full, sparse, _ = pair
    want = json.loads(full.ok("check", "--json", now=NOW).stdout)
    got = sparse.ok("check", "--json", now=NOW)
    assert json.loads(got.stdout) == want
    written = {
        Path(p).parent.as_posix()
        for p in git(full.root, "diff", "--name-only", "HEAD@{1}", "HEAD").split()
        if p.startswith("tickets/")
    }
    assert written, "the generated history leaves escalations due"
    for folder in written:
        assert (sparse.root / folder).is_dir(), folder
    assert_same_reads(full, sparse, ticket_in(full.root, sorted(written)[0]))


def test_fsck_checks_the_tickets_outside_the_cone_from_their_blobs(
    pair: tuple[Desk, Desk, str],
) -> None:
    full, sparse, outside = pair
    full.ok("fsck", now=NOW)
    result = sparse.ok("fsck", now=NOW)
    outside_count = len(
        [
            p
            for p in git(sparse.root, "ls-files", "-t", "--", "tickets/").splitlines()
            if p[0] == "S"
        ]
    )
    assert f"{outside_count} tickets outside the sparse checkout checked from git" in (
        result.stdout + result.stderr
    )
    # A broken blob outside the cone is found as a broken file would be.
    tid = ticket_in(sparse.root, outside)
    rel = f"{outside}/{tid}.yaml"
    broken = git(sparse.root, "hash-object", "-w", "--stdin", input_text="id: [\n")
    git(sparse.root, "update-index", "--cacheinfo", f"100644,{broken.strip()},{rel}")
    git(sparse.root, "update-index", "--skip-worktree", rel)
    bad = sparse.run("fsck", now=NOW)
    assert bad.exit_code == 1
    assert rel in bad.stdout + bad.stderr


def test_a_ticket_outside_the_cone_is_bounded_like_a_file(pair: tuple[Desk, Desk, str]) -> None:
    """A blob over 2 MiB is refused before it is parsed, as a file is (docs/security.md)."""
    full, sparse, outside = pair
    tid = ticket_in(sparse.root, outside)
    rel = f"{outside}/{tid}.yaml"
    big = "# " + "x" * (2 * 1024 * 1024) + "\n"
    for desk in (full, sparse):
        blob = git(desk.root, "hash-object", "-w", "--stdin", input_text=big).strip()
        git(desk.root, "update-index", "--cacheinfo", f"100644,{blob},{rel}")
        git(desk.root, "commit", "-q", "-m", "a big ticket")
    (full.root / rel).write_text(big, encoding="utf-8")
    git(sparse.root, "update-index", "--skip-worktree", rel)  # --cacheinfo cleared the bit
    assert not (sparse.root / rel).exists()
    want = full.run("list", "--json", now=NOW)
    got = sparse.run("list", "--json", now=NOW)
    assert (got.exit_code, got.stdout) == (want.exit_code, want.stdout)
    assert got.stderr == want.stderr
    want = full.run("list", now=NOW)
    got = sparse.run("list", now=NOW)
    assert "more than the 2,097,152" in got.stderr
    assert (got.exit_code, got.stdout, got.stderr) == (want.exit_code, want.stdout, want.stderr)


def test_a_partial_clone_fetches_the_blobs_outside_the_cone_at_once(
    origin: Desk, tmp_path: Path
) -> None:
    """`git clone --filter=blob:none --sparse`: the blobs outside the cone
    are not in the clone; the index build fetches those it reads in one
    request (`blobs.fetch_missing`), not one request per blob as git's lazy
    fetch would (a pack each)."""
    git(origin.root, "config", "uploadpack.allowFilter", "true")
    all_months = months(origin.root)
    target = tmp_path / "partial"
    url = origin.root.as_uri()
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--sparse", url, str(target))
    git(target, "sparse-checkout", "set", all_months[0])
    partial = Desk(target, CliRunner())
    packs = target / ".git" / "objects" / "pack"
    before = len(list(packs.glob("*.pack")))
    full = clone(origin, tmp_path, "full")
    assert partial.ok("list", "--json", now=NOW).stdout == full.ok("list", "--json", now=NOW).stdout
    assert len(list(packs.glob("*.pack"))) - before == 1
    assert_same_reads(full, partial, ticket_in(target, all_months[-1]))


def through_a_remote(origin: Desk, tmp_path: Path) -> tuple[Desk, Desk, str]:
    """A bare remote of ``origin``, a full clone and a sparse clone of it (the
    oldest month), and the newest month: outside the sparse clone's cone."""
    all_months = months(origin.root)
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin.root), str(bare))
    full = Desk(tmp_path / "full", CliRunner())
    git(tmp_path, "clone", "-q", str(bare), str(full.root))
    sparse = Desk(tmp_path / "sparse", CliRunner())
    git(tmp_path, "clone", "-q", "--sparse", str(bare), str(sparse.root))
    git(sparse.root, "sparse-checkout", "set", all_months[0])
    return full, sparse, all_months[-1]


def test_sync_merges_changes_outside_the_cone(origin: Desk, tmp_path: Path) -> None:
    """`sync` in a sparse clone: a colleague's comments on a ticket outside
    the cone merge with the clone's own, on that ticket too (checked out by
    its own step), and every read then agrees with a full clone's."""
    full, sparse, outside = through_a_remote(origin, tmp_path)
    tid = ticket_in(full.root, outside, "in_progress")
    other = next(
        Path(p).stem
        for p in git(full.root, "ls-files", "--", outside).splitlines()
        if Path(p).stem != tid and "\nstatus: in_progress\n" in git(full.root, "show", f"HEAD:{p}")
    )
    full.ok("comment", tid, "-m", "同事的说明", now=NOW, user="李四")
    full.ok("comment", other, "-m", "只有同事改了这张", now=NOW, user="李四")
    full.ok("sync", now=NOW)
    sparse.ok("comment", tid, "-m", "我的说明", now=NOW)
    sparse.ok("sync", now=NOW)
    full.ok("sync", now=NOW)
    assert (sparse.root / outside / f"{tid}.yaml").is_file()  # its step checked it out
    for desk in (full, sparse):
        shown = desk.ok("show", tid, "--json", now=NOW).stdout
        assert "同事的说明" in shown and "我的说明" in shown
    assert_same_reads(full, sparse, other)
    assert git(sparse.root, "status", "--porcelain", "--untracked-files=no") == ""
    sparse.ok("fsck", now=NOW)


def test_check_outside_the_cone_under_strict_people(origin: Desk, tmp_path: Path) -> None:
    """A ticket `check` writes was read outside the transaction: its events
    before the step are still known in a sparse clone (read from the blob),
    so only the new ones are checked against the people list."""
    rules = origin.root / "escalation.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\nstrict_people: true\n", "utf-8")
    git(origin.root, "commit", "-q", "-am", "strict people")
    all_months = months(origin.root)
    full = clone(origin, tmp_path, "full")
    sparse = clone(origin, tmp_path, "sparse", [all_months[0]])
    want = full.ok("check", "--json", now=NOW, user="elinkctl-check")
    got = sparse.ok("check", "--json", now=NOW, user="elinkctl-check")
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert json.loads(got.stdout), "escalations were recorded"
    tid = ticket_in(full.root, all_months[-1], "in_progress")
    assert_same_reads(full, sparse, tid)


def test_fsck_checks_attachments_outside_the_cone_from_git(origin: Desk, tmp_path: Path) -> None:
    """A cone of tickets leaves ``attachments/`` out: fsck checks those files
    (size, SHA-256, recorded) from their blobs instead of calling them missing."""
    tid = ticket_in(origin.root, months(origin.root)[-1], "in_progress")
    form = tmp_path / "签字单.txt"
    form.write_text("现场服务单，已签字\n", encoding="utf-8")
    origin.ok("attach", tid, str(form), now=NOW)
    full = clone(origin, tmp_path, "full")
    sparse = clone(origin, tmp_path, "sparse", [months(origin.root)[0]])
    assert not (sparse.root / "attachments").exists()
    full.ok("fsck", now=NOW)
    assert "attachments" not in sparse.ok("fsck", now=NOW).stdout
    # A blob that is not what the event recorded is found as a file would be.
    rel = git(sparse.root, "ls-files", "--", "attachments/").split()[0]
    forged = git(sparse.root, "hash-object", "-w", "--stdin", input_text="伪造\n").strip()
    git(sparse.root, "update-index", "--cacheinfo", f"100644,{forged},{rel}")
    git(sparse.root, "update-index", "--skip-worktree", rel)
    bad = sparse.run("fsck", now=NOW)
    assert bad.exit_code == 1
    assert f"{rel}: " in bad.stdout, bad.stdout


def test_without_an_index_a_sparse_clone_still_sees_every_ticket(
    pair: tuple[Desk, Desk, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the index cannot be used (a read-only .git, a broken SQLite) the
    commands read every ticket: those outside the checkout included."""
    from elinkctl.errors import StoreError

    full, sparse, outside = pair

    def no_index(self: Store) -> object:
        raise StoreError("index switched off")

    monkeypatch.setattr(Store, "index", no_index)
    assert_same_reads(full, sparse, ticket_in(sparse.root, outside))
    assert len(Store(sparse.root).all_ids()) == len(Store(full.root).all_ids()) == 80


def test_a_publication_lying_about_tickets_outside_the_cone_is_not_used(
    origin: Desk, tmp_path: Path
) -> None:
    """The sample that checks a published index re-reads tickets outside the
    checkout from their blobs (the blob its row names: no git call each):
    rows forged for them are caught as rows forged for files are
    (tests/test_cache_shipped.py)."""
    from tests.test_cache_shipped import edit_db, republish, shipped_meta

    origin.ok("index", "publish", now=NOW)
    all_months = months(origin.root)
    outside = f"{all_months[-1]}/"
    republish(
        origin.root,
        edit_db(f"UPDATE tickets SET title = '伪造的标题' WHERE path >= '{outside}'"),
    )
    full = clone(origin, tmp_path, "full")
    sparse = clone(origin, tmp_path, "sparse", [all_months[0]])
    want = full.ok("list", "--json", now=NOW).stdout
    assert sparse.ok("list", "--json", now=NOW).stdout == want
    assert "伪造的标题" not in want
    assert shipped_meta(sparse.root) is None  # built from the files and blobs instead


def test_a_new_ticket_in_a_sparse_clone(origin: Desk, tmp_path: Path) -> None:
    """A new incident's month is checked out when the cone leaves it out; a
    new month inside the cone (its folder not made yet) needs nothing."""
    all_months = months(origin.root)
    sparse = clone(origin, tmp_path, "sparse", [all_months[0]])
    result = sparse.run("new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "王五",
                        now=NOW)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    tid = result.stdout.strip()
    assert f"checked out {all_months[-1]} (sparse checkout)" in result.stderr
    assert sparse.ticket_path(tid).is_file()
    assert git(sparse.root, "status", "--porcelain", "--untracked-files=no") == ""
    year = clone(origin, tmp_path, "year", ["tickets/2026"])
    later = year.run("new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "王五",
                     now="2026-12-02T09:00:00+08:00")  # fmt: skip
    assert later.exit_code == 0, later.stderr
    assert "sparse checkout" not in later.stderr
    assert year.ticket_path(later.stdout.strip()).is_file()
    assert git(year.root, "sparse-checkout", "list").split() == ["tickets/2026"]


def test_sync_checks_what_arrived_outside_the_cone_too(origin: Desk, tmp_path: Path) -> None:
    """`sync` refuses to push over a broken ticket that arrived, as in a full
    clone, also when the ticket lies outside the sparse checkout."""
    full, sparse, outside = through_a_remote(origin, tmp_path)
    tid = ticket_in(full.root, outside, "in_progress")
    path = full.root / outside / f"{tid}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "<<<<<<< HEAD\n", encoding="utf-8")
    git(full.root, "commit", "-q", "-am", "a broken hand edit")
    git(full.root, "push", "-q", "origin", "HEAD")
    inside = ticket_in(sparse.root, months(origin.root)[0], "closed")
    sparse.ok("comment", inside, "-m", "本地的说明", now=NOW)
    refused = sparse.run("sync", now=NOW)
    assert refused.exit_code == 1, refused.output
    assert f"{outside}/{tid}.yaml" in refused.stdout + refused.stderr
    assert not (sparse.root / outside).exists()  # read from git, not checked out


def test_kb_show_and_list_of_articles_outside_the_cone(origin: Desk, tmp_path: Path) -> None:
    """A cone of tickets only leaves knowledge/ out: `kb list`, `kb show`
    (by a fragment too) read the articles from git, as a full clone shows them."""
    all_months = months(origin.root)
    full = clone(origin, tmp_path, "full")
    sparse = clone(origin, tmp_path, "sparse", [all_months[-1]])
    assert not (sparse.root / "knowledge").exists()
    listed = full.ok("kb", "list", "--json", now=NOW).stdout
    assert sparse.ok("kb", "list", "--json", now=NOW).stdout == listed
    article = json.loads(listed)[0]["id"]
    for given in (article, article[-3:]):
        shown = full.ok("kb", "show", given, now=NOW).stdout
        assert sparse.ok("kb", "show", given, now=NOW).stdout == shown
    assert not (sparse.root / "knowledge").exists()
