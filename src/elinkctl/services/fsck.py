"""`fsck`: every check a ticket must pass, one line per problem."""

from __future__ import annotations

import re
from pathlib import Path

from elinkctl import fsio
from elinkctl.domain import ticketcheck
from elinkctl.progress import Progress
from elinkctl.store.store import Store


def check_ticket_text(rel: str, stem: str, text: str) -> list[str]:
    """`fsck`'s lines for one ticket file (`elinkctl.domain.ticketcheck`)."""
    del stem  # the file name is in ``rel``
    _, problems = ticketcheck.check_text(rel, text)
    return [f"{rel} {p}" if p.startswith("line ") else f"{rel}: {p}" for p in problems]


def symlink_problems(store: Store) -> list[str]:
    """Symbolic links under tickets/, knowledge/ and attachments/: elinkctl
    never follows them (a committed link could read or write outside the store)."""
    import os

    found = []
    for top in ("tickets", "knowledge", "attachments"):
        base = store.root / top
        if base.is_symlink():
            found.append(f"{top}: a symbolic link; elinkctl does not follow it")
            continue
        for folder, dirs, files in os.walk(base, followlinks=False):
            for name in sorted(dirs + files):
                full = os.path.join(folder, name)
                if os.path.islink(full):
                    rel = os.path.relpath(full, store.root).replace(os.sep, "/")
                    found.append(f"{rel}: a symbolic link; elinkctl does not follow it")
    return found


_SHARD_FILE = re.compile(r"^tickets/\d{4}/\d{2}/[^/]+\.yaml$")


def folder_problems(store: Store, base: Path) -> list[str]:
    """Folders under tickets/ other than ``YYYY`` and ``YYYY/MM`` (a folder
    named like a ticket file, a stray month): readers skip or refuse them."""
    import os

    found = []

    def unreadable(exc: OSError) -> None:
        where = store.rel(Path(exc.filename)) if exc.filename else "tickets"
        found.append(f"{where}: cannot read the folder: {exc.strerror or exc}")

    for folder, dirs, _ in os.walk(base, onerror=unreadable, followlinks=False):
        depth = len(Path(folder).relative_to(base).parts)
        for name in sorted(dirs):
            rel = store.rel(Path(folder) / name)
            if name.endswith(".yaml"):
                found.append(f"{rel}: a folder named like a ticket file")
            elif depth == 0 and not (len(name) == 4 and name.isdigit()):
                found.append(f"{rel}: misplaced folder; expected tickets/YYYY/MM/")
            elif depth == 1 and not (len(name) == 2 and name.isdigit() and 1 <= int(name) <= 12):
                found.append(f"{rel}: misplaced folder; expected tickets/YYYY/MM/")
            elif depth >= 2:
                found.append(f"{rel}: misplaced folder; tickets/YYYY/MM/ holds only files")
    return found


def rule_file_problems(store: Store) -> list[str]:
    """sla.yaml and escalation.yaml as every command loads them: a rule file
    no command can load (an alias bomb, a huge number) fails the desk, so
    fsck must not pass it (`config check` lists the finer problems)."""
    from elinkctl.config import load_config
    from elinkctl.errors import ElinkError

    try:
        load_config(store.root)
    except ElinkError as exc:
        return [str(exc)]
    return []


def article_problems(store: Store) -> list[str]:
    """Knowledge articles as `kb show` reads them (front matter, fields), and
    folders named like an article file."""
    import os

    from elinkctl.errors import ElinkError
    from elinkctl.store.articles import article_ids, knowledge_dir, read_article

    base = knowledge_dir(store)
    if not base.is_dir() or base.is_symlink():
        return []
    entries = sorted(os.scandir(base), key=lambda e: e.name)
    found = [
        f"{store.rel(Path(e.path))}: a folder named like an article file"
        for e in entries
        if e.name.endswith(".md") and e.is_dir(follow_symlinks=False)
    ]
    found += [  # a FIFO or device: kb skips it (never waits on it), so name it here
        f"{store.rel(Path(e.path))}: not a plain file"
        for e in entries
        if e.name.endswith(".md")
        and not e.is_symlink()
        and not e.is_dir(follow_symlinks=False)
        and not e.is_file(follow_symlinks=False)
    ]
    for article_id in article_ids(store):
        try:
            read_article(store, article_id)
        except ElinkError as exc:
            found.append(str(exc))
        except OSError as exc:
            found.append(f"knowledge/{article_id}.md: cannot read: {exc.strerror or exc}")
    return found


def git_state_problems(store: Store) -> list[str]:
    """A git operation left unfinished by hand: while it is, every write fails
    (a sync killed inside its merge is undone by the next write instead)."""
    git_dir = store.state_dir.parent
    if (git_dir / "MERGE_HEAD").exists() and not (store.state_dir / "merging").exists():
        return [
            ".git/MERGE_HEAD: an unfinished git merge; every write fails until it is "
            "committed or aborted (git merge --abort)"
        ]
    return []


def sparse_problems(store: Store, problems: list[str]) -> tuple[int, list[str]]:
    """In a sparse checkout: check the tickets outside it (index entries with
    the skip-worktree bit, ``git ls-files -v -s``) from their blobs, as their
    files would be checked; their count, and the IDs naming attachments.
    Problems go to ``problems``; a note says how many were checked."""
    from elinkctl.cache.blobs import BlobError, fetch_missing, is_sparse

    if not is_sparse(store.state_dir.parent):
        return 0, []
    listed = store.git.run_bytes("ls-files", "-v", "-s", "-z", "--", "tickets/")
    entries = []
    for entry in listed.decode("utf-8", "surrogateescape").split("\0"):
        head, tab, rel = entry.partition("\t")
        fields = head.split(" ")
        if tab and len(fields) == 4 and fields[0] == "S" and _SHARD_FILE.match(rel):
            entries.append((rel, fields[1], fields[2]))
    fetch_missing(store.root, [blob for _, mode, blob in entries if mode != "120000"])
    attached: list[str] = []
    bar = Progress(len(entries), "fsck (from git)", None if len(entries) >= 2000 else False)
    for rel, mode, blob in entries:
        bar.step()
        if mode == "120000":
            problems.append(f"{rel}: a symbolic link; elinkctl does not follow it")
            continue
        try:
            text = store.blobs.read(blob).decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{rel}: not UTF-8 text")
            continue
        except BlobError as exc:
            problems.append(f"{rel}: cannot read from git: {exc}")
            continue
        except OSError as exc:
            problems.append(f"{rel}: cannot read: {exc.strerror or exc}")
            continue
        stem = rel.rsplit("/", 1)[1].removesuffix(".yaml")
        problems.extend(check_ticket_text(rel, stem, text))
        if "type: attached" in text:
            attached.append(stem)
    bar.finish()
    if entries:
        store.notes.append(
            f"{len(entries)} tickets outside the sparse checkout checked from git (their blobs)"
        )
    return len(entries), attached


def sparse_attachments(store: Store, recorded: list[str], problems: list[str]) -> list[str]:
    """In a sparse checkout that leaves ``attachments/<ID>/`` out: check those
    incidents' attached files from their blobs (present, size, SHA-256, every
    file recorded; the lines `attachment_problems` gives for files) into
    ``problems``; return the other IDs of ``recorded``, checked from files."""
    import hashlib

    from elinkctl.cache.blobs import BlobError, fetch_missing, skipped_files
    from elinkctl.domain.layout import ATTACHMENTS, is_attachment_path
    from elinkctl.domain.visit import attached
    from elinkctl.errors import ElinkError, TicketError

    skipped = skipped_files(store.state_dir.parent, store.git.run_bytes, ATTACHMENTS)
    by_id: dict[str, dict[str, str]] = {}
    for rel, blob in skipped.items():
        parts = rel.split("/")
        if len(parts) == 3:
            by_id.setdefault(parts[1], {})[parts[2]] = blob
    if not by_id:
        return recorded
    fetch_missing(store.root, list(skipped.values()))
    for ticket_id, files in sorted(by_id.items()):
        try:
            ticket = store.load(ticket_id)
        except ElinkError as exc:
            if not isinstance(exc, TicketError):
                problems.append(f"{ATTACHMENTS}/{ticket_id}: no such incident")
            continue  # a broken ticket is reported by the ticket checks
        named = set()
        for item in attached(ticket):
            named.add(item.name)
            rel = f"{ATTACHMENTS}/{ticket_id}/{item.name}"
            if not is_attachment_path(rel):
                where = store.rel(store.path_of(ticket_id))
                problems.append(f"{where}: attached {item.name!r}: not a safe file name")
                continue
            try:
                data = store.blobs.read(files[item.name], limit=1 << 40)
            except (KeyError, BlobError):
                problems.append(f"{rel}: missing (attached {item.at:%Y-%m-%d %H:%M} by {item.by})")
                continue
            if len(data) != item.size:
                problems.append(f"{rel}: {len(data)} bytes, the event says {item.size}")
            elif hashlib.sha256(data).hexdigest() != item.sha256:
                problems.append(f"{rel}: content differs from the SHA-256 the event recorded")
        problems.extend(
            f"{ATTACHMENTS}/{ticket_id}/{name}: not recorded by an attached event of {ticket_id}"
            for name in sorted(set(files) - named)
        )
    return [ticket_id for ticket_id in recorded if ticket_id not in by_id]


def check_store(store: Store) -> tuple[list[str], int]:
    problems: list[str] = rule_file_problems(store) + git_state_problems(store)
    count = 0
    attached: list[str] = []  # IDs whose events name attachments
    base = store.root / "tickets"
    if base.is_dir() and not base.is_symlink():
        problems.extend(folder_problems(store, base))
    walk = base.is_dir() and not base.is_symlink()  # a linked tickets/ is never listed
    paths = sorted(p for p in base.rglob("*") if not p.is_dir()) if walk else []
    bar = Progress(len(paths), "fsck", None if len(paths) >= 2000 else False)
    for path in paths:
        bar.step()
        if path.name in (".gitkeep",):
            continue
        if path.is_symlink() or not store.inside(path.parent):
            continue  # reported by symlink_problems, never read
        rel = store.rel(path)
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            problems.append(f"{rel}: leftover temporary file of an interrupted write")
            continue
        if path.suffix != ".yaml":
            problems.append(f"{rel}: not a ticket file")
            continue
        if not _SHARD_FILE.match(rel):
            problems.append(f"{rel}: misplaced; ticket files live in tickets/YYYY/MM/")
            continue
        count += 1
        try:
            text = fsio.read_limited(path).decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{rel}: not UTF-8 text")
            continue
        except OSError as exc:
            problems.append(f"{rel}: cannot read: {exc.strerror or exc}")
            continue
        problems.extend(check_ticket_text(rel, path.stem, text))
        if "type: attached" in text:
            attached.append(path.stem)
    bar.finish()
    skipped, skipped_attached = sparse_problems(store, problems)
    count += skipped
    attached += skipped_attached
    problems.extend(symlink_problems(store))
    problems.extend(article_problems(store))
    from elinkctl.services.visit import attachment_problems

    problems.extend(attachment_problems(store, sparse_attachments(store, attached, problems)))
    return problems, count
