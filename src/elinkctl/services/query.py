"""Selecting tickets: the filters shared by `list`, `stats` and reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from elinkctl.domain.model import OPEN_STATUSES, Ticket
from elinkctl.errors import UsageProblem

if TYPE_CHECKING:
    from elinkctl.cli.app import App


@dataclasses.dataclass(frozen=True)
class TicketFilter:
    statuses: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    assignee: str | None = None
    system: str | None = None
    open_only: bool = False
    closed_only: bool = False
    key_user: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def from_options(cls, app: App, opts: Mapping[str, Any]) -> TicketFilter:
        if opts.get("open_") and opts.get("closed"):
            raise UsageProblem("--open and --closed exclude each other")
        return cls(
            statuses=frozenset(opts.get("statuses") or ()),
            priorities=frozenset(opts.get("priorities") or ()),
            tiers=frozenset(opts.get("tiers") or ()),
            types=frozenset(opts.get("types") or ()),
            assignee=opts.get("assignee"),
            system=opts.get("system"),
            open_only=bool(opts.get("open_")),
            closed_only=bool(opts.get("closed")),
            key_user=bool(opts.get("key_user")),
            since=_bound(app, opts.get("since"), "--since", end=False),
            until=_bound(app, opts.get("until"), "--until", end=True),
        )

    def matches(self, t: Ticket) -> bool:
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
        if self.since and s.opened_at < self.since:
            return False
        return not (self.until and s.opened_at >= self.until)


def _bound(app: App, text: str | None, option: str, *, end: bool) -> dt.datetime | None:
    """A date means the start of that day (--since) or the end of it (--until)."""
    if not text:
        return None
    import re

    if re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text.strip()):
        parts = [int(p) for p in text.strip().split("-")]
        if len(parts) == 2:  # a month: YYYY-MM
            start = dt.datetime(parts[0], parts[1], 1, tzinfo=app.tz)
            if not end:
                return start
            nxt = dt.datetime(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1, tzinfo=app.tz)
            return nxt
        try:
            day = dt.datetime(parts[0], parts[1], parts[2], tzinfo=app.tz)
        except ValueError:
            raise UsageProblem(f"{option}: invalid date {text!r}") from None
        return day + dt.timedelta(days=1) if end else day
    return app.parse_time(text, option)
