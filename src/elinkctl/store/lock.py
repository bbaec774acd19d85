"""The store lock: one read-modify-write at a time per clone.

``flock`` on a file under ``.git/`` is released by the kernel when the holder
dies, even by SIGKILL, so a crashed command never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from elinkctl.errors import LockTimeout


class StoreLock:
    def __init__(self, path: Path, timeout: float | None = None) -> None:
        self.path = path
        if timeout is None:
            timeout = float(os.environ.get("ELINKCTL_LOCK_TIMEOUT", "30"))
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self, wait: bool = True) -> bool:
        """Take the lock; return False (wait=False) or raise LockTimeout when busy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
