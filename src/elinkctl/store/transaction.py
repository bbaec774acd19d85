"""Changing the store: the transaction every writer goes through, its
journalled commit, and recovery from a command killed half-way.

`Store.transaction` takes the store lock (finishing what a killed
predecessor left: `recover`) and hands out a `Transaction`; its `commit`
writes the staged files atomically and commits exactly those files as the
actor. A journal under ``.git/elinkctl/`` written before the files and
removed after the commit lets the next command finish an interrupted
commit, so no event is ever lost between the rename and the commit.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Container, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from elinkctl.domain import ids, ticketfile
from elinkctl.domain.layout import is_attachment_path, is_journalable
from elinkctl.domain.model import Ticket
from elinkctl.errors import NotFound, PermissionDenied, StoreError, TicketError, UsageProblem
from elinkctl.fsio import MAX_TICKET_BYTES, atomic_write, sweep_temp_files

if TYPE_CHECKING:
    from elinkctl.config import Config
    from elinkctl.store.store import Store


RESERVE = 512 * 1024
"""Bytes below `MAX_TICKET_BYTES` kept for `check`'s own events (a few
hundred bytes a run, a ladder of at most a few dozen cells)."""


class Transaction:
    """Changes staged under the store lock, committed as one commit each.

    Built only by `Store.transaction`. Several commits in one transaction
    are allowed (a merge repair commits each renamed incident on its own).
    """

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor
        self._files: dict[str, tuple[Path, str | bytes, bool]] = {}
        self._originals: dict[str, Ticket] = {}
        self._tickets: dict[str, Ticket] = {}
        self.commits: list[str] = []

    @property
    def config(self) -> Config:
        return self.store.config

    @property
    def staged(self) -> list[str]:
        """Store-relative paths staged and not yet committed."""
        return list(self._files)

    def load(self, ticket_id: str) -> Ticket:
        """A ticket as this transaction sees it: staged, else as on disk now."""
        staged = self._tickets.get(ticket_id)
        if staged is not None:
            return staged
        ticket = self.store.load(ticket_id)
        self._originals[ticket_id] = ticket
        return ticket

    def find(self, given: str) -> Ticket:
        """`load` by any unique prefix or suffix of the ID."""
        return self.load(self.store.resolve_id(given))

    @property
    def taken(self) -> Container[str]:
        """IDs in use in this clone, staged ones included (for new IDs)."""
        return _Taken(self)

    def put(self, ticket: Ticket, *, is_new: bool = False, reserve: bool = True) -> None:
        """Stage a ticket's new contents (still new if staged as new before).

        A ticket may not grow past `MAX_TICKET_BYTES` less `RESERVE` (people's
        comments, edits, intake); ``reserve=False`` (`check`) may use the
        reserve, so a ticket padded to the limit still gets its escalations."""
        path = self.store.path_of(ticket.id)
        rel = self.store.rel(path)
        is_new = is_new or (rel in self._files and self._files[rel][2])
        problem = ticketfile.unwritable(ticket)
        if problem:
            raise TicketError(f"{problem}; nothing written")
        text = ticketfile.dumps(ticket)
        limit = MAX_TICKET_BYTES - (RESERVE if reserve else 0)
        if len(text) * 4 > limit and len(text.encode()) > limit:
            raise TicketError(
                f"{ticket.id}: the ticket file would be {len(text.encode()):,} bytes, more than "
                f"the {limit:,} a ticket may grow to; nothing written"
            )
        self._files[rel] = (path, text, is_new)
        self._tickets[ticket.id] = ticket

    def put_file(self, path: Path, content: str | bytes, *, is_new: bool = False) -> None:
        """Stage a knowledge article (or a ticket already rendered as text), or
        the bytes of an attachment (``attachments/<ID>/<safe name>``)."""
        rel = self.store.rel(path)
        if not is_journalable(rel):
            raise StoreError(f"{rel}: not a ticket or article path")
        self._files[rel] = (path, content, is_new)

    def commit(self, message: str, *, new_steps: bool = True) -> None:
        """Write what is staged and commit it as one commit (journalled, so a
        killed command is finished by the next one); nothing staged, no commit.

        Every new event is first checked against the permissions; a merge
        repair, which re-places history recorded elsewhere, passes
        ``new_steps=False``."""
        if not self._files:
            return
        if new_steps:
            self._authorize()
        files = list(self._files.values())
        check_out_sparse(self.store, [self.store.rel(path) for path, _, _ in files])
        commit_files(self.store, files, message, self.actor)
        self._files.clear()
        self._tickets.clear()
        self._originals.clear()
        self.commits.append(message)

    def check_actor(self) -> None:
        """Refuse at once an actor the people list does not know under
        ``strict_people`` (before a caller queues a notice or stages a file)."""
        from elinkctl.store.gitenv import ident_problem

        refused = ident_problem(self.actor, "actor name")
        if refused:
            raise UsageProblem(f"{refused}: git cannot record it as an author (--as)")
        problem = self.store.permissions.unknown_actor(self.actor)
        if problem:
            raise PermissionDenied(problem)

    def _authorize(self) -> None:
        """Refuse the commit when someone records a step their role does not
        allow (escalation.yaml ``permissions:``), or acts under a name the
        people list does not know while ``strict_people`` is on. Every new
        event is checked against the ticket as it was before it."""
        import dataclasses

        self.check_actor()
        perms = self.store.permissions
        for ticket in self._tickets.values():
            before = self._originals.get(ticket.id)
            if before is None:
                # As committed: the file, or its blob outside a sparse checkout.
                with contextlib.suppress(NotFound):
                    before = self.store.load(ticket.id)
            known = {e.id for e in before.events} if before is not None else set()
            for i, event in enumerate(ticket.events):
                if event.id in known:
                    continue
                prior = dataclasses.replace(ticket, events=ticket.events[:i]) if i else None
                problem = perms.refusal(event.by, event, prior)
                if problem:
                    raise PermissionDenied(f"{ticket.id}: {problem}")


class _Taken:
    """IDs already used in this clone: a file exists (O(1)) or one is staged."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    def __contains__(self, ticket_id: object) -> bool:
        if not isinstance(ticket_id, str) or not ids.is_valid(ticket_id):
            return False
        # A ticket outside a sparse checkout has no file but is taken all the same.
        return ticket_id in self.tx._tickets or self.tx.store.has_ticket(ticket_id)


def check_out_sparse(store: Store, rels: Sequence[str]) -> None:
    """In a sparse checkout, check out the folders of the files about to be
    written that lie outside it (`git sparse-checkout add tickets/2023/11`)
    and say so in ``store.notes``: a ticket outside the cone is absent from
    the work tree (its index entry has the skip-worktree bit), and writing
    it there would leave git's index and the work tree disagreeing. Fails
    with one line before anything is written. A full checkout costs a stat."""
    from elinkctl.cache.blobs import is_sparse

    if not is_sparse(store.state_dir.parent):
        return
    folders = outside_sparse_checkout(store, rels)
    if not folders:
        return
    status, _, err = store.git.try_run("sparse-checkout", "add", "--", *folders)
    if status != 0:
        detail = " ".join(err.split()) or f"exit {status}"
        raise StoreError(
            f"cannot check out {', '.join(folders)} (sparse checkout): {detail}; nothing written"
        )
    store.forget_index()
    store.notes.extend(f"checked out {folder} (sparse checkout)" for folder in folders)


def outside_sparse_checkout(store: Store, rels: Sequence[str]) -> list[str]:
    """The folders of ``rels`` a sparse checkout leaves out: of a file absent
    from the work tree whose index entry has the skip-worktree bit, or of a
    new file whose folder does not exist and is not in the cone."""
    import os

    absent = [rel for rel in rels if not os.path.lexists(store.root / rel)]
    if not absent:
        return []
    listed = store.git.run_bytes("ls-files", "-v", "-z", "--", *absent)
    skipped = {
        entry[2:].decode("utf-8", "surrogateescape")
        for entry in listed.split(b"\0")
        if entry.startswith(b"S ")
    }
    cone: list[str] | None = None
    folders: set[str] = set()
    for rel in absent:
        folder = rel.rpartition("/")[0]
        if not folder:
            continue  # the store's top level is always checked out
        if rel not in skipped:
            if (store.root / folder).is_dir():
                continue
            if cone is None:
                cone = _cone(store)
            if any(folder == top or folder.startswith(top + "/") for top in cone):
                continue  # a new month inside the cone
        folders.add(folder)
    return sorted(folders)


def _cone(store: Store) -> list[str]:
    """The folders of a cone-mode sparse checkout (none in the older pattern mode)."""
    if (store.git.config_get("core.sparseCheckoutCone") or "").lower() != "true":
        return []
    status, out, _ = store.git.try_run("sparse-checkout", "list")
    return (
        [line.strip().strip("/") for line in out.splitlines() if line.strip()] if not status else []
    )


def commit_files(
    store: Store, files: Sequence[tuple[Path, str | bytes, bool]], message: str, actor: str
) -> None:
    """Write (path, content, is_new) files atomically and commit them as one
    commit, journalled so a killed command is finished by the next one.
    Only tickets, knowledge articles and attachments go through here, and
    only from `Transaction.commit` (which holds the lock).

    Attachments are written before anything else, so the event that names
    them is never on disk without them (`recover` removes attachments whose
    ticket was not written yet)."""
    if not files:
        return
    files = sorted(files, key=lambda f: not is_attachment_path(store.rel(f[0])))
    rels = [store.rel(path) for path, _, _ in files]
    for rel in rels:
        if not is_journalable(rel):
            raise StoreError(f"{rel}: not a ticket or article path")
    for path, _, _ in files:
        folder = path.parent
        while not folder.exists() and folder != store.root:
            folder = folder.parent  # folders made by the write are the store's own
        if path.is_symlink() or not store.inside(folder):
            raise StoreError(f"{store.rel(path)}: a symbolic link is in the way; not followed")
    email = store.author_email(actor)
    journal = {"paths": rels, "message": message, "author": actor, "email": email}
    originals = [_read_original(path) for path, _, _ in files]
    atomic_write(store.journal_path, json.dumps(journal, ensure_ascii=False))
    try:
        _write_files(files)
        new = [rel for rel, (_, _, is_new) in zip(rels, files, strict=True) if is_new]
        store.git.commit_paths(rels, message, actor, email, new=new, date=store.commit_date())
    except Exception as exc:
        _roll_back(store, files, rels, originals, exc)
        raise
    store.journal_path.unlink(missing_ok=True)
    store.forget_index()


BATCH_SYNC = 16
"""From this many files on, a commit makes its files durable with two
``sync`` calls for the whole batch instead of two ``fsync`` calls per file:
a 3,000-alert payload spent 20 of its 24 seconds in fsync."""


def _write_files(files: Sequence[tuple[Path, str | bytes, bool]]) -> None:
    """Write the files of one commit, each atomically (old or new bytes, never torn).

    A few files: `atomic_write` each. A batch: every temporary file first,
    one ``sync`` (all new contents are on disk), the renames, one more
    ``sync`` (the directory entries): the same guarantee, paid once. The
    temporary files are named as `atomic_write` names them, so a killed
    command's leftovers are swept alike."""
    import os

    if len(files) < BATCH_SYNC:
        for path, content, _ in files:
            atomic_write(path, content)
        return
    temps: list[tuple[Path, Path]] = []
    try:
        for path, content, _ in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
            temps.append((tmp, path))
            raw = content.encode("utf-8") if isinstance(content, str) else content
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(tmp, flags, 0o666)  # no link followed; the umask decides the mode
            try:
                view = memoryview(raw)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        _sync_disk(files[0][0].parent)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    _sync_disk(files[0][0].parent)


def _sync_disk(folder: Path) -> None:
    """Flush the store's filesystem: syncfs(2) on Linux, so a batch waits only
    for its own disk and not for every mount of a busy shared server; sync(2)
    where syncfs is missing."""
    import ctypes
    import os

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _read_original(path: Path) -> bytes | None:
    """A file's bytes before the commit writes it (None: it did not exist)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path.name}: cannot read before writing: {exc.strerror}") from None


def _roll_back(
    store: Store,
    files: Sequence[tuple[Path, str | bytes, bool]],
    rels: Sequence[str],
    originals: Sequence[bytes | None],
    exc: Exception,
) -> None:
    """Undo a commit that git refused for an outside reason (a signing
    failure, an unfinished merge, a hook, a full disk): the files and git's
    index entries of these paths go back to what they were and the journal
    is removed, so no later command commits under "recovered after
    interruption" a change this command reported as failed.

    When the files already equal HEAD the commit did land (only git's index
    update failed): the journal stays, and the next command's `recover`
    refreshes the index."""
    try:
        if store.git.matches_head(list(rels)):
            return
    except (StoreError, OSError):
        pass
    try:
        restored: list[tuple[Path, str | bytes, bool]] = []
        for (path, _, _), original in zip(files, originals, strict=True):
            if original is None:
                path.unlink(missing_ok=True)
            else:
                restored.append((path, original, False))
        _write_files(restored)  # batched like the write it undoes
        store.git.try_run("reset", "--quiet", "--", *rels)
        store.journal_path.unlink(missing_ok=True)
        store.forget_index()
    except (StoreError, OSError) as undo:
        exc.add_note(f"undoing it failed too: {undo}")


def recover(store: Store) -> list[str]:
    """Finish or sweep what a killed command left. Caller holds the lock.

    A command is killed at one of these points, and the journal (written
    before the ticket files, removed after the commit) tells which:
    - before or while writing the journal: its temp file is swept, nothing
      else happened;
    - while writing a ticket's temp file: swept; the ticket is unchanged;
    - after a rename, before HEAD moved (`Git.commit_paths`: while hashing
      the files, writing trees or the commit object, or inside ``git
      commit``): the files differ from HEAD, so the change is committed
      now ("recovered after interruption"); objects already written are
      unreferenced and left to ``git gc``; a stale ``index.lock`` or ref
      lock of the killed git is removed first;
    - after HEAD moved, before git's index was updated (``update-ref``
      done, ``update-index`` not; or inside ``git commit``): the files
      equal HEAD, so only the index entries of those paths are refreshed
      (else they would look staged-reverted, a new ticket staged-deleted,
      and a later merge would refuse to run);
    - after the index update, before the journal was removed: nothing to do.
    A ``sync`` killed inside ``git merge`` leaves its own marker; see
    `_recover_merge`.
    """
    notes: list[str] = []
    sweep_temp_files(store.state_dir)
    notes.extend(_recover_merge(store))
    journal = store.journal_path
    if not journal.exists():
        return notes
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        rels = [str(r) for r in data["paths"]]
    except (ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)
        return ["discarded an unreadable journal"]
    for rel in rels:
        if not is_journalable(rel):
            journal.unlink(missing_ok=True)
            return ["discarded a journal naming an invalid path"]
    for rel in rels:
        sweep_temp_files((store.root / rel).parent)
    _clear_stale_git_locks(store)
    existing = [r for r in rels if (store.root / r).exists()]
    orphans = _unrecorded_attachments(store, existing)
    if orphans:
        for rel in orphans:
            (store.root / rel).unlink(missing_ok=True)
        existing = [r for r in existing if r not in orphans]
        notes.append(
            f"removed {', '.join(orphans)}: attached by a command killed before it was recorded"
        )
    if existing and store.git.has_changes(existing):
        if not store.git.matches_head(existing):
            listed = store.git.run("ls-files", "-z", "--others", "--", *existing)
            untracked = [r for r in listed.split("\0") if r]
            from elinkctl.store.gitenv import ident_problem

            author = str(data.get("author") or "elinkctl")
            if ident_problem(author):
                author = "elinkctl"  # a journal of an older version may name one git refuses
            store.git.commit_paths(
                existing,
                f"{data.get('message', 'elinkctl')} (recovered after interruption)",
                author,
                str(data.get("email") or "elinkctl@localhost"),
                new=untracked,
            )
            notes.append(f"recovered an interrupted commit of {', '.join(existing)}")
        else:
            # HEAD has the commit, the index was never updated: make its
            # entries match (the files are what HEAD holds).
            store.git.run("update-index", "--add", "--", *existing)
            notes.append(f"refreshed the index of {', '.join(existing)}")
    journal.unlink(missing_ok=True)
    return notes


def _unrecorded_attachments(store: Store, existing: Sequence[str]) -> list[str]:
    """Attachments a killed `attach` wrote before the ticket that records them.

    `commit_files` writes attachments first and the ticket last: when every
    other journalled file still equals HEAD, the event was never written,
    and the attachments not in HEAD are removed rather than committed
    without an event that names them."""
    attached = [r for r in existing if is_attachment_path(r)]
    others = [r for r in existing if not is_attachment_path(r)]
    if not attached or not others or not store.git.matches_head(others):
        return []
    return [r for r in attached if not store.git.matches_head([r])]


def _recover_merge(store: Store) -> list[str]:
    """Undo a ``sync`` killed inside ``git merge`` (marker ``merging`` in the
    state dir: HEAD before the merge and the commit merged in).

    A merge is killed at one of these points:
    - while writing files (its checkout, a merge driver): some files of the
      other side written, modified or new, git's index not updated (its
      lock left behind), no MERGE_HEAD;
    - with a conflict or a driver's result staged: MERGE_HEAD present (every
      later commit would fail: "cannot do a partial commit during a merge");
    - after the merge commit (or the fast-forward) moved HEAD.
    In each case every path the merge could have touched (what differs
    between the commit before and the one merged in) is put back to what
    HEAD holds: index entry and file, and a file HEAD does not have is
    removed. A merge whose commit was made is kept; one that was not is
    simply done again by the next ``sync``. Left as it was, a half-written
    file made every later ``sync`` fail ("local changes would be
    overwritten") while fsck passed.
    """
    marker = store.state_dir / "merging"
    if not marker.exists():
        return []
    _clear_stale_git_locks(store)
    git_dir = store.state_dir.parent
    git = store.git
    notes = ["undid a merge interrupted by a killed sync"]
    words = marker.read_text(encoding="utf-8").split()
    if (git_dir / "MERGE_HEAD").exists():
        status, _, _ = git.try_run("merge", "--abort")
        if status != 0:
            git.try_run("reset", "--quiet", "--merge")
    for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "AUTO_MERGE"):
        (git_dir / name).unlink(missing_ok=True)
    paths: set[str] = set()
    for other in words:
        status, out, _ = git.try_run("diff", "--name-only", "-z", other, "HEAD")
        if status == 0:
            paths.update(p for p in out.split("\0") if p)
    if len(words) < 2:
        # A marker of an older version names no target: every path git sees
        # as changed in the store's own folders.
        status, out, _ = git.try_run(
            "status", "--porcelain", "-z", "--untracked-files=all", "--", *_MERGED_FOLDERS
        )
        paths.update(item[3:] for item in out.split("\0") if len(item) > 3)
    _put_back_to_head(store, sorted(paths))
    for leftover in store.root.glob(".merge_file_*"):
        leftover.unlink(missing_ok=True)  # a killed git's input files for a merge driver
    marker.unlink(missing_ok=True)
    return notes


_MERGED_FOLDERS = ("tickets", "knowledge", "attachments")


def _put_back_to_head(store: Store, paths: Sequence[str]) -> None:
    """Index entries and files of ``paths`` as HEAD has them; a path HEAD
    does not have is removed from both (a file the killed merge wrote)."""
    if not paths:
        return
    git = store.git
    stdin = "".join(f"{p}\0" for p in paths).encode("utf-8", "surrogateescape")
    asked = "".join(f"HEAD:{p}\n" for p in paths).encode("utf-8", "surrogateescape")
    kinds = git.run_bytes("cat-file", "--batch-check=%(objecttype)", stdin=asked).split(b"\n")
    in_head = {p for p, kind in zip(paths, kinds, strict=False) if kind == b"blob"}
    # Reset the index entries (drops those HEAD lacks), then the files.
    git.run_input("reset", "--quiet", "--pathspec-from-file=-", "--pathspec-file-nul", stdin=stdin)
    kept = [p for p in paths if p in in_head]
    if kept:
        stdin = "".join(f"{p}\0" for p in kept).encode("utf-8", "surrogateescape")
        git.run_input(
            "checkout", "HEAD", "--pathspec-from-file=-", "--pathspec-file-nul", stdin=stdin
        )
    for rel in paths:
        if rel not in in_head:
            path = store.root / rel
            if path.is_file() or path.is_symlink():
                path.unlink()


def _clear_stale_git_locks(store: Store) -> None:
    """A SIGKILLed git leaves ``index.lock`` (or a ref lock); we hold the
    store lock, so after a short grace (a still-running git child
    finishes) they are stale."""
    git_dir = store.state_dir.parent
    locks = [git_dir / "index.lock", git_dir / "HEAD.lock", git_dir / "ORIG_HEAD.lock"]
    try:
        ref = store.git.run("symbolic-ref", "-q", "HEAD")
    except StoreError:
        ref = ""
    if ref.startswith("refs/heads/"):
        locks.append(git_dir / f"{ref}.lock")
    deadline = time.monotonic() + 2.0
    while any(p.exists() for p in locks) and time.monotonic() < deadline:
        time.sleep(0.05)
    for path in locks:
        path.unlink(missing_ok=True)
    for leftover in git_dir.glob("next-index-*.lock"):
        leftover.unlink(missing_ok=True)  # temporary index of a killed `commit --only`
