"""The index travelling with the repository: a branch one host publishes.

Why: a fresh clone of a 100,000-ticket desk has no index, and building one
means parsing every file (about 25 s of CPU). Every row, fact and month
fold of the index is a function of file contents (git blob IDs) and of the
code and rules that made it, so one machine's index is as good on another
that holds the same blobs. The check host publishes its index as the one
file of a parentless commit on the branch ``elinkctl-index``
(`publish`, ``elinkctl index publish --push origin``); a plain
``git clone`` brings it as ``origin/elinkctl-index``, and the first command
of the clone starts from it (`fetch`) instead of from nothing.

It is never believed, only checked, like the local index:

- it must be of this schema and `FORMAT_VERSION` and made by the same
  row-making code (`rows_code`: the parser, the model, the row shape);
  otherwise it is ignored and the index is built as before;
- a random sample of its rows (`SAMPLE`) whose file has the same blob here
  is parsed again and must give the very same row: one difference and the
  whole file is ignored;
- then the ordinary refresh runs on it: each row is used only for the blob
  ID it was made from (a file changed since the publication is read again,
  a month directory's untracked files are listed again, dirty files are
  compared by stat data), and facts and folds only under their version
  (code and rules digests) and generation.

The knowledge base's search and suggestion databases travel in the same
commit (`elinkctl.cache.shipped_kb`, which places them when a search or
`new` first needs them).

Only rows keyed by a blob are published (rows made from stat data describe
one machine's work tree). The published commit has no parent and the
branch is force-pushed, so a clone carries one copy. The file is put in
place only when no index exists (``os.link`` never replaces a file another
process created meanwhile), under a lock that also clears journal files a
discarded database may have left.

git is run with plain ``subprocess`` here: the cache layer sits below the
store's git wrapper.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl.cache.listing import line_of, shard_of, split_listing
from elinkctl.cache.plan import PLAN_FILE
from elinkctl.cache.rows import COLUMNS, BlobLoader, Loader, read_one
from elinkctl.errors import ElinkError
from elinkctl.progress import Progress

if TYPE_CHECKING:
    import sqlite3

    from elinkctl.cache.listing import Snapshot

BRANCH = "elinkctl-index"
REF = f"refs/heads/{BRANCH}"
REMOTE_REFS = f"refs/remotes/*/{BRANCH}"
DB_FILE = "index.sqlite"
SAMPLE = 64
"""Rows re-derived from their files before a published index is used."""
_CHUNK = 1 << 20


def rows_code() -> str:
    """A digest of the code that turns a file into a row: a published index
    made by other code (another release, a patched parser) is not used."""
    from elinkctl import fastyaml, yamlio
    from elinkctl.cache import listing, rows
    from elinkctl.cache.versions import code_digest
    from elinkctl.domain import model, ticketfile

    return code_digest(rows, listing, model, ticketfile, fastyaml, yamlio)


def git(root: Path, *args: str, data: bytes | None = None) -> bytes:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="elinkctl",
        GIT_AUTHOR_EMAIL="elinkctl@localhost",
        GIT_COMMITTER_NAME="elinkctl",
        GIT_COMMITTER_EMAIL="elinkctl@localhost",
    )
    done = subprocess.run(
        ["git", *args], cwd=root, input=data, capture_output=True, env=env, check=False
    )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OSError(f"git {args[0]}: {lines[0] if lines else 'failed'}")
    return done.stdout


# --- publishing (the check host) -------------------------------------------------------


def export(conn: sqlite3.Connection, dest: Path) -> int:
    """Write a compact copy of the index database ``conn`` to ``dest`` with
    only what holds on any machine; returns how many rows it has.

    Rows made from stat data (dirty or untracked files) are left out, and
    then git's listing too (the clone compares every row once); the month
    directories' stat signatures are blanked either way.
    """
    import sqlite3

    dest.unlink(missing_ok=True)
    conn.execute("VACUUM INTO ?", (str(dest),))
    out = sqlite3.connect(dest, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode=DELETE")
        local = [
            str(p) for (p,) in out.execute("SELECT path FROM tickets WHERE key NOT LIKE 'b:%'")
        ]
        out.execute("BEGIN")
        if local:
            for table in ("tickets", "aliases", "facts"):
                out.executemany(f"DELETE FROM {table} WHERE path=?", [(p,) for p in local])
            out.execute("DELETE FROM listing")
            out.execute("DELETE FROM meta WHERE name IN ('tracked', 'clean')")
            for shard in sorted({shard_of(p) for p in local}):
                (rows,) = out.execute(
                    "SELECT count(*) FROM tickets WHERE path >= ? AND path < ?",
                    (shard + "/", shard + "0"),
                ).fetchone()
                if rows:
                    out.execute(
                        "UPDATE shards SET gen=?, rows=? WHERE shard=?",
                        (uuid.uuid4().hex, rows, shard),
                    )
                else:
                    out.execute("DELETE FROM shards WHERE shard=?", (shard,))
        out.execute("UPDATE listing SET dirsig='', untracked='[]'")
        out.execute("INSERT OR REPLACE INTO meta VALUES ('shipped', ?)", (rows_code(),))
        out.execute("COMMIT")
        if local:
            out.execute("VACUUM")
        (count,) = out.execute("SELECT count(*) FROM tickets").fetchone()
        return int(count)
    finally:
        out.close()


def publish(
    conn: sqlite3.Connection,
    root: Path,
    state_dir: Path,
    extra: Sequence[tuple[str, str]] = (),
) -> tuple[str, int, int]:
    """Commit the index (`export`), the check plan and the ``extra`` (name,
    blob) files (the knowledge base's: `elinkctl.cache.shipped_kb.entries`)
    as the branch `BRANCH` (a parentless commit); returns (commit, rows,
    bytes). ``conn`` must be a freshly refreshed index."""
    tmp = state_dir / f"publish-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite"
    try:
        rows = export(conn, tmp)
        size = tmp.stat().st_size
        entries = [(DB_FILE, git(root, "hash-object", "-w", "--", str(tmp)).decode().strip())]
        plan = state_dir / PLAN_FILE
        if plan.is_file():
            entries.append(
                (PLAN_FILE, git(root, "hash-object", "-w", "--", str(plan)).decode().strip())
            )
        entries += extra
        listing = "".join(f"100644 blob {blob}\t{name}\n" for name, blob in sorted(entries))
        tree = git(root, "mktree", data=listing.encode()).decode().strip()
        head = git(root, "rev-parse", "--verify", "-q", "HEAD").decode().strip()
        message = (
            f"elinkctl index of {head}\n\nDerived data (disposable): the ticket index, "
            "facts and folds, checked by every clone before use.\n"
        )
        commit = git(root, "commit-tree", tree, "-m", message).decode().strip()
        git(root, "update-ref", "-m", "elinkctl index publish", REF, commit)
        # No reflog for the branch: it would keep every night's publication
        # (57 MB of objects at 100,000 tickets) reachable for 90 days. The
        # previous one is unreachable now; git gc prunes it after its grace.
        git(root, "reflog", "expire", "--expire=now", "--expire-unreachable=now", REF)
        return commit, rows, size
    finally:
        tmp.unlink(missing_ok=True)


def push(root: Path, remote: str) -> None:
    """Force-push the branch: the remote keeps one publication, not a history."""
    git(root, "push", "--quiet", "--force", remote, f"{REF}:{REF}")


# --- using one (any clone) ---------------------------------------------------------------


def find(root: Path) -> str | None:
    """The newest published index commit here: the local branch or a remote's."""
    out = git(
        root,
        "for-each-ref",
        "--sort=-committerdate",
        "--format=%(objectname)",
        REF,
        REMOTE_REFS,
    )
    first = out.split(b"\n", 1)[0].strip()
    return first.decode("ascii") if first else None


def fetch(
    root: Path,
    db_path: Path,
    check: Callable[[sqlite3.Connection], None],
    load: Loader,
    snap: Snapshot,
    progress: bool,
    load_blob: BlobLoader | None = None,
) -> bool:
    """Put a published index in place as ``db_path`` if there is one and it
    passes (`sample_ok`); also the published check plan when none exists.

    ``check`` raises `sqlite3.Error` unless the connection it is given is a
    database of the index's schema and version. False (and nothing
    changed) when there is none, it fails a check, or an index appeared
    meanwhile; the caller then builds the index as before.
    """
    import sqlite3

    commit = find(root)
    if commit is None:
        return False
    state = db_path.parent
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / f"shipped-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite"
    try:
        copy_blob(root, f"{commit}:{DB_FILE}", tmp, progress)
        conn = sqlite3.connect(tmp.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            check(conn)
            if not sample_ok(conn, root, load, snap, load_blob):
                return False
        finally:
            conn.close()
        plan = state / PLAN_FILE
        if not plan.exists():
            with contextlib.suppress(OSError):
                copy_blob(root, f"{commit}:{PLAN_FILE}", state / f"{PLAN_FILE}.shipped", False)
                os.replace(state / f"{PLAN_FILE}.shipped", plan)
        with _placing(state):
            if db_path.exists():
                return False  # another process made one meanwhile: use that
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
            os.link(tmp, db_path)
        return True
    except (OSError, sqlite3.Error, ValueError):
        return False
    finally:
        tmp.unlink(missing_ok=True)
        Path(state / f"{PLAN_FILE}.shipped").unlink(missing_ok=True)


def copy_blob(root: Path, spec: str, dest: Path, progress: bool) -> None:
    """Write a blob to ``dest`` as git streams it (a bar for a big one)."""
    size = int(git(root, "cat-file", "-s", spec))
    bar = Progress(
        max(size // _CHUNK, 1), "loading the published index", progress and size > 8 * _CHUNK
    )
    try:
        with (
            open(dest, "wb") as out,
            subprocess.Popen(
                ["git", "cat-file", "blob", spec],
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            ) as proc,
        ):
            assert proc.stdout is not None
            while block := proc.stdout.read(_CHUNK):
                out.write(block)
                bar.step(1)
        if proc.returncode != 0 or dest.stat().st_size != size:
            raise OSError(f"git cat-file {spec}: failed")
    finally:
        bar.finish()


@contextlib.contextmanager
def _placing(state: Path) -> Iterator[None]:
    import fcntl

    with open(state / "index.place.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sample_ok(
    conn: sqlite3.Connection,
    root: Path,
    load: Loader,
    snap: Snapshot,
    load_blob: BlobLoader | None = None,
) -> bool:
    """Whether the database was made by this code and a random sample of its
    rows, re-derived from the files that have the same blob here, match
    (a file outside a sparse checkout: from that blob, ``load_blob``)."""
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    if meta.get("shipped") != rows_code():
        return False
    (top,) = conn.execute("SELECT max(rowid) FROM tickets").fetchone()
    if not top:
        return False
    picks = random.sample(range(1, int(top) + 1), min(int(top), SAMPLE * 4))
    marks = ",".join("?" * len(picks))
    rows = conn.execute(
        f"SELECT {','.join(COLUMNS)} FROM tickets WHERE rowid IN ({marks})", picks
    ).fetchall()
    chunks = split_listing(snap.tracked) or {}
    checked = 0
    for row in rows:
        path, key = str(row[0]), str(row[2])
        blob, stages = line_of(chunks.get(shard_of(path), b""), path)
        if stages != 1 or key != f"b:{blob}" or path in snap.modified or path in snap.deleted:
            continue  # changed since the publication: the refresh reads it anyway
        try:
            made: Any = read_one(root, load, path, key, [], load_blob)[0]
        except (OSError, ElinkError):
            continue  # unreadable here: nothing to compare
        if tuple(made) != tuple(row):
            return False
        checked += 1
        if checked >= SAMPLE:
            break
    return True
