"""The context every use case runs in: which store, who acts, and when "now" is.

The CLI builds one `Context` from ``--store``/``--as``/``ELINKCTL_NOW`` and
passes it to the services; tests build one directly. Each part is resolved
on first use, so ``--help``, ``init`` and read-only commands pay only for
what they touch (no store discovery for ``init``, no ``git config`` lookup
for a command that records nothing).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

from elinkctl.errors import UsageProblem

if TYPE_CHECKING:
    from elinkctl.store.store import Store


class Context:
    """The store, the acting person and "now" (DESIGN §8 globals)."""

    def __init__(
        self,
        store_dir: str | None = None,
        actor: str | None = None,
        *,
        now: dt.datetime | None = None,
        store: Store | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.actor_given = actor
        self._store = store
        self._now = now

    @property
    def store(self) -> Store:
        """The store: ``--store``, ``ELINKCTL_STORE`` or the nearest parent (DESIGN §6)."""
        if self._store is None:
            from elinkctl.store.store import Store, discover

            self._store = Store(discover(self.store_dir))
            from elinkctl.store.clone import register_quietly

            register_quietly(self._store.root)  # the merge driver, for readers too
            if os.environ.get("ELINKCTL_NOW"):
                # A replay: its commits are dated "now" too (DESIGN §8).
                self._store.clock = lambda: self.now
        return self._store

    @property
    def tz(self) -> dt.tzinfo:
        """The store's time zone: every time a user types is read in it."""
        return self.store.config.tz

    @property
    def now(self) -> dt.datetime:
        """``ELINKCTL_NOW`` when set (replays, tests), else the clock; fixed for the run."""
        if self._now is None:
            from elinkctl.timeutil import now_from_env

            self._now = now_from_env(self.tz)
        return self._now

    @property
    def actor(self) -> str:
        """Who is acting: ``--as``, ``ELINKCTL_USER``, else git's user.name;
        an alias in escalation.yaml's people list becomes the person's name,
        so every event and commit names one person one way."""
        name = (self.actor_given or "").strip() or self.store.git.config_get("user.name")
        if not name:
            raise UsageProblem("who is acting? give --as USER, set ELINKCTL_USER, or git user.name")
        return self.store.permissions.person(name) or name

    def parse_time(self, text: str | None, option: str = "--at") -> dt.datetime:
        """A time as users write it (``--at``-style), in the store's zone; default now."""
        if text is None:
            return self.now
        from elinkctl.timeutil import parse_time

        try:
            return parse_time(text, self.tz, now=self.now)
        except UsageProblem as exc:
            raise UsageProblem(f"{option}: {exc}") from None

    def parse_bound(self, text: str | None, option: str, *, end: bool) -> dt.datetime | None:
        """A period bound: a date means the start of that day (``--since``) or
        the end of it (``--until``); ``YYYY-MM`` a whole month; else a time."""
        if not text:
            return None
        import re

        from elinkctl.timeutil import normalize_day

        text = normalize_day(text, self.tz, self.now)  # 2026/12/01, today, yesterday
        if re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text.strip()):
            parts = [int(p) for p in text.strip().split("-")]
            if len(parts) == 2:  # a month: YYYY-MM
                if not 1 <= parts[1] <= 12:
                    raise UsageProblem(f"{option}: invalid month {text!r}")
                start = dt.datetime(parts[0], parts[1], 1, tzinfo=self.tz)
                if not end:
                    return start
                return dt.datetime(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1, tzinfo=self.tz)
            try:
                day = dt.datetime(parts[0], parts[1], parts[2], tzinfo=self.tz)
            except ValueError:
                raise UsageProblem(f"{option}: invalid date {text!r}") from None
            return day + dt.timedelta(days=1) if end else day
        return self.parse_time(text, option)
