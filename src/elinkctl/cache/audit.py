"""`audit`'s reading of history, kept between runs (``audit-history.json``).

What a commit did to the tickets never changes, so the reading of every
commit up to a head is kept with that head; the next run reads only the
commits after it. The cache is used only when its head is still in the
history of HEAD (a rewritten history — a rebase, a reset — reads it all
again), and under the version it was made with (the layer's and the code's).
Anything unreadable is ignored: the history is then read afresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from elinkctl.cache import versioned
from elinkctl.domain.recorded import History, Late, PriorityEdit, TimeEdit

FILE = "audit-history.json"


@dataclasses.dataclass
class Reading:
    """What the commits up to ``head`` did to the tickets."""

    head: str
    commits: int = 0
    imports: list[tuple[str, dt.datetime, int]] = dataclasses.field(default_factory=list)
    histories: dict[str, History] = dataclasses.field(default_factory=dict)

    def extend(self, later: Reading) -> None:
        """Add a reading of the commits after this one's head (``later.head`` becomes ours)."""
        self.head = later.head
        self.commits += later.commits
        self.imports += later.imports
        for tid, history in later.histories.items():
            mine = self.histories.setdefault(tid, History())
            mine.late += history.late
            mine.time_edits += history.time_edits
            mine.priority_edits += history.priority_edits


_KINDS: dict[str, Any] = {"late": Late, "time_edits": TimeEdit, "priority_edits": PriorityEdit}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _dump(history: History) -> dict[str, list[list[Any]]]:
    return {
        name: [[_plain(v) for v in dataclasses.astuple(item)] for item in getattr(history, name)]
        for name in _KINDS
    }


def _load(data: dict[str, list[list[Any]]]) -> History:
    history = History()
    for name, cls in _KINDS.items():
        items = getattr(history, name)
        kinds = [f.type for f in dataclasses.fields(cls)]
        for row in data.get(name, ()):
            items.append(
                cls(
                    *(
                        dt.datetime.fromisoformat(v) if "datetime" in str(kind) else v
                        for v, kind in zip(row, kinds, strict=True)
                    )
                )
            )
    return history


def load(state_dir: Path, version: str) -> Reading | None:
    """The kept reading, or None when there is none usable."""
    try:
        data = json.loads((state_dir / FILE).read_text(encoding="utf-8"))
        if data.get("version") != versioned(version):
            return None
        return Reading(
            str(data["head"]),
            int(data["commits"]),
            [(str(c), dt.datetime.fromisoformat(d), int(n)) for c, d, n in data["imports"]],
            {str(tid): _load(h) for tid, h in data["histories"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(state_dir: Path, version: str, reading: Reading) -> None:
    """Keep ``reading`` for the next run (a failure to write costs only time)."""
    from elinkctl.fsio import atomic_write_json

    data = {
        "version": versioned(version),
        "head": reading.head,
        "commits": reading.commits,
        "imports": [[c, d.isoformat(), n] for c, d, n in reading.imports],
        "histories": {tid: _dump(h) for tid, h in sorted(reading.histories.items()) if h},
    }
    try:
        atomic_write_json(state_dir / FILE, data, durable=False)
    except OSError:
        pass
