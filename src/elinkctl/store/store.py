"""A store: a git repository holding ``sla.yaml``, ``escalation.yaml``,
``tickets/YYYY/MM/<ID>.yaml`` and ``knowledge/``.

Reading: finding and parsing tickets, through the cache layer's validated
index where it helps. Every change goes through `Store.transaction`
(`elinkctl.store.transaction`): lock, recover, read fresh, stage, one
journalled commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elinkctl import fsio
from elinkctl.cache import index_failed
from elinkctl.config import Config, load_config
from elinkctl.domain import ids, ticketfile
from elinkctl.domain.layout import TICKETS
from elinkctl.domain.model import Ticket
from elinkctl.errors import (
    Ambiguous,
    NotFound,
    StoreBusy,
    StoreError,
    StoreMissing,
    TicketError,
    UsageProblem,
)
from elinkctl.store.lock import StoreLock, adopt_shared_umask

if TYPE_CHECKING:
    from elinkctl.cache.blobs import Blobs
    from elinkctl.cache.index import Index
    from elinkctl.cache.rows import Summary
    from elinkctl.domain.permissions import Permissions
    from elinkctl.domain.selection import TicketFilter
    from elinkctl.store.gitrepo import Git
    from elinkctl.store.transaction import Transaction


def discover(explicit: str | None, cwd: Path | None = None) -> Path:
    """``--store``, then ``ELINKCTL_STORE``, then the nearest parent holding
    ``sla.yaml`` and ``tickets/`` (DESIGN §6)."""
    given = explicit or os.environ.get("ELINKCTL_STORE")
    if given:
        try:
            root = Path(given).expanduser().resolve()
        except (RuntimeError, OSError):  # a symbolic link loop (RuntimeError before 3.13)
            raise StoreMissing(
                f"{given}: cannot be resolved (a symbolic link loop or a removed folder)"
            ) from None
        if not (root / "sla.yaml").is_file() or not (root / TICKETS).is_dir():
            raise StoreMissing(f"{given}: not an elinkctl store (no sla.yaml and tickets/)")
        return root
    try:
        here = (cwd or Path.cwd()).resolve()
    except (RuntimeError, OSError):  # the current folder was removed
        raise StoreMissing("the current folder cannot be read; use --store DIR") from None
    for candidate in (here, *here.parents):
        if (candidate / "sla.yaml").is_file() and (candidate / TICKETS).is_dir():
            return candidate
    raise StoreMissing(
        "no store found here or above; use --store DIR, set ELINKCTL_STORE, "
        "or create one with `elinkctl init DIR`"
    )


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock: Callable[[], dt.datetime] | None = None
        """What commits are dated by (the `Context` sets it under
        ``ELINKCTL_NOW``); None: git's own clock."""
        self._git: Git | None = None
        self._config: Config | None = None
        self._clone_checked = False
        self._index: Index | None = None
        self._blobs: Blobs | None = None
        self.notes: list[str] = []
        """What this process did to the clone on the side (a folder checked out
        of a sparse checkout to write a ticket): the CLI prints each as a note."""
        self._real_dirs: dict[Path, bool] = {}
        self._permissions: Permissions | None = None
        adopt_shared_umask(root / ".git")  # core.sharedRepository=group: files group-writable

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
    def permissions(self) -> Permissions:
        """People, roles and permissions of escalation.yaml, parsed once."""
        if self._permissions is None:
            from elinkctl.domain.permissions import Permissions

            self._permissions = Permissions.from_mapping(self.config.escalation.data)
        return self._permissions

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

    def has_ticket(self, ticket_id: str) -> bool:
        """Whether the ticket exists in this clone: its file, or (a sparse
        checkout) a tracked file outside the work tree. O(1) for a file."""
        path = self.path_of(ticket_id)
        return path.exists() or self.sparse_blob(self.rel(path)) is not None

    def ticket_paths(self) -> Iterator[Path]:
        """Every ticket file, in ID order within each month, months in order;
        in a sparse checkout those outside it too (`load_path` reads their blobs)."""
        from elinkctl.cache.blobs import is_sparse

        if is_sparse(self.state_dir.parent):
            yield from self._sparse_ticket_paths()
            return
        yield from self._work_tree_ticket_paths()

    def _sparse_ticket_paths(self) -> Iterator[Path]:
        from elinkctl.cache.blobs import skipped_files
        from elinkctl.cache.listing import is_ticket_path, path_order

        skipped = skipped_files(self.state_dir.parent, self.git.run_bytes, TICKETS)
        rels = {self.rel(p) for p in self._work_tree_ticket_paths()}
        rels.update(rel for rel in skipped if is_ticket_path(rel))
        for rel in sorted(rels, key=path_order):
            yield self.root / rel

    def _work_tree_ticket_paths(self) -> Iterator[Path]:
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

    def inside(self, folder: Path) -> bool:
        """Whether ``folder`` (in the store) is reached without a symbolic link:
        a committed link must never make elinkctl read or write outside the
        store. Cached per folder for this process."""
        known = self._real_dirs.get(folder)
        if known is None:
            root = os.path.realpath(self.root)
            wanted = os.path.normpath(os.path.join(root, self.rel(folder)))
            known = os.path.realpath(folder) == wanted
            self._real_dirs[folder] = known
        return known

    def load_path(self, path: Path) -> Ticket:
        """Parse one ticket file. A tracked file a sparse checkout leaves out
        of the work tree is read from its blob (`sparse_blob`; the index
        reads those through `load_blob` with the blob it knows)."""
        rel = self.rel(path)
        if not self.inside(path.parent):
            raise TicketError(f"{rel}: its folder is a symbolic link; not followed")
        try:
            data = fsio.read_limited(path)
        except FileNotFoundError:
            blob = self.sparse_blob(rel)
            if blob is None:
                raise NotFound(f"{rel}: no such ticket") from None
            return self.load_blob(path, blob)
        except IsADirectoryError:  # a folder named like a ticket file
            raise TicketError(f"{rel}: a folder, not a ticket file") from None
        except OSError as exc:
            if path.is_symlink():
                raise TicketError(f"{rel}: a symbolic link, not followed") from None
            raise TicketError(f"{rel}: cannot read: {exc.strerror or exc}") from None
        return self._parse(rel, path.stem, data)

    def load_blob(self, path: Path, blob: str) -> Ticket:
        """Parse the ticket file at ``path`` as git's blob ``blob`` holds it
        (a file outside a sparse checkout), with the bounds and checks of a
        file (`fsio.MAX_TICKET_BYTES`, UTF-8, strict parsing, ID = name)."""
        from elinkctl.cache.blobs import BlobError

        rel = self.rel(path)
        try:
            data = self.blobs.read(blob)
        except fsio.TooLarge as exc:
            raise TicketError(f"{rel}: cannot read: {exc}") from None
        except BlobError as exc:
            raise TicketError(f"{rel}: cannot read from git: {exc}") from None
        return self._parse(rel, path.stem, data)

    def _parse(self, rel: str, stem: str, data: bytes) -> Ticket:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TicketError(f"{rel}: not UTF-8 text") from None
        try:
            ticket = ticketfile.loads(text)
        except ticketfile.FormatError as exc:
            where = f"{rel} line {exc.line}" if exc.line else rel
            raise TicketError(f"{where}: {exc}") from None
        if ticket.id != stem:
            raise TicketError(f"{rel} line 2: id {ticket.id} does not match the file name")
        return ticket

    @property
    def blobs(self) -> Blobs:
        """The one ``git cat-file --batch`` of this process (started on first use)."""
        if self._blobs is None:
            from elinkctl.cache.blobs import reader

            self._blobs = reader(self.root)
        return self._blobs

    def sparse_blob(self, rel: str) -> str | None:
        """The blob of a ticket file git tracks but a sparse checkout leaves
        out of the work tree (its index entry has the skip-worktree bit);
        None for any other path. Asked only after the file was not found, so
        a full checkout never pays for it.

        From the index's rows when they were checked in this process (a
        tracked file that is absent and that ``git diff-files`` does not
        report deleted is exactly a skip-worktree entry), else from git's
        index entry (``git ls-files -v -s``, tag ``S``)."""
        from elinkctl.cache.blobs import is_sparse

        if not is_sparse(self.state_dir.parent):
            return None
        if self._index is not None and self._index.fresh:
            key = self._index.key_of(rel)
            return key[2:] if key is not None and key.startswith("b:") else None
        try:
            out = self.git.run_bytes("ls-files", "-v", "-s", "-z", "--", rel)
        except StoreError:
            return None
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            head, tab, name = entry.partition("\t")
            fields = head.split(" ")
            # "S 100644 <blob> 0": skip-worktree, a plain file, merged.
            if tab and name == rel and len(fields) == 4 and fields[0] == "S":
                if fields[1] in ("100644", "100755") and fields[3] == "0":
                    return fields[2]
        return None

    def _load_skipped(self, path: Path, blob: str) -> Ticket:
        """`load_blob` for the index: a tracked file absent from the work tree
        that ``git diff-files`` does not call deleted, in a sparse checkout."""
        from elinkctl.cache.blobs import is_sparse

        if not is_sparse(self.state_dir.parent):
            raise NotFound(f"{self.rel(path)}: no such ticket")
        return self.load_blob(path, blob)

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

    # --- the index (elinkctl.cache.index): cheap reads at 100,000 tickets --------

    def index(self) -> Index:
        """The ticket index, validated against git on first use in this process.

        Callers fall back to reading files on the failures `index_failed`
        names (the methods below do).
        """
        if self._index is None:
            from elinkctl.cache.index import Index

            self._index = Index(
                self.root,
                self.state_dir / "index.sqlite",
                self.load_path,
                lambda *commands: self.git.run_concurrently(*commands),
                load_blob=self._load_skipped,
            )
        return self._index

    def commit_date(self) -> dt.datetime | None:
        """The date this process's commits carry (None: now, by git's clock)."""
        return self.clock() if self.clock is not None else None

    def forget_index(self) -> None:
        """After this process committed: the next read validates the index anew."""
        if self._index is not None:
            self._index.invalidate()

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
        from elinkctl.cache.rows import Summary

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

    def recently_closed(self, since: dt.datetime) -> list[str]:
        """Paths of tickets closed at or after ``since`` (the KB-decision
        reminders look at these); unparseable tickets are not listed."""
        try:
            return self.index().closed_since(since)
        except Exception as exc:
            if not index_failed(exc):
                raise
        return [
            self.rel(self.path_of(t.id))
            for t in self.iter_tickets(lambda exc: None)
            if t.state.closed_at is not None
            and t.state.closed_at >= since
            and str(t.status) == "closed"
        ]

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
        digest of the rules: `elinkctl.cache.versions`).
        """
        from elinkctl.cache.facts import Facts

        try:
            idx = self.index()
            stream = Facts(idx, name, version, compute).items()
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
            from elinkctl.store.transaction import Transaction

            tx = Transaction(self, actor)
            tx.check_actor()  # before anything is queued or staged
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
            from elinkctl.store.transaction import recover

            recover(self)
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

    def author_email(self, actor: str) -> str:
        """The commit email of ``actor``: from the people list, else git's own
        when the actor is git's user, else a placeholder."""
        listed = self.config.person_email(actor)
        if listed:
            return listed
        if actor == self.git.config_get("user.name"):
            return self.git.default_email()
        return "elinkctl@localhost"
