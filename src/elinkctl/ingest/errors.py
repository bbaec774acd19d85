"""The one error type of the intake layer.

A mail or alert payload that cannot be read is the sender's problem, not a
bug: the CLI shows the one-line message and exits 1 (see
:mod:`elinkctl.errors`), and the webhook/mail pipeline can log it.
"""

from __future__ import annotations

from elinkctl.errors import ElinkError

__all__ = ["IngestError"]


class IngestError(ElinkError):
    """An incoming mail or alert payload is malformed; the message says how."""
