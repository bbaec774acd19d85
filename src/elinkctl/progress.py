"""One progress bar for long work: generating a store, rebuilding the index, fsck.

Only the CLI writes to the terminal: it hands its stderr to `show_on` when
stderr is a terminal, so cron mail, pipes and library callers stay clean.
Redrawn at most ten times a second so it costs nothing measurable.
"""

from __future__ import annotations

import time
from typing import TextIO

_sink: TextIO | None = None


def show_on(stream: TextIO | None) -> None:
    """Draw progress bars on ``stream`` from now on (None: draw nothing)."""
    global _sink
    _sink = stream


class Progress:
    """A bar drawn on the stream given to `show_on`; ``enabled=False`` keeps a
    short job quiet."""

    def __init__(self, total: int, label: str, enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.label = label
        self.stream = _sink if enabled is not False else None
        self._last = 0.0

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.stream is None:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        filled = 30 * min(self.done, self.total) // self.total
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
        )
        self.stream.flush()

    __call__ = step

    def finish(self) -> None:
        """Erase the bar: what follows on stderr starts on a clean line."""
        if self.stream is not None:
            self.stream.write("\r" + " " * (len(self.label) + 50) + "\r")
            self.stream.flush()
