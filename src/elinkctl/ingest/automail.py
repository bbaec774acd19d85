"""Mail that no person wrote: bounces and automatic replies.

A desk's mailbox receives, besides people, delivery status notifications
(a notice of ours that could not be delivered) and automatic replies
(out-of-office, "收到", ticket systems answering ticket systems). Neither
may become an incident or a customer's comment: a bounce belongs to the
outbox (the delivery failed), an automatic reply to nothing.

:func:`classify` looks at a parsed message (``email.message.Message``, as
:func:`elinkctl.ingest.mail.parse_email` has it) and says which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Literal

__all__ = ["Automatic", "AutomaticKind", "classify"]

AutomaticKind = Literal["bounce", "auto-reply"]


@dataclass(frozen=True)
class Automatic:
    """A message sent by a machine, not a person.

    ``kind``: ``bounce`` (a delivery status notification: the message named
    by ``original_message_ids`` did not reach ``recipients``) or
    ``auto-reply`` (out-of-office and other automatic answers).
    ``status``/``diagnostic`` are the DSN's status code and the remote
    server's words (bounded, one line); ``reason`` says in a few words how
    it was recognised (for the desk's note).
    """

    kind: AutomaticKind
    reason: str
    original_message_ids: tuple[str, ...] = ()
    original_subject: str = ""
    recipients: tuple[str, ...] = ()
    status: str = ""
    diagnostic: str = ""


def classify(msg: Message, *, subject: str, from_addr: str) -> Automatic | None:
    """What machine sent ``msg``, or None when a person may have."""
    return None
