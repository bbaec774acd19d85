"""The files the knowledge base's caches are derived from, and their documents.

Searchable files are the articles (``knowledge/KB-*.md``) and the ticket
files (``tickets/YYYY/MM/*.yaml``); each gives at most one `Doc` (a ticket
only once resolved or closed). `KbSource` is the store as these caches see
it: its work tree, its machine-local state directory and a way to run git,
so that the cache layer needs nothing from the store layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from elinkctl import fsio
from elinkctl.domain.layout import KNOWLEDGE, TICKETS
from elinkctl.kb.article import ArticleError, parse_article
from elinkctl.kb.docs import Doc, doc_from_article, doc_from_ticket_text

Warn = Callable[[str], None]
RunGit = Callable[..., bytes]
"""``run(*args, env=None) -> stdout`` of git in the store's work tree;
`elinkctl.errors.StoreError` when git fails."""


def ignore(_: str) -> None:
    """An `on_error` for callers that show nothing (suggestions)."""


@dataclass(frozen=True)
class KbSource:
    """The store as the knowledge base's caches see it."""

    root: Path
    """The work tree: ``knowledge/`` and ``tickets/`` are read from here."""
    state: Path
    """The machine-local state directory (``.git/elinkctl``): the caches live here."""
    git: RunGit

    @property
    def git_dir(self) -> Path:
        return self.state.parent


def stat_searchable_files(root: Path) -> list[tuple[str, int, int]]:
    """(relative path, mtime_ns, size) of every article and ticket file, sorted; nothing read."""
    out: list[tuple[str, int, int]] = []
    kdir = root / KNOWLEDGE
    if kdir.is_dir():
        for e in os.scandir(kdir):
            if e.name.startswith("KB-") and e.name.endswith(".md"):
                st = e.stat()
                out.append((f"{KNOWLEDGE}/{e.name}", st.st_mtime_ns, st.st_size))

    def walk(path: str, rel: str, depth: int) -> None:
        for e in os.scandir(path):
            if depth < 2:
                if e.name.isdigit() and e.is_dir():
                    walk(e.path, f"{rel}/{e.name}", depth + 1)
            elif e.name.endswith(".yaml") and not e.name.startswith("."):
                st = e.stat()
                out.append((f"{rel}/{e.name}", st.st_mtime_ns, st.st_size))

    tdir = root / TICKETS
    if tdir.is_dir():
        walk(str(tdir), TICKETS, 0)
    out.sort()
    return out


def more_searchable_files_than(root: Path, limit: int) -> bool:
    """Whether the store holds more than ``limit`` articles and tickets
    (names counted, nothing stat()ed; stops as soon as it knows)."""
    count = 0
    kdir = root / KNOWLEDGE
    folders = [str(kdir)] if kdir.is_dir() else []
    with suppress(OSError):
        for year in sorted(os.scandir(root / TICKETS), key=lambda e: e.name, reverse=True):
            if year.name.isdigit() and year.is_dir():
                folders += [m.path for m in os.scandir(year.path) if m.name.isdigit()]
    for folder in folders:
        with suppress(OSError):
            count += len(os.listdir(folder))
        if count > limit:
            return True
    return False


def is_searchable_path(rel: str) -> bool:
    """Whether a path (from git) is one `stat_searchable_files` would list."""
    parts = rel.split("/")
    if parts[0] == KNOWLEDGE:
        return len(parts) == 2 and parts[1].startswith("KB-") and parts[1].endswith(".md")
    return (
        len(parts) == 4
        and parts[0] == TICKETS
        and parts[1].isdigit()
        and parts[2].isdigit()
        and parts[3].endswith(".yaml")
        and not parts[3].startswith(".")
    )


def sparse_entries(source: KbSource) -> dict[str, str]:
    """rel path -> blob of the ticket and article files a sparse checkout
    leaves out of the work tree (`elinkctl.cache.blobs.skipped_files`):
    searchable as a full checkout's files are. Nothing, and no git process,
    in a full one."""
    from elinkctl.cache.blobs import skipped_files

    found = skipped_files(source.git_dir, source.git, TICKETS, KNOWLEDGE)
    return {rel: blob for rel, blob in found.items() if is_searchable_path(rel)}


def read_doc(root: Path, rel: str, on_error: Warn, blob: str | None = None) -> Doc | None:
    """The searchable document of one file, or None (an open ticket, a broken
    file: reported through ``on_error``). ``blob``: what git holds for a file
    a sparse checkout leaves out (a blob ID or ``<commit>:<path>``), read
    when the file is not in the work tree."""
    from elinkctl import yamlio

    try:
        try:
            data = fsio.read_limited(root / rel)
        except FileNotFoundError:
            if blob is None:
                raise
            from elinkctl.cache.blobs import BlobError, reader

            try:
                data = reader(root).read(blob)
            except BlobError:
                return None  # not in git either: no document
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        on_error(f"{rel}: unreadable ({exc}); not searched")
        return None
    if rel.startswith(KNOWLEDGE + "/"):
        try:
            return doc_from_article(parse_article(text, rel))
        except ArticleError as exc:
            on_error(f"{exc}; not searched")
            return None
    try:
        return doc_from_ticket_text(text)
    except yamlio.YamlError as exc:
        on_error(f"{rel} line {exc.line}: {exc}; not searched")
        return None
