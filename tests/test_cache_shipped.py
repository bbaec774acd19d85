"""The index brought by a clone (`elinkctl.cache.shipped`): a fresh clone's
first command starts from the published index, and every command gives the
same answers as reading every file, whether the published index is current,
older than the clone, made from a dirty work tree, lying, of other code or
not a database at all. The reference answers come from the same commands
with the index switched off (tests/test_cache_index.py's `assert_same`)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from generate import generate
from tests.conftest import Desk
from tests.test_cache_index import NOW, NOW_DT, answers, assert_same, index_of, some_ticket

from elinkctl.cache import shipped


def git(root: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, input=data
    ).stdout.decode()


@pytest.fixture
def origin(desk: Desk) -> Desk:
    """A generated store (80 tickets, 12 open) whose index is published."""
    shutil.rmtree(desk.root)
    generate(desk.root, 80, 3, open_count=12, seed=11, now=NOW_DT, actor="gen", processes=1)
    desk.ok("check", now=NOW)
    desk.ok("index", "publish", now=NOW)
    return desk


def clone(origin: Desk, tmp_path: Path, name: str = "clone") -> Desk:
    target = tmp_path / name
    git(tmp_path, "clone", "-q", str(origin.root), str(target))
    return Desk(target, CliRunner())


def shipped_meta(root: Path) -> str | None:
    """The ``shipped`` mark: present only in an index that came from a publication."""
    db = sqlite3.connect(index_of(root))
    try:
        row = db.execute("SELECT value FROM meta WHERE name='shipped'").fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


def republish(root: Path, change: Callable[[Path], None]) -> None:
    """Replace the published index by ``change``d copy of it (a forged or broken one)."""
    retree(root, shipped.DB_FILE, change)


def edit_db(sql: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute(sql)
        db.close()

    return change


def test_a_clone_starts_from_the_published_index(
    origin: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = answers(origin)
    work = clone(origin, tmp_path)
    assert "origin/elinkctl-index" in git(work.root, "branch", "-r")
    assert not index_of(work.root).exists()
    got = assert_same(work, monkeypatch)
    assert shipped_meta(work.root) == shipped.rows_code()  # it came from the publication
    assert (work.root / ".git" / "elinkctl" / "check-plan.json").exists()
    assert {k: v for k, v in got.items() if k != "check --dry-run --json"} == {
        k: v for k, v in reference.items() if k != "check --dry-run --json"
    }


def test_a_clone_newer_than_the_publication(
    origin: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_id = origin.new(now=NOW)
    path = some_ticket(origin.root, "pending")
    path.write_text(
        path.read_text(encoding="utf-8").replace("title: ", "title: 改 ", 1), encoding="utf-8"
    )
    git(origin.root, "commit", "-q", "-am", "hand edit")
    gone = some_ticket(origin.root, "closed")
    git(origin.root, "rm", "-q", str(gone))
    git(origin.root, "commit", "-q", "-m", "remove one")
    work = clone(origin, tmp_path)
    got = assert_same(work, monkeypatch)
    assert new_id in got["open_ids"]
    assert shipped_meta(work.root) == shipped.rows_code()


def test_published_from_a_dirty_work_tree(
    origin: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = some_ticket(origin.root, "pending")
    copy = src.with_name(src.stem[:-5] + "ZZZZZ.yaml")
    copy.write_text(src.read_text(encoding="utf-8").replace(src.stem, copy.stem), encoding="utf-8")
    edited = some_ticket(origin.root, "closed")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    origin.ok("index", "publish", now=NOW)
    seen: list[str] = []

    def rows_of(path: Path) -> None:
        seen.extend(str(p) for (p,) in sqlite3.connect(path).execute("SELECT path FROM tickets"))

    republish(origin.root, rows_of)
    home = {origin.root.joinpath(p).name for p in seen}
    assert copy.name not in home and edited.name not in home and len(home) == 79
    work = clone(origin, tmp_path)
    got = assert_same(work, monkeypatch)
    assert copy.stem not in got["open_ids"]  # untracked there, so not in the clone
    assert shipped_meta(work.root) == shipped.rows_code()


@pytest.mark.parametrize(
    "change",
    [
        edit_db("UPDATE tickets SET status='closed', title='forged'"),
        edit_db("UPDATE meta SET value='other code' WHERE name='shipped'"),
        edit_db("UPDATE meta SET value='0.0' WHERE name='schema'"),
        lambda path: path.write_bytes(b"not a database \x00\xff" * 500),
    ],
    ids=["lying-rows", "other-code", "other-schema", "not-a-database"],
)
def test_a_bad_publication_is_not_used(
    origin: Desk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Path], None],
) -> None:
    republish(origin.root, change)
    work = clone(origin, tmp_path)
    got = assert_same(work, monkeypatch)
    assert len(got["open_ids"]) == 12
    assert shipped_meta(work.root) is None  # built from the files instead


def test_a_lost_or_corrupt_index_in_a_clone(
    origin: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = clone(origin, tmp_path)
    first = assert_same(work, monkeypatch)
    db = index_of(work.root)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert assert_same(work, monkeypatch) == first  # fetched again
    assert shipped_meta(work.root) == shipped.rows_code()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database \x00\xff" * 300)
    assert assert_same(work, monkeypatch) == first


def test_an_index_already_there_is_never_replaced(origin: Desk, tmp_path: Path) -> None:
    work = clone(origin, tmp_path)
    work.ok("list", env={"ELINKCTL_NOW": NOW})
    db = index_of(work.root)
    sqlite3.connect(db).execute("CREATE TABLE mine (x)").connection.commit()
    work.ok("stats", now=NOW)
    tables = sqlite3.connect(db).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("mine",) in tables


def test_the_published_check_plan_spares_the_first_check(
    origin: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from elinkctl.store.store import Store

    loaded: list[Path] = []
    real = Store.load_path

    def counting(self: Store, path: Path) -> object:
        loaded.append(path)
        return real(self, path)

    monkeypatch.setattr(Store, "load_path", counting)
    without = clone(origin, tmp_path, "without")
    without.ok("list", now=NOW)
    (without.root / ".git" / "elinkctl" / "check-plan.json").unlink()
    loaded.clear()
    reference = without.ok("check", "--dry-run", "--json", now=NOW).stdout
    read_without = len(loaded)
    loaded.clear()
    work = clone(origin, tmp_path)
    assert work.ok("check", "--dry-run", "--json", now=NOW).stdout == reference
    # The plan arrived before check looked at it (the sample check re-reads up to SAMPLE rows).
    assert len(loaded) - shipped.SAMPLE < read_without


def test_a_sparse_clone_answers_from_the_publication(origin: Desk, tmp_path: Path) -> None:
    """The 1,000,000 plan's sparse checkout: rows of tickets outside the cone
    come from the publication by blob ID (their files are not there to read)."""
    months = sorted({p.parent for p in (origin.root / "tickets").glob("*/*/INC-*.yaml")})
    cone = months[-1].relative_to(origin.root).as_posix()
    target = tmp_path / "sparse"
    git(tmp_path, "clone", "-q", "--sparse", str(origin.root), str(target))
    git(target, "sparse-checkout", "set", cone)
    work = Desk(target, CliRunner())
    assert not (target / months[0].relative_to(origin.root)).exists()
    for args in (("list", "--json"), ("stats", "--json"), ("stats", "--by", "priority", "--json")):
        assert work.ok(*args, now=NOW).stdout == origin.ok(*args, now=NOW).stdout, args


def test_publish_errors_are_one_line(origin: Desk) -> None:
    result = origin.run("index", "publish", "--push", "nowhere", now=NOW)
    assert result.exit_code == 1
    published, error = result.stderr.splitlines()  # what was done, then one line
    assert published.startswith("published the index of ")
    assert error.startswith("Error: index publish: git push: ") and "nowhere" in error


def test_a_clone_edited_before_its_first_command(
    origin: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = clone(origin, tmp_path)
    edited = some_ticket(work.root, "pending")
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("title: ", "title: 手改 ", 1), encoding="utf-8"
    )
    src = some_ticket(work.root, "in_progress")
    copy = src.with_name(src.stem[:-5] + "YYYYY.yaml")
    copy.write_text(src.read_text(encoding="utf-8").replace(src.stem, copy.stem), encoding="utf-8")
    broken = some_ticket(work.root, "closed")
    broken.write_text("schema: 1\nid: [unclosed\n", encoding="utf-8")
    got = assert_same(work, monkeypatch)
    assert copy.stem in got["open_ids"]
    assert broken.name in got["list"][2]
    assert shipped_meta(work.root) == shipped.rows_code()


# --- the knowledge base's databases (cache/shipped_kb.py) ---------------------------------


def state_of(desk: Desk) -> Path:
    return desk.root / ".git" / "elinkctl"


def searches(desk: Desk) -> list[str]:
    return [
        desk.ok("kb", "search", query, now=NOW).stdout
        for query in ("打印机", "邮箱 登录", "VPN连不上", "系统 慢")
    ]


def retree(root: Path, name: str, change: Callable[[Path], None]) -> None:
    """Publish again with the file ``name`` of the publication ``change``d."""
    tree = git(root, "ls-tree", shipped.REF)
    work = root / ".git" / f"tamper-{name}"
    work.write_bytes(
        subprocess.run(
            ["git", "cat-file", "blob", f"{shipped.REF}:{name}"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout
    )
    change(work)
    blob = git(root, "hash-object", "-w", str(work)).strip()
    lines = [
        ln if not ln.endswith(f"\t{name}") else f"100644 blob {blob}\t{name}"
        for ln in tree.splitlines()
    ]
    new_tree = git(root, "mktree", data=("\n".join(lines) + "\n").encode()).strip()
    git(root, "update-ref", shipped.REF, git(root, "commit-tree", new_tree, "-m", "re").strip())
    work.unlink()


def test_a_clone_searches_from_the_published_knowledge_base(origin: Desk, tmp_path: Path) -> None:
    """The first `kb search` of a clone uses the published search database
    (no full build: no kb-index.bin) and answers as the origin does; `new`
    suggests at once from the published suggestion database."""
    listed = git(origin.root, "ls-tree", "--name-only", shipped.REF).split()
    assert {"kb-search.sqlite", "kb-suggest.sqlite", "kb.version"} <= set(listed)
    reference = searches(origin)
    work = clone(origin, tmp_path)
    assert searches(work) == reference
    assert shipped_meta(work.root) == shipped.rows_code()  # the ticket index came along
    assert (state_of(work) / "kb-search.sqlite").exists()
    assert not (state_of(work) / "kb-index.bin").exists()  # nothing was built from the files
    title = ("new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "张三")
    made = [d.ok(*title, "--priority", "P3", now=NOW).stderr for d in (origin, work)]
    assert "suggest" in made[0] and made[0] == made[1].replace(*_ids(made[1], made[0]))
    assert not (state_of(work) / "kb-index.bin").exists()


def _ids(got: str, want: str) -> tuple[str, str]:
    """(the new incident's ID in ``got``, in ``want``): each registers its own."""
    import re

    pattern = re.compile(r"INC-\d{6}-[0-9A-Z]{5}: registered")
    return pattern.findall(got)[0], pattern.findall(want)[0]


@pytest.mark.parametrize("tamper", ["other code", "forged titles"])
def test_a_bad_knowledge_base_publication_is_not_used(
    origin: Desk, tmp_path: Path, tamper: str
) -> None:
    if tamper == "other code":
        retree(origin.root, "kb.version", lambda p: p.write_text("older code", encoding="utf-8"))
    else:
        retree(origin.root, "kb-search.sqlite", edit_db("UPDATE docs SET title = '伪造的标题'"))
    reference = searches(origin)
    work = clone(origin, tmp_path)
    assert searches(work) == reference
    assert (state_of(work) / "kb-index.bin").exists()  # built from the files instead
    assert "伪造" not in "".join(searches(work))


def test_new_as_a_clone_s_first_command_suggests_from_the_publication(
    origin: Desk, tmp_path: Path
) -> None:
    work = clone(origin, tmp_path)
    title = ("new", "--title", "打印机卡纸", "--type", "failure", "--reporter", "张三")
    made = [d.ok(*title, "--priority", "P3", now=NOW).stderr for d in (origin, work)]
    assert "suggest" in made[0] and made[0] == made[1].replace(*_ids(made[1], made[0]))
    assert not (state_of(work) / "kb-index.bin").exists()


def test_an_older_publication_is_left_unreachable(origin: Desk) -> None:
    """Publishing every night keeps one publication reachable, not ninety
    (a reflog of the branch would keep each for 90 days: 57 MB a night at
    100,000 tickets): git gc may prune the older ones."""
    first = git(origin.root, "rev-parse", shipped.REF).strip()
    origin.new(now=NOW)
    origin.ok("index", "publish", now=NOW)
    assert git(origin.root, "rev-parse", shipped.REF).strip() != first
    assert git(origin.root, "reflog", "show", shipped.BRANCH).strip() == ""
    reachable = git(origin.root, "rev-list", "--all", "--reflog").split()
    assert first not in reachable
