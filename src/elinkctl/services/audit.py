"""`audit`: KPI integrity over the store's history (issue 15).

Two sources, each read once:

- the current tickets, through the index's content-keyed facts
  (`elinkctl.domain.audit.ticket_facts`: closes without confirmation,
  callbacks, priority edits), so a warm run parses no YAML;
- the history of the ticket files: one `git log` pass and one blob stream
  (`elinkctl.store.history`), reading only the versions some commit changed;
  each commit's change is compared with the version before it
  (`elinkctl.domain.recorded.diff`).

A commit that adds two or more tickets is an import (a migration, a
generated store): no elinkctl command does that, and its date says nothing
about when its events happened, so those events are not audited for when
they were recorded. Only the incidents with something to judge on the SLA
clocks (a late record, an edit) are parsed in full.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from elinkctl.domain import audit
from elinkctl.domain.permissions import Permissions
from elinkctl.domain.recorded import History, Version, diff, scan
from elinkctl.errors import TicketError

if TYPE_CHECKING:
    from elinkctl.domain.sla import SlaRules
    from elinkctl.store.store import Store

FACTS = "audit"
"""The name of the audit facts in the index."""


def facts_version(store: Store) -> str:
    """What cached audit facts depend on: their code and the store's time zone (sla.yaml)."""
    from elinkctl.cache.versions import code_digest, rules_digest

    return f"{audit.FACTS_VERSION}:{code_digest(audit)}:{rules_digest(store.root, ('sla.yaml',))}"


def read_history(
    store: Store, tolerance: dt.timedelta
) -> tuple[dict[str, History], int, list[audit.Import]]:
    """What the commits did to each ticket (by ID, only tickets with something
    to report), how many commits changed tickets, and the imports."""
    from elinkctl.store.history import read_blobs, ticket_changes

    commits, changes = ticket_changes(store.root)
    added = Counter(c.commit for c in changes if c.old is None and c.new is not None)
    imported = {index for index, count in added.items() if count >= 2}
    imports = [audit.Import(commits[i].sha, commits[i].date, added[i]) for i in sorted(imported)]
    by_path: dict[str, list[tuple[int, str | None, str]]] = {}
    for c in changes:
        if c.new is None or (c.old is None and c.commit in imported):
            continue  # deleted, or brought in by an import: nothing to date
        by_path.setdefault(c.path, []).append((c.commit, c.old, c.new))
    wanted: list[str] = []
    for path in sorted(by_path):
        previous: str | None = None
        for _, old, new in by_path[path]:
            if old is not None and old != previous:
                wanted.append(old)
            wanted.append(new)
            previous = new
    blobs = read_blobs(store.root, wanted)
    histories: dict[str, History] = {}
    for path in sorted(by_path):
        history = History()
        last: tuple[str, Version | None] | None = None
        for index, old, new in by_path[path]:
            before: Version | None = None
            if old is not None:
                before = last[1] if last is not None and last[0] == old else _version(next(blobs))
                if before is None:
                    last = (new, _version(next(blobs)))
                    continue  # an unreadable version: nothing to compare with
            after = _version(next(blobs))
            last = (new, after)
            if after is None:
                continue
            diff(before, after, commits[index], tolerance, history, imported=index in imported)
        if history:
            histories[PurePosixPath(path).stem] = history
    for _ in blobs:  # drain: the stream must end where the requests did
        pass
    return histories, len({c.commit for c in changes}), imports


def _version(data: bytes | None) -> Version | None:
    if data is None:
        return None
    try:
        return scan(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def audit_store(
    store: Store,
    rules: SlaRules,
    now: dt.datetime,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    tolerance: dt.timedelta = audit.DEFAULT_TOLERANCE,
    on_error: Callable[[TicketError], None] | None = None,
) -> audit.Report:
    """The findings over every incident reported in [since, until)."""
    permissions = Permissions.from_mapping(store.config.escalation.data)
    auditor = audit.Auditor(rules, now, permissions, tolerance)
    report = audit.Report(now, tolerance, since=since, until=until)
    if not auditor.desk_checked:
        report.skipped.append(
            "callbacks: nobody holds role desk in escalation.yaml, so a callback "
            "outside the desk cannot be told"
        )
    histories, report.commits, report.imports = read_history(store, tolerance)
    tz = rules.tz
    facts = store.iter_facts(
        FACTS, facts_version(store), lambda ticket: audit.ticket_facts(ticket, tz), on_error
    )
    for f in facts:
        opened = dt.datetime.fromisoformat(str(f["opened_at"]))
        if (since is not None and opened < since) or (until is not None and opened >= until):
            continue
        report.incidents += 1
        report.findings.extend(auditor.from_facts(f))
        history = histories.get(str(f["id"]))
        if history is not None or f.get("priority_edits"):
            try:
                ticket = store.load(str(f["id"]))
            except TicketError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                continue
            found = auditor.from_ticket(ticket, str(f["month"]), history, f["priority_edits"])
            report.findings.extend(found)
    report.sort()
    return report
