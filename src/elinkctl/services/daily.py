"""Notes that a cron job should say once a day, not on every run.

`check` runs every five minutes and cron mails whatever it prints; a
standing condition (no holiday data for next year, notifications that keep
failing) is news once, then noise. The day each note was last shown is kept
in ``<state_dir>/daily-notes.json`` (machine-local, a cache: deleting it only
shows the notes again).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

FILE = "daily-notes.json"
KEEP = dt.timedelta(days=40)
"""Notes not shown for this long are forgotten, so the file stays small."""


def due_today(state_dir: Path, note: str, today: dt.date) -> bool:
    """True when ``note`` was not yet shown on ``today`` (and record that it is now).

    Best effort: a state directory that cannot be written shows the note
    (every run, as before) rather than failing the run.
    """
    from elinkctl.fsio import atomic_write_json, digest

    path = state_dir / FILE
    try:
        seen = json.loads(path.read_text("utf-8"))
        if not isinstance(seen, dict):
            seen = {}
    except (OSError, ValueError):
        seen = {}
    key = digest(note, size=16)
    day = today.isoformat()
    if seen.get(key) == day:
        return False
    cutoff = (today - KEEP).isoformat()
    kept = {k: v for k, v in seen.items() if isinstance(v, str) and v >= cutoff}
    kept[key] = day
    try:
        atomic_write_json(path, kept, durable=False)
    except OSError:
        pass
    return True
