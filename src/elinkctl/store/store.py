"""A store: a git repository holding ``sla.yaml``, ``escalation.yaml``,
``tickets/YYYY/MM/<ID>.yaml`` and ``knowledge/``.

Every mutation goes through `Store.transaction`: take the store lock,
recover what a killed predecessor left, re-read the tickets, apply the pure
change, write atomically, commit exactly those files as the actor. A journal
under ``.git/elinkctl/`` written before the files and removed after the
commit lets the next command finish an interrupted commit, so no event is
ever lost between the rename and the commit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Container, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl.cache import index_failed
from elinkctl.config import Config, load_config
from elinkctl.domain import ids, ticketfile
from elinkctl.domain.model import Ticket
from elinkctl.errors import (
    Ambiguous,
    NotFound,
    StoreBusy,
    StoreError,
    TicketError,
    UsageProblem,
)
from elinkctl.fsio import atomic_write, sweep_temp_files
from elinkctl.store.lock import StoreLock

if TYPE_CHECKING:
    from elinkctl.domain.selection import TicketFilter
    from elinkctl.store.gitrepo import Git
    from elinkctl.store.index import Index, Summary

TICKETS = "tickets"
KNOWLEDGE = "knowledge"


def discover(explicit: str | None, cwd: Path | None = None) -> Path:
    """``--store``, then ``ELINKCTL_STORE``, then the nearest parent holding
    ``sla.yaml`` and ``tickets/`` (DESIGN §6)."""
    given = explicit or os.environ.get("ELINKCTL_STORE")
    if given:
        root = Path(given).expanduser().resolve()
        if not (root / "sla.yaml").is_file() or not (root / TICKETS).is_dir():
            raise StoreError(f"{given}: not an elinkctl store (no sla.yaml and tickets/)")
        return root
    here = (cwd or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "sla.yaml").is_file() and (candidate / TICKETS).is_dir():
            return candidate
    raise StoreError(
        "no store found here or above; use --store DIR, set ELINKCTL_STORE, "
        "or create one with `elinkctl init DIR`"
    )


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._git: Git | None = None
        self._config: Config | None = None
        self._clone_checked = False
        self._index: Index | None = None

    @property
    def git(self) -> Git:
        """The repository's git (imported on first use: a warm read needs none
        of it, the index's git calls having started with the process)."""
        if self._git is None:
            from elinkctl.store.gitrepo import Git

            self._git = Git(self.root)
        return self._git

    # --- configuration ---------------------------------------------------------

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.root)
        return self._config

    @property
    def state_dir(self) -> Path:
        """Private, machine-local state (lock, journal, outbox, index): outside history."""
        dot_git = self.root / ".git"
        if dot_git.is_file():  # a worktree or submodule: .git is a pointer file
            text = dot_git.read_text().strip()
            dot_git = (self.root / text.removeprefix("gitdir:").strip()).resolve()
        return dot_git / "elinkctl"

    # --- paths and IDs -------------------------------------------------------------

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def path_of(self, ticket_id: str) -> Path:
        """The file of a full, valid ID. IDs are validated before they become paths."""
        if not ids.is_valid(ticket_id):
            raise UsageProblem(f"not an incident ID: {ticket_id!r}")
        year, month = ids.shard(ticket_id)
        return self.root / TICKETS / year / month / f"{ticket_id}.yaml"

    def ticket_paths(self) -> Iterator[Path]:
        """Every ticket file, in ID order within each month, months in order."""
        base = self.root / TICKETS
        if not base.is_dir():
            return
        for year in sorted(
            (p for p in os.scandir(base) if p.is_dir() and p.name.isdigit()), key=lambda p: p.name
        ):
            for month in sorted(
                (p for p in os.scandir(year.path) if p.is_dir() and p.name.isdigit()),
                key=lambda p: p.name,
            ):
                names = sorted(
                    e.name
                    for e in os.scandir(month.path)
                    if e.name.endswith(".yaml") and not e.name.startswith(".")
                )
                for name in names:
                    yield Path(month.path) / name

    def all_ids(self) -> list[str]:
        return [p.stem for p in self.ticket_paths()]

    def resolve_id(self, given: str) -> str:
        """A full ID from any unique prefix or suffix (case-insensitive)."""
        if not ids.FRAGMENT_RE.match(given.strip()):
            raise UsageProblem(f"not an incident ID: {given!r}")
        fragment = ids.normalize_fragment(given)
        if ids.is_valid(fragment) and self.path_of(fragment).is_file():
            return fragment
        try:
            candidates = self.index().match_ids(fragment)
        except Exception as exc:
            if not index_failed(exc):
                raise
            candidates = [
                i for i in self.all_ids() if i.startswith(fragment) or i.endswith(fragment)
            ]
        if not candidates:
            alias = self._indexed_alias(fragment) or self._resolve_alias(fragment)
            if alias:
                return alias
            raise NotFound(f"no incident matches {given!r}")
        if len(candidates) > 1:
            raise Ambiguous(given, candidates)
        return candidates[0]

    def _indexed_alias(self, fragment: str) -> str | None:
        if not ids.is_valid(fragment):
            return None
        try:
            return self.index().alias_of(fragment)
        except Exception as exc:
            if not index_failed(exc):
                raise
            return None

    def _resolve_alias(self, fragment: str) -> str | None:
        """Old IDs kept as aliases after an ID collision was repaired by a merge."""
        if not ids.is_valid(fragment):
            return None
        year, month = ids.shard(fragment)
        month_dir = self.root / TICKETS / year / month
        if not month_dir.is_dir():
            return None
        # Renamed tickets stay in the month of their old ID, so one month suffices.
        for path in sorted(month_dir.glob("INC-*.yaml")):
            try:
                head = path.read_text(encoding="utf-8").split("\ntitle:", 1)[0]
            except OSError:
                continue
            if "aliases:" in head and f"- {fragment}" in head:
                return path.stem
        return None

    # --- reading -----------------------------------------------------------------

    def load_path(self, path: Path) -> Ticket:
        rel = self.rel(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"{rel}: no such ticket") from None
        except UnicodeDecodeError:
            raise TicketError(f"{rel}: not UTF-8 text") from None
        try:
            ticket = ticketfile.loads(text)
        except ticketfile.FormatError as exc:
            where = f"{rel} line {exc.line}" if exc.line else rel
            raise TicketError(f"{where}: {exc}") from None
        if ticket.id != path.stem:
            raise TicketError(f"{rel} line 2: id {ticket.id} does not match the file name")
        return ticket

    def load(self, ticket_id: str) -> Ticket:
        return self.load_path(self.path_of(ticket_id))

    def find(self, given: str) -> Ticket:
        return self.load(self.resolve_id(given))

    def iter_tickets(
        self, on_error: Callable[[TicketError], None] | None = None
    ) -> Iterator[Ticket]:
        """All parseable tickets; a broken one is reported and skipped, never fatal."""
        for path in self.ticket_paths():
            try:
                yield self.load_path(path)
            except TicketError as exc:
                if on_error is None:
                    raise
                on_error(exc)

    # --- the index (store/index.py): cheap reads at 100,000 tickets ---------------

    def index(self) -> Index:
        """The ticket index, validated against git on first use in this process.

        Callers should catch `sqlite3.Error`, `StoreError` and `OSError` and fall
        back to reading files (the methods below do).
        """
        if self._index is None:
            from elinkctl.store.index import Index

            self._index = Index(
                self.root,
                self.state_dir / "index.sqlite",
                self.load_path,
                lambda *commands: self.git.run_concurrently(*commands),
            )
        return self._index

    def prefetch_index(self) -> None:
        """Let the index start checking itself against git in the background
        (read-only commands call this first; see `Index.prefetch`)."""
        try:
            self.index().prefetch()
        except Exception as exc:
            if not index_failed(exc):
                raise

    def summaries(
        self,
        flt: TicketFilter | None = None,
        on_error: Callable[[TicketError], None] | None = None,
    ) -> list[Summary]:
        """Tickets matching ``flt`` as `Summary` rows (what `list` shows), in
        `ticket_paths` order, without parsing unchanged files. Broken tickets
        are reported through ``on_error`` (raised without one), as `iter_tickets` does.
        """
        from elinkctl.store.index import Summary

        try:
            idx = self.index()
            rows = idx.summaries(flt.statuses_wanted() if flt else None)
            errors = idx.errors()
            selected = [s for s in rows if flt is None or flt.matches(s)]
        except Exception as exc:
            if not index_failed(exc, (AttributeError,)):
                raise
            # No index (read-only .git, broken SQLite), or a filter that reads
            # something a summary lacks: the slow, always-right way.
            return [
                Summary.from_ticket(t, self.rel(self.path_of(t.id)))
                for t in self.iter_tickets(on_error)
                if flt is None or flt.matches(t)
            ]
        for _, message in errors:
            problem = TicketError(message)
            if on_error is None:
                raise problem
            on_error(problem)
        return selected

    def open_ids(self) -> list[str]:
        """IDs of unresolved tickets (new, pm_review, in_progress, pending) in
        `ticket_paths` order, for `check`. Unparseable tickets are not listed."""
        try:
            return self.index().open_ids()
        except Exception as exc:
            if not index_failed(exc):
                raise
            return [t.id for t in self.iter_tickets(lambda exc: None) if t.is_open]

    def iter_facts(
        self,
        name: str,
        version: str,
        compute: Callable[[Ticket], dict[str, Any]],
        on_error: Callable[[TicketError], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """``compute(ticket)`` for every parseable ticket, cached in the index by
        (file content, ``version``); broken tickets go to ``on_error`` first.

        ``version`` must change whenever the result could (code version, a
        digest of the rules: `elinkctl.store.index.rules_digest`).
        """
        try:
            idx = self.index()
            stream = idx.iter_facts(name, version, compute)
            first = next(stream, None)  # the refresh and computing happen here
            errors = idx.errors()
        except Exception as exc:
            if not index_failed(exc):
                raise
            for ticket in self.iter_tickets(on_error):
                yield compute(ticket)
            return
        for _, message in errors:
            problem = TicketError(message)
            if on_error is None:
                raise problem
            on_error(problem)
        if first is not None:
            yield first[1]
            for _, value in stream:
                yield value

    # --- writing -----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, actor: str, *, wait: bool = True) -> Iterator[Transaction]:
        """The one way to change the store: hold the lock (finishing what a
        killed predecessor left), read fresh, stage, commit.

        Inside the block, `Transaction.find`/`load` read tickets as they are
        now, `put`/`put_file` stage new contents and `commit` writes them
        atomically and makes one journalled commit as ``actor``. An exception
        leaves the store as it was (nothing is written before `commit`).
        With ``wait=False`` a held lock raises `StoreBusy` at once (cron).
        """
        with self.locked(wait=wait) as acquired:
            if not acquired:
                raise StoreBusy("another elinkctl command holds the store lock")
            tx = Transaction(self, actor)
            yield tx
            if tx.staged:
                raise StoreError(f"uncommitted changes to {', '.join(tx.staged)}")

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.json"

    def lock(self) -> StoreLock:
        return StoreLock(self.state_dir / "lock")

    @contextlib.contextmanager
    def locked(self, wait: bool = True) -> Iterator[bool]:
        """Hold the store lock; yields False (wait=False) when another process holds it."""
        lock = self.lock()
        if wait:
            # A writer imports GitPython and opens the repository before taking
            # the lock: that is most of a write's CPU, and under the lock it
            # would be paid once per waiting process, one after the other.
            # (`check` takes the lock without waiting and usually writes nothing.)
            self.git.git  # noqa: B018
        if not lock.acquire(wait=wait):
            yield False
            return
        try:
            self.recover()
            self._ensure_clone_config()
            yield True
        finally:
            lock.release()

    def _ensure_clone_config(self) -> None:
        """Register the merge drivers in this clone (a text read when already done)."""
        if not self._clone_checked:
            from elinkctl.store.clone import ensure_clone_config

            ensure_clone_config(self.git)
            self._clone_checked = True

    def _commit_files(
        self, files: Sequence[tuple[Path, str, bool]], message: str, actor: str
    ) -> None:
        """Write (path, text, is_new) files atomically and commit them as one
        commit, journalled so a killed command is finished by the next one.
        Only tickets and knowledge articles go through here, and only from
        `Transaction.commit` (which holds the lock)."""
        if not files:
            return
        rels = [self.rel(path) for path, _, _ in files]
        for rel in rels:
            if not _journalable(rel):
                raise StoreError(f"{rel}: not a ticket or article path")
        email = self.author_email(actor)
        journal = {"paths": rels, "message": message, "author": actor, "email": email}
        atomic_write(self.journal_path, json.dumps(journal, ensure_ascii=False))
        for path, text, _ in files:
            atomic_write(path, text)
        new = [rel for rel, (_, _, is_new) in zip(rels, files, strict=True) if is_new]
        self.git.commit_paths(rels, message, actor, email, new=new)
        self.journal_path.unlink(missing_ok=True)
        if self._index is not None:
            self._index.invalidate()

    def author_email(self, actor: str) -> str:
        """The commit email of ``actor``: from the people list, else git's own
        when the actor is git's user, else a placeholder."""
        listed = self.config.person_email(actor)
        if listed:
            return listed
        if actor == self.git.config_get("user.name"):
            return self.git.default_email()
        return "elinkctl@localhost"

    def recover(self) -> list[str]:
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
        sweep_temp_files(self.state_dir)
        notes.extend(self._recover_merge())
        journal = self.journal_path
        if not journal.exists():
            return notes
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
            rels = [str(r) for r in data["paths"]]
        except (ValueError, KeyError, TypeError):
            journal.unlink(missing_ok=True)
            return ["discarded an unreadable journal"]
        for rel in rels:
            if not _journalable(rel):
                journal.unlink(missing_ok=True)
                return ["discarded a journal naming an invalid path"]
        for rel in rels:
            sweep_temp_files((self.root / rel).parent)
        self._clear_stale_git_locks()
        existing = [r for r in rels if (self.root / r).exists()]
        if existing and self.git.has_changes(existing):
            if not self.git.matches_head(existing):
                untracked = self.git.run("ls-files", "--others", "--", *existing).split()
                self.git.commit_paths(
                    existing,
                    f"{data.get('message', 'elinkctl')} (recovered after interruption)",
                    str(data.get("author") or "elinkctl"),
                    str(data.get("email") or "elinkctl@localhost"),
                    new=untracked,
                )
                notes.append(f"recovered an interrupted commit of {', '.join(existing)}")
            else:
                # HEAD has the commit, the index was never updated: make its
                # entries match (the files are what HEAD holds).
                self.git.run("update-index", "--add", "--", *existing)
                notes.append(f"refreshed the index of {', '.join(existing)}")
        journal.unlink(missing_ok=True)
        return notes

    def _recover_merge(self) -> list[str]:
        """Undo a ``sync`` killed inside ``git merge`` (marker ``merging`` in the state dir).

        An unfinished merge would make every later commit fail ("cannot do a
        partial commit during a merge"); its half-updated files are put back
        to HEAD. A merge whose commit was made is kept.
        """
        marker = self.state_dir / "merging"
        if not marker.exists():
            return []
        self._clear_stale_git_locks()
        git_dir = self.state_dir.parent
        notes = []
        if (git_dir / "MERGE_HEAD").exists():
            self.git.run("merge", "--abort")
            notes.append("aborted a merge interrupted by a killed sync")
        else:
            before = marker.read_text(encoding="utf-8").strip()
            head = self.git.run("rev-parse", "HEAD")
            if before == head:
                self.git.run("reset", "--quiet", "--merge", "HEAD")
                notes.append("reset files of a merge interrupted by a killed sync")
        marker.unlink(missing_ok=True)
        return notes

    def _clear_stale_git_locks(self) -> None:
        """A SIGKILLed git leaves ``index.lock`` (or a ref lock); we hold the
        store lock, so after a short grace (a still-running git child
        finishes) they are stale."""
        git_dir = self.state_dir.parent
        locks = [git_dir / "index.lock", git_dir / "HEAD.lock", git_dir / "ORIG_HEAD.lock"]
        try:
            ref = self.git.run("symbolic-ref", "-q", "HEAD")
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


class Transaction:
    """Changes staged under the store lock, committed as one commit each.

    Built only by `Store.transaction`. Several commits in one transaction
    are allowed (a merge repair commits each renamed incident on its own).
    """

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor
        self._files: dict[str, tuple[Path, str, bool]] = {}
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
        return staged if staged is not None else self.store.load(ticket_id)

    def find(self, given: str) -> Ticket:
        """`load` by any unique prefix or suffix of the ID."""
        return self.load(self.store.resolve_id(given))

    @property
    def taken(self) -> Container[str]:
        """IDs in use in this clone, staged ones included (for new IDs)."""
        return _Taken(self)

    def put(self, ticket: Ticket, *, is_new: bool = False) -> None:
        """Stage a ticket's new contents (still new if staged as new before)."""
        path = self.store.path_of(ticket.id)
        rel = self.store.rel(path)
        is_new = is_new or (rel in self._files and self._files[rel][2])
        self._files[rel] = (path, ticketfile.dumps(ticket), is_new)
        self._tickets[ticket.id] = ticket

    def put_file(self, path: Path, text: str, *, is_new: bool = False) -> None:
        """Stage a knowledge article (or a ticket already rendered as text)."""
        rel = self.store.rel(path)
        if not _journalable(rel):
            raise StoreError(f"{rel}: not a ticket or article path")
        self._files[rel] = (path, text, is_new)

    def commit(self, message: str) -> None:
        """Write what is staged and commit it as one commit (journalled, so a
        killed command is finished by the next one); nothing staged, no commit."""
        if not self._files:
            return
        files = list(self._files.values())
        self.store._commit_files(files, message, self.actor)
        self._files.clear()
        self._tickets.clear()
        self.commits.append(message)


class _Taken:
    """IDs already used in this clone: a file exists (O(1)) or one is staged."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    def __contains__(self, ticket_id: object) -> bool:
        if not isinstance(ticket_id, str) or not ids.is_valid(ticket_id):
            return False
        return ticket_id in self.tx._tickets or self.tx.store.path_of(ticket_id).exists()


_ARTICLE_PATH = re.compile(r"^knowledge/KB-[0-9A-HJKMNP-TV-Z]{5}\.md$")


def _journalable(rel: str) -> bool:
    """A path the journal may name: a ticket in its shard, or an article.

    Checked again on recovery, so a tampered journal can never make the
    next command commit anything else."""
    parts = rel.split("/")
    if len(parts) == 4 and parts[0] == TICKETS and parts[3].endswith(".yaml"):
        stem = parts[3][: -len(".yaml")]
        return ids.is_valid(stem) and tuple(parts[1:3]) == ids.shard(stem)
    return bool(_ARTICLE_PATH.match(rel))
