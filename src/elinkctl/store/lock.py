"""The store lock: one read-modify-write at a time per clone.

``flock`` on a file under ``.git/`` is released by the kernel when the holder
dies, even by SIGKILL, so a crashed command never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from types import TracebackType

from elinkctl.errors import LockTimeout, StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

UNSUPPORTED = (
    "elinkctl needs a POSIX system (Linux, macOS, WSL) for its store lock (fcntl.flock); "
    "on Windows run it in WSL or on the desk's Linux host over ssh (README: Platforms)"
)

_SHARED = re.compile(
    r"^\s*sharedrepository\s*=\s*(group|true|1|all|world|everybody|0[0-7]{3})\s*$",
    re.I | re.M,
)


def adopt_shared_umask(git_dir: Path) -> bool:
    """Make new files group-writable when the repository is group-shared.

    ``git config core.sharedRepository group`` is how git itself is told
    that several Unix users write a repository; elinkctl follows the same
    setting for its own lock, journal, outbox and caches (`fsio.share_with_group`).
    Read from ``.git/config`` directly: no git process on the start-up path.
    """
    try:
        text = (git_dir / "config").read_text("utf-8", errors="replace")
    except OSError:
        return False
    found = _SHARED.search(text)
    if not found:
        return False
    value = found.group(1)
    if value.startswith("0") and int(value, 8) & 0o060 != 0o060:
        return False  # an explicit mode that does not give the group rw (0600, 0644)
    from elinkctl.fsio import share_with_group

    share_with_group()
    return True


class StoreLock:
    def __init__(self, path: Path, timeout: float | None = None) -> None:
        self.path = path
        if timeout is None:
            timeout = float(os.environ.get("ELINKCTL_LOCK_TIMEOUT", "30"))
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self, wait: bool = True) -> bool:
        """Take the lock; return False (wait=False) or raise LockTimeout when busy."""
        if fcntl is None:  # pragma: no cover - Windows
            raise StoreError(UNSUPPORTED)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # 0o666 less the umask: the next user of a group-shared store must be
        # able to open it for the lock (a read-only fd cannot be flock'ed for
        # writing on every system).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return True
            except BlockingIOError:
                if not wait:
                    os.close(fd)
                    return False
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(
                        f"the store is busy: another elinkctl held {self.path} for "
                        f"{self.timeout:.0f}s (set ELINKCTL_LOCK_TIMEOUT to wait longer)"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)  # short: waiting writers hand over quickly

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
