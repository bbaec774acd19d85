"""Whether the outbox needs a person: `check`'s exit 3 (issue 16).

Kept apart from `elinkctl.services.outbox` (which imports the mail
machinery) so that a quiet cron `check` reads two folders and nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elinkctl.notify.entry import OutboxEntry
    from elinkctl.store.store import Store


def failing(store: Store, min_attempts: int) -> list[OutboxEntry]:
    """Items a person must look at (`check` exits 3 for them): given up on
    (in ``failed/``, not dropped by a person) or pending after
    ``min_attempts`` failed attempts in a row. Reads only ``pending/`` and
    ``failed/`` (never the delivered markers, which grow for years), so a
    quiet cron run stays cheap."""
    import json

    from elinkctl.notify.entry import OutboxEntry

    found: list[OutboxEntry] = []
    for state in ("pending", "failed"):
        folder = store.state_dir / "outbox" / state
        try:
            paths = sorted(folder.glob("*.json"))
        except OSError:
            continue
        for path in paths:
            try:
                entry = OutboxEntry.from_record(state, json.loads(path.read_text("utf-8")))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # gone meanwhile, or unreadable (flush quarantines those)
            if state == "failed" and not entry.dropped:
                found.append(entry)
            elif state == "pending" and min_attempts > 0 and entry.attempts >= min_attempts:
                found.append(entry)
    return found
