"""The one way elinkctl writes a file: crash-safe, never torn.

New files get 0o666 less the umask, like any program's, so a store shared by
a group (``core.sharedRepository=group``, `share_with_group`) stays
writable for all its users. Every writer (tickets and articles, the
journal, the outbox, reports, the caches) goes through `atomic_write`; the
caches pass ``durable=False`` because a cache lost in a crash is rebuilt,
while a ticket must survive it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Write via a temporary file and a rename (fsync of file and directory
    when ``durable``).

    A reader, or a process killed half-way, sees the old bytes or the new
    bytes, never a mix. Leftover ``.*.tmp`` files of a killed writer are
    ignored by readers and swept by the next locked command
    (`sweep_temp_files`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask decides
    try:
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def file_mode() -> int:
    """The mode a new file gets here: 0o666 less the process umask (what
    ``open`` gives), for writers that must set it explicitly (``mkstemp``
    makes 0o600, which other users of a shared store cannot read)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def create_empty(path: Path) -> None:
    """Create ``path`` empty with `file_mode` unless it exists (a SQLite
    database, whose library would make it 0o644 whatever the umask)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def share_with_group() -> None:
    """Clear the group bits of the process umask, as git does for a
    repository with ``core.sharedRepository=group``: every file and folder
    elinkctl (and the git it runs) creates is then group-readable and
    -writable, so the next user of a shared store can take the lock, update
    the caches and send what is queued."""
    mask = os.umask(0o022)
    os.umask(mask & ~0o070)


def atomic_write_json(path: Path, data: Mapping[str, Any], *, durable: bool = True) -> None:
    """`atomic_write` of a JSON document, Chinese kept as characters."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    atomic_write(path, text, durable=durable)


def sweep_temp_files(directory: Path) -> list[Path]:
    """Remove temporary files left by killed writers; return what was removed."""
    removed = []
    if directory.is_dir():
        for entry in directory.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def digest(*parts: str | bytes, size: int = 64) -> str:
    """A hex SHA-256 of ``parts`` (each length-prefixed, so ("ab", "c") and
    ("a", "bc") differ), cut to ``size`` characters: the one content key of
    the caches, the outbox and the merge records."""
    h = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    return h.hexdigest()[:size]


MAX_TICKET_BYTES = 2 * 1024 * 1024
"""Largest ticket or article file a reader opens (2 MiB; ours are ~3 KB, one
argument holds at most 128 KiB). Parsing costs ~1 s a MiB of events: a
hand-committed 50 MB file cost every command many seconds; beyond this it
is refused (and `fsck` says so), and `Transaction.put` never writes one."""


class NotAFile(OSError):
    """What should be a plain file is a FIFO, a device, a socket or a folder."""


class TooLarge(OSError):
    """A file beyond the size a reader opens (`MAX_TICKET_BYTES`)."""


def read_limited(path: Path, limit: int = MAX_TICKET_BYTES) -> bytes:
    """The bytes of a plain file of at most ``limit`` bytes, reached without
    following a link at its last component.

    Opened non-blocking and checked with fstat before reading: a FIFO named
    like a ticket made every reader wait forever, a device (``/dev/zero``)
    read forever. Raises `NotAFile`, `TooLarge` or the OSError of open/read
    (ELOOP for a symbolic link)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "a folder, not a file", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise NotAFile(f"not a plain file ({_kind(st.st_mode)})")
        if st.st_size > limit:
            raise TooLarge(f"{st.st_size:,} bytes, more than the {limit:,} a reader opens")
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(st.st_size + 1, limit) + 1 if not chunks else 1 << 16):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew since fstat
                raise TooLarge(f"more than the {limit:,} bytes a reader opens")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
