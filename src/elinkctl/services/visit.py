"""The on-site visit to its end: `visit --done` records the signed service
form, `attach` stores files under ``attachments/<ID>/`` with their name,
size and SHA-256 on an ``attached`` event, and `fsck` checks that what the
events name is what the files hold.

Attachments are files of the repository, committed with the event that
names them (one commit, `Store.transaction`), and never read by the index
or the knowledge base, which look only at ``tickets/`` and ``knowledge/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from elinkctl.config import Config
from elinkctl.domain import ids, visit
from elinkctl.domain.layout import ATTACHMENTS, is_attachment_path
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import Ticket
from elinkctl.errors import ElinkError, StoreError, TicketError
from elinkctl.services.context import Context
from elinkctl.store.store import Store

MB = 1024 * 1024


class AttachmentError(ElinkError):
    """A file given to `attach` cannot be stored (missing, a directory, a link, too big)."""


@dataclasses.dataclass(frozen=True)
class Recorded:
    """A committed step and the notes to tell the user."""

    change: Change
    notes: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    """Store-relative paths of the files written (attach)."""


def record_done(
    ctx: Context,
    given_id: str,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
    work: str | None,
    signed_by: str | None,
    at: dt.datetime | None,
) -> Recorded:
    """`visit ID --done`: the work done on site and who signed the form."""
    from elinkctl.services import tickets

    notes: list[str] = []

    def step(ticket: Ticket) -> Change:
        change, said = visit.done(ticket, ctx.actor, start, end, work, signed_by, at, ctx.now)
        notes[:] = said
        return change

    return Recorded(tickets.change(ctx, given_id, step), tuple(notes))


def max_mb(config: Config) -> int:
    """``procedure: attachment_max_mb`` of sla.yaml (default 50, `ProcedureRules`)."""
    from elinkctl.services.procedure import procedure_rules

    return procedure_rules(config).attachment_max_mb


def read_source(given: str, limit_mb: int) -> bytes:
    """The bytes of a file to attach; refuses what is not a plain file
    within the limit, before reading any of it."""
    limit = limit_mb * MB
    try:
        st = os.lstat(given)
    except FileNotFoundError:
        raise AttachmentError(f"{given}: no such file") from None
    except OSError as exc:
        raise AttachmentError(f"{given}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise AttachmentError(f"{given}: a symbolic link; attach the file it points to")
    if stat.S_ISDIR(st.st_mode):
        raise AttachmentError(f"{given}: a directory; attach the files in it")
    if not stat.S_ISREG(st.st_mode):
        raise AttachmentError(f"{given}: not a regular file")
    too_big = AttachmentError(
        f"{given}: {visit.format_size(st.st_size)} is over the {limit_mb} MB limit for an "
        "attachment (sla.yaml procedure.attachment_max_mb); keep big files in Git LFS "
        "(docs/administration.md) or outside the store"
    )
    if st.st_size > limit:
        raise too_big
    try:
        fd = os.open(given, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise AttachmentError(f"{given}: cannot read: {exc.strerror or exc}") from None
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:  # it grew since lstat
                raise too_big
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def folder_of(store: Store, ticket_id: str) -> Path:
    """``attachments/<ID>/``, refusing to write through a symbolic link out of the store."""
    base = store.root / ATTACHMENTS
    folder = base / ticket_id
    for path in (base, folder):
        if path.is_symlink():
            raise StoreError(f"{store.rel(path)}: a symbolic link; refusing to write through it")
        if path.exists() and not path.is_dir():
            raise StoreError(f"{store.rel(path)}: not a directory")
    return folder


def attach(
    ctx: Context,
    given_id: str,
    sources: Sequence[str],
    *,
    at: dt.datetime,
    note: str | None = None,
) -> Recorded:
    """Copy ``sources`` to ``attachments/<ID>/`` and record one ``attached``
    event, in one commit. Every file is checked and read before anything is
    written; a name already there gets a ``-2``, ``-3`` … suffix."""
    if not sources:
        raise AttachmentError("attach needs at least one FILE")
    limit_mb = max_mb(ctx.store.config)
    contents = [(given, read_source(given, limit_mb)) for given in sources]
    actor = ctx.actor  # resolved before the lock: a missing name fails at once
    notes: list[str] = []
    with ctx.store.transaction(actor) as tx:
        ticket = tx.find(given_id)
        folder = folder_of(ctx.store, ticket.id)
        taken = set(os.listdir(folder)) if folder.is_dir() else set()
        known = {a.sha256: a.name for a in visit.attached(ticket)}
        files: list[visit.Attachment] = []
        for given, content in contents:
            original = Path(given).name
            name = visit.unique_name(original, taken)
            taken.add(name)
            if name != original:
                notes.append(f"note: {given} is stored as {name}")
            digest = hashlib.sha256(content).hexdigest()
            if digest in known:
                notes.append(f"note: {name} has the same content as {known[digest]}")
            known.setdefault(digest, name)
            files.append(visit.Attachment(name, len(content), digest))
        change = visit.attach(ticket, files, actor, at, ctx.now, note)
        paths = []
        for item, (_, content) in zip(files, contents, strict=True):
            tx.put_file(folder / item.name, content, is_new=True)
            paths.append(ctx.store.rel(folder / item.name))
        tx.put(change.ticket)
        tx.commit(change.message)
    return Recorded(change, tuple(notes), tuple(paths))


# --- fsck ------------------------------------------------------------------------


def attachment_problems(store: Store, recorded: Iterable[str]) -> list[str]:
    """What `fsck` finds wrong with attachments: a file an ``attached`` event
    names that is missing or differs (size, SHA-256), and anything under
    ``attachments/`` no event names. ``recorded``: IDs of tickets with an
    ``attached`` event (the rest are found from their folders)."""
    problems: list[str] = []
    base = store.root / ATTACHMENTS
    folders = {}
    if base.is_symlink():
        return [f"{ATTACHMENTS}: a symbolic link"]
    if base.is_dir():
        for entry in sorted(base.iterdir()):
            rel = store.rel(entry)
            if entry.is_symlink() or not entry.is_dir():
                problems.append(f"{rel}: not an incident's folder of attachments")
            elif not ids.is_valid(entry.name):
                problems.append(f"{rel}: not an incident ID")
            else:
                folders[entry.name] = entry
    for ticket_id in sorted(set(recorded) | set(folders)):
        try:
            ticket = store.load(ticket_id)
        except ElinkError as exc:
            if ticket_id in folders and not isinstance(exc, TicketError):
                problems.append(f"{ATTACHMENTS}/{ticket_id}: no such incident")
            continue  # a broken ticket is reported by the ticket checks
        problems.extend(_ticket_problems(store, ticket, folders.get(ticket_id)))
    return problems


def _ticket_problems(store: Store, ticket: Ticket, folder: Path | None) -> list[str]:
    problems: list[str] = []
    named = {}
    for item in visit.attached(ticket):
        named[item.name] = item
        rel = f"{ATTACHMENTS}/{ticket.id}/{item.name}"
        path = store.root / rel
        if not is_attachment_path(rel):
            where = store.rel(store.path_of(ticket.id))
            problems.append(f"{where}: attached {item.name!r}: not a safe file name")
        elif path.is_symlink():
            problems.append(f"{rel}: a symbolic link; elinkctl does not follow it")
        elif path.exists() and not path.is_file():
            problems.append(f"{rel}: not a plain file (a folder, a FIFO or a device)")
        elif not path.is_file():
            problems.append(f"{rel}: missing (attached {item.at:%Y-%m-%d %H:%M} by {item.by})")
        elif path.stat().st_size != item.size:
            problems.append(f"{rel}: {path.stat().st_size} bytes, the event says {item.size}")
        elif _sha256(path) != item.sha256:
            problems.append(f"{rel}: content differs from the SHA-256 the event recorded")
    if folder is not None:
        for entry in sorted(folder.iterdir()):
            rel = store.rel(entry)
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                problems.append(f"{rel}: leftover temporary file of an interrupted write")
            elif entry.name not in named:
                problems.append(f"{rel}: not recorded by an attached event of {ticket.id}")
    return problems


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
