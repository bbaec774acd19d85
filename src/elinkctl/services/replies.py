"""The reporter answers by mail: a confirmation or a satisfaction score.

`ingest email` threads a reply onto its incident (`elinkctl.services.intake.mail`)
and asks `record_answer` first. The reply counts as an answer only when its
In-Reply-To or References name a notice we sent about this incident (the
Message-ID recorded on the ticket, `elinkctl.domain.notices.mail_id`) — or,
when they name none of ours, the last question we mailed about it —, the
notice asked that question — ``resolved`` asks to confirm, ``closed`` for
satisfaction — the incident is still where the answer fits (resolved and
not yet confirmed; resolved or closed for a callback), it comes from the
address we asked, the intake's identity may record it (escalation.yaml
``permissions:``) and the text says one thing clearly
(`elinkctl.domain.replies`). Anything else stays a comment for the desk: a
wrong state change would be worse than a note someone reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from elinkctl.domain import replies
from elinkctl.domain.model import Event, Status, Ticket
from elinkctl.domain.notices import REPLY_KINDS, parse_mail_id
from elinkctl.errors import ElinkError

if TYPE_CHECKING:
    from elinkctl.ingest import ParsedEmail


def question_of(ticket: Ticket, mail: ParsedEmail) -> str | None:
    """``confirm`` or ``satisfaction`` when ``mail`` answers such a notice of ``ticket``."""
    recorded = {str(m) for e in ticket.events for m in (e.get("mail_ids") or ())}
    thread = [mail.in_reply_to] if mail.in_reply_to else []
    thread += [m for m in reversed(mail.references) if m not in thread]
    for message_id in thread:
        parsed = parse_mail_id(message_id)
        if parsed is None or parsed[0] != ticket.id or message_id not in recorded:
            continue
        return REPLY_KINDS.get(parsed[2])
    # Threaded by the ID in the subject alone (a client that drops In-Reply-To,
    # a reply typed as a new mail): it answers the last question we mailed,
    # if any; record_answer still checks the state, the address and the text.
    asked = [parse_mail_id(m) for e in ticket.events for m in (e.get("mail_ids") or ())]
    questions = [
        REPLY_KINDS[p[2]] for p in asked if p and p[0] == ticket.id and p[2] in REPLY_KINDS
    ]
    return questions[-1] if questions else None


def record_answer(batch: Any, ticket: Ticket, mail: ParsedEmail, text: str) -> bool:
    """Record the reply as ``confirmed`` or ``callback`` when it clearly is
    one (see the module docstring); False leaves it to the caller's comment."""
    question = question_of(ticket, mail)
    if question is None:
        return False
    from elinkctl.services.notices import reporter_address

    expected = reporter_address(ticket, batch.tx.config.escalation.data).strip().lower()
    if not expected or mail.from_addr.strip().lower() != expected:
        # The Message-ID is predictable from the incident ID: only the
        # address we asked may answer for the reporter.
        batch.notes.append(
            f"{ticket.id}: an answer to our {question} mail from {mail.from_addr or 'nobody'}, "
            "not the reporter's address: kept as a comment"
        )
        return False
    current = batch.tickets.get(ticket.id, ticket)
    first = " ".join(text.split())[:60]
    data: dict[str, Any] = {
        "via": "email",
        "message_id": mail.message_id,
        "from": mail.from_addr,
    }
    if question == "confirm":
        if not replies.confirms(text):
            return False
        if current.status != Status.RESOLVED or current.state.confirmed_at is not None:
            return False
        type_, message = "confirmed", f"reporter confirmed by email: {first}"
        data["note"] = f"报告人邮件回复：{first}"
    else:
        score = replies.satisfaction(text)
        if score is None or current.status not in (Status.RESOLVED, Status.CLOSED):
            return False
        if not _callback_allowed(batch, current):
            return False
        type_, message = "callback", f"callback by email, satisfaction {score}/5"
        data.update(satisfaction=score, note=f"报告人邮件回复：{first}")
    if not _permitted(batch, current, type_):
        batch.notes.append(
            f"{ticket.id}: the reply reads as {type_} but {batch.tx.actor} may not record it; "
            "kept as a comment"
        )
        return False
    batch.record(current, type_, type_, message, **data)
    return True


def _callback_allowed(batch: Any, ticket: Ticket) -> bool:
    """A reviewed priority's callback waits for the approval and the report."""
    from elinkctl.domain import major
    from elinkctl.services.procedure import procedure_rules

    try:
        major.check_callback(ticket, procedure_rules(batch.tx.config))
    except ElinkError:
        return False
    return True


def _permitted(batch: Any, ticket: Ticket, type_: str) -> bool:
    """Whether the intake's actor may record ``type_`` (checked before staging:
    a refusal at commit would lose the whole mail)."""
    actor = batch.tx.actor
    event = Event(ticket.next_event_id(), batch.now, actor, type_, {})
    return batch.store.permissions.refusal(actor, event, ticket) is None
