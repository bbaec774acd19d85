"""When each open ticket next needs `check`, cached by its file's content.

Cron runs `check` every few minutes and almost every open ticket has
nothing due: parsing it and running its clocks each time is most of the
cost. The index validates each ticket file's content key (git blob or stat
data) on every run; while the key and the version (rules and code, see
`elinkctl.cache.versions`) are unchanged, the cached ``next_due`` stands
and a ticket whose moment has not come is not even read.

A disposable JSON file, ``.git/elinkctl/check-plan.json``: missing, corrupt
or of another version, it is simply rebuilt.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from elinkctl.cache import versioned
from elinkctl.fsio import atomic_write

PLAN_FILE = "check-plan.json"


class PlanCache:
    """path -> (content key, next due moment or None, horizon) of open tickets."""

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.version = versioned(version)
        self._entries: dict[str, list[Any]] | None = None
        self.dirty = False

    @property
    def entries(self) -> dict[str, list[Any]]:
        """Read on first use, not when made: `check` makes the plan before its
        first index query, which may bring a published plan into a fresh
        clone (`elinkctl.cache.shipped`)."""
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, list[Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == self.version and isinstance(data.get("entries"), dict):
                return dict(data["entries"])
            self.dirty = True  # other rules or code: replace it
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError):
            self.dirty = True  # corrupt: replace it
        return {}

    def get(self, path: str, key: str) -> tuple[dt.datetime | None, dt.datetime] | None:
        """(next_due, horizon) when cached for this content, else None."""
        entry = self.entries.get(path)
        if not isinstance(entry, list) or len(entry) != 3 or entry[0] != key:
            return None
        try:
            due = dt.datetime.fromisoformat(entry[1]) if entry[1] else None
            return due, dt.datetime.fromisoformat(entry[2])
        except (TypeError, ValueError):
            return None

    def put(self, path: str, key: str, due: dt.datetime | None, horizon: dt.datetime) -> None:
        entry = [key, due.isoformat() if due else None, horizon.isoformat()]
        if self.entries.get(path) != entry:
            self.entries[path] = entry
            self.dirty = True

    def save(self, keep: set[str]) -> None:
        """Write the plan, keeping only the entries of ``keep`` (the open
        tickets seen); nothing is written when nothing changed."""
        stale = set(self.entries) - keep
        for path in stale:
            del self.entries[path]
        if not (self.dirty or stale):
            return
        text = json.dumps({"version": self.version, "entries": self.entries})
        try:
            atomic_write(self.path, text, durable=False)
        except OSError:
            pass  # a cache that cannot be written is only slower
