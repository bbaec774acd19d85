"""`audit`: KPI integrity over the store's history (issue 15).

Two sources, each read once:

- the current tickets, through the index's content-keyed facts
  (`elinkctl.domain.audit.ticket_facts`: closes without confirmation,
  callbacks, priority edits), so a warm run parses no YAML;
- the history of the ticket files: one `git log` pass and one blob stream
  (`elinkctl.store.history`), reading only the versions some commit changed;
  each commit's change is compared with the version before it
  (`elinkctl.domain.recorded.diff_texts`). What the commits did is kept
  (`elinkctl.cache.audit`), so the next run reads only the commits since.

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
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from elinkctl.cache.audit import Reading
from elinkctl.domain import audit
from elinkctl.domain.permissions import Permissions
from elinkctl.domain.recorded import History, diff_texts
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


def history_version() -> str:
    """What a kept reading of history depends on: the code that read it."""
    from elinkctl.cache.versions import code_digest
    from elinkctl.domain import recorded
    from elinkctl.store import history

    return code_digest(recorded, history)


def read_history(store: Store) -> Reading:
    """What the commits did to each ticket (by ID, only tickets with something
    to report): the reading kept from the last run, extended by the commits
    made since (`elinkctl.cache.audit`), else the whole history."""
    from elinkctl.cache import audit as kept
    from elinkctl.store.history import head_commit, is_ancestor

    head = head_commit(store.root)
    if head is None:
        return Reading("")
    version = history_version()
    state_dir = store.state_dir
    reading = kept.load(state_dir, version)
    if reading is not None and reading.head == head:
        return reading
    if reading is not None and not is_ancestor(store.root, reading.head, head):
        reading = None  # history was rewritten: read it all again
    later = _read(store.root, head, reading.head if reading is not None else None)
    if reading is None:
        reading = later
    else:
        reading.extend(later)
    kept.save(state_dir, version, reading)
    return reading


def _read(root: Path, head: str, since: str | None) -> Reading:
    """Read the commits after ``since`` up to ``head``: one log, one blob stream."""
    from elinkctl.store.history import read_blobs, ticket_changes

    commits, changes = ticket_changes(root, head, since)
    added = Counter(c.commit for c in changes if c.old is None and c.new is not None)
    imported = {index for index, count in added.items() if count >= 2}
    imports = [(commits[i].sha, commits[i].date, added[i]) for i in sorted(imported)]
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
    blobs = read_blobs(root, wanted)
    histories: dict[str, History] = {}
    for path in sorted(by_path):
        history = History()
        last: tuple[str, str | None] = ("", None)
        for index, old, new in by_path[path]:
            before: str | None = None
            if old is not None:
                before = last[1] if last[0] == old else _text(next(blobs))
            after = _text(next(blobs))
            last = (new, after)
            if after is None or (old is not None and before is None):
                continue  # an unreadable version: nothing to compare
            diff_texts(before, after, commits[index], history, imported=index in imported)
        if history:
            histories[PurePosixPath(path).stem] = history
    for _ in blobs:  # drain: the stream must end where the requests did
        pass
    return Reading(head, len({c.commit for c in changes}), imports, histories)


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def audit_store(
    store: Store,
    rules: SlaRules,
    now: dt.datetime,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    tolerance: dt.timedelta | None = None,
    on_error: Callable[[TicketError], None] | None = None,
) -> audit.Report:
    """The findings over every incident reported in [since, until); the
    tolerance defaults to the one `verify` applies (escalation.yaml
    ``verify: {tolerance}``, else 1 hour)."""
    from elinkctl.domain.verify import Policy

    data = store.config.escalation.data
    permissions = Permissions.from_mapping(data)
    if tolerance is None:
        tolerance = Policy.from_mapping(data).tolerance
    auditor = audit.Auditor(rules, now, permissions, tolerance)
    report = audit.Report(now, auditor.tolerance, since=since, until=until)
    if not auditor.desk_checked:
        report.skipped.append(
            "callbacks: nobody holds role desk in escalation.yaml, so a callback "
            "outside the desk cannot be told"
        )
    reading = read_history(store)
    histories = reading.histories
    report.commits = reading.commits
    report.imports = [audit.Import(sha, date, count) for sha, date, count in reading.imports]
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
