"""Which tickets a query selects: the filter shared by `list`, `stats`, `check`
and the index (which applies it to summaries and facts with the same meaning)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Protocol

from elinkctl.domain.model import OPEN_STATUSES, Status


class Selectable(Protocol):
    """What the filter reads: a `Ticket`, or an index summary shaped like one."""

    @property
    def priority(self) -> Any: ...
    @property
    def type(self) -> Any: ...
    @property
    def fields(self) -> Any: ...
    @property
    def state(self) -> Any: ...


@dataclasses.dataclass(frozen=True)
class TicketFilter:
    """A conjunction of conditions; an empty set or None means "any"."""

    statuses: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    assignee: str | None = None
    system: str | None = None
    open_only: bool = False
    closed_only: bool = False
    key_user: bool = False
    security: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def matches(self, t: Selectable) -> bool:
        s = t.state
        if self.statuses and str(s.status) not in self.statuses:
            return False
        if self.priorities and t.priority not in self.priorities:
            return False
        if self.tiers and s.tier not in self.tiers:
            return False
        if self.types and t.type not in self.types:
            return False
        if self.assignee and s.assignee != self.assignee:
            return False
        if self.system and t.fields.get("system") != self.system:
            return False
        if self.open_only and s.status not in OPEN_STATUSES:
            return False
        if self.closed_only and s.status in OPEN_STATUSES:
            return False
        if self.key_user and not t.fields.get("key_user"):
            return False
        if self.security and not t.fields.get("security"):
            return False
        if self.since and s.opened_at < self.since:
            return False
        return not (self.until and s.opened_at >= self.until)

    def statuses_wanted(self) -> list[str] | None:
        """Statuses worth fetching from an index (None: all); `matches` decides exactly."""
        wanted = {str(s) for s in Status}
        if self.statuses:
            wanted &= set(self.statuses)
        if self.open_only:
            wanted &= {str(s) for s in OPEN_STATUSES}
        if self.closed_only:
            wanted -= {str(s) for s in OPEN_STATUSES}
        return None if len(wanted) == len(Status) else sorted(wanted)
