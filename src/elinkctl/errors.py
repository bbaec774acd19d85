"""One exception hierarchy for the whole domain.

Domain and store code raise these; only the CLI layer turns them into
click exceptions (exit 1 for `ElinkError`, exit 2 for `UsageProblem`), so a
user mistake never shows a traceback.
"""

from __future__ import annotations


class ElinkError(Exception):
    """A clear, one-line problem the user can act on (exit 1)."""


class UsageProblem(ElinkError):
    """The command was called wrongly: a bad value or a missing option (exit 2)."""


class ConfigError(ElinkError):
    """sla.yaml or escalation.yaml is invalid; the message names file and line."""


class TicketError(ElinkError):
    """A ticket file cannot be parsed or violates the schema; names file and line."""


class NotFound(ElinkError):
    """No ticket or article matches the given ID."""


class Ambiguous(ElinkError):
    """An ID prefix or suffix matches more than one ticket."""

    def __init__(self, given: str, candidates: list[str]) -> None:
        shown = ", ".join(candidates[:10]) + (" …" if len(candidates) > 10 else "")
        super().__init__(f"ID {given!r} is ambiguous: {shown}")
        self.candidates = candidates


class TransitionError(ElinkError):
    """The process does not allow this step from the ticket's current status."""


class PermissionDenied(ElinkError):
    """The acting person does not hold the role a step needs (escalation.yaml permissions)."""


class StoreError(ElinkError):
    """The store is missing, locked or inconsistent."""


class StoreMissing(StoreError):
    """No store where one was expected (a configuration problem: sysexits 78 for ingest)."""


class StoreBusy(StoreError):
    """The store lock is held and the caller asked not to wait (cron's `check`)."""


class LockTimeout(StoreError):
    """Another elinkctl process held the store lock for too long."""
