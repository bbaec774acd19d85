"""One progress bar for long work: generating a store, rebuilding the index, fsck.

Drawn on stderr only when stderr is a terminal, so cron mail and pipes stay
clean; redrawn at most ten times a second so it costs nothing measurable.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        filled = 30 * min(self.done, self.total) // self.total
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        )
        sys.stderr.flush()

    __call__ = step

    def finish(self) -> None:
        """Erase the bar: what follows on stderr starts on a clean line."""
        if self.enabled:
            sys.stderr.write("\r" + " " * (len(self.label) + 50) + "\r")
            sys.stderr.flush()
