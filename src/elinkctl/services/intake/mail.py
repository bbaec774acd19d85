"""``ingest email``: a mail message becomes an incident, or a comment on one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from elinkctl.config import Config
from elinkctl.domain import lifecycle
from elinkctl.errors import NotFound, UsageProblem
from elinkctl.ingest import (
    ParsedEmail,
    clean_subject,
    find_ticket_ids,
    parse_email,
)
from elinkctl.ingest.automail import Automatic
from elinkctl.ingest.quotes import reply_text
from elinkctl.services.intake.common import (
    Batch,
    IntakeResult,
    Outcome,
    clean_text,
    guess_type,
    local_time,
    one_line,
    ticket_facts,
)
from elinkctl.store.store import Store

# ---------------------------------------------------------------------------
# Mail
# ---------------------------------------------------------------------------


def _email_description(mail: ParsedEmail) -> str:
    parts = [clean_text(mail.body).strip()]
    if mail.attachments:
        parts.append("附件: " + ", ".join(one_line(a, 200) for a in mail.attachments))
    sender = f"{mail.from_name} <{mail.from_addr}>" if mail.from_name else mail.from_addr
    if sender:
        parts.append("来信: " + one_line(sender, 200))
    return "\n\n".join(p for p in parts if p)


def _email_title(mail: ParsedEmail) -> str:
    title = one_line(clean_subject(mail.subject))
    if title:
        return title
    for line in clean_text(mail.body).split("\n"):
        if line.strip():
            return one_line(line, 60)
    return "(无主题邮件)"


def _known_reporter(
    facts: Iterable[tuple[str, dict[str, Any]]], address: str
) -> dict[str, str] | None:
    """The reporter of the most recent earlier ticket sent from ``address``."""
    best: tuple[str, dict[str, str]] | None = None
    for _tid, fact in facts:
        if fact.get("from") == address and isinstance(fact.get("reporter"), dict):
            opened = str(fact.get("opened_at", ""))
            if best is None or opened >= best[0]:
                best = (opened, dict(fact["reporter"]))
    return best[1] if best else None


def _reporter(
    mail: ParsedEmail, facts: Iterable[tuple[str, dict[str, Any]]], address: str
) -> dict[str, str]:
    """The reporter of a mailed-in incident: the phone and department the desk
    recorded for this address before, and the name the mail itself carries
    (people fix their display name; a colleague may share a mailbox). An
    address-only From keeps the name the desk knew (else the address)."""
    reporter = (_known_reporter(facts, address) if address else None) or {}
    own = one_line(mail.from_name, 60)
    if own and own.strip("<>").lower() != address:
        reporter["name"] = own
    elif not reporter.get("name") and mail.from_addr:
        reporter["name"] = one_line(mail.from_addr, 60)
    return reporter


def _automatic_note(store: Store, mail: ParsedEmail, auto: Automatic, now: dt.datetime) -> str:
    """What a mail no person wrote means (`elinkctl.ingest.automail`): never an
    incident, never a comment or a reporter's answer; a bounce of our notice
    is recorded in the outbox (`services.outbox.record_bounce`), nothing else
    is written anywhere. One line for the desk."""
    sender = one_line(mail.from_addr or mail.from_name or "an unknown sender", 80)
    if auto.kind == "bounce":
        from elinkctl.services.outbox import record_bounce

        return record_bounce(store, auto, mail.subject, now)
    if auto.kind in ("delayed", "delivered"):
        to = ", ".join(auto.recipients) or "a recipient"
        state = "delayed" if auto.kind == "delayed" else "reported delivered"
        code = f" ({auto.status})" if auto.status else ""
        return (
            f"a delivery status notification from {sender}: the mail to {to} is {state}{code}, "
            "not failed; nothing written"
        )
    if auto.kind == "own-notice":
        return (
            f"one of elinkctl's own notices ({auto.original_ticket}) came back to the intake "
            f"from {sender}: not an incident, not a comment; nothing written (is the intake "
            "mailbox listed as a person's or a channel's address in escalation.yaml?)"
        )
    target, _how = _thread_target(store, mail, list(ticket_facts(store)))
    about = f" to a mail about {target}" if target else ""
    return (
        f"an automatic reply{about} from {sender} ({one_line(auto.reason, 80)}): "
        "not an incident, not a comment; nothing written"
    )


def _is_key_user(config: Config, reporter: Mapping[str, str], address: str) -> bool:
    keys = {k.strip().lower() for k in config.key_users}
    candidates = (reporter.get("name"), reporter.get("phone"), address)
    return any(c and c.strip().lower() in keys for c in candidates)


def _thread_target(
    store: Store, mail: ParsedEmail, facts: list[tuple[str, dict[str, Any]]]
) -> tuple[str | None, str]:
    """The incident a reply is about, and how it was found ("" if none)."""
    for ticket_id in mail.ticket_ids:
        try:
            return store.resolve_id(ticket_id), "subject"
        except (NotFound, UsageProblem):
            continue
    thread = [mail.in_reply_to] if mail.in_reply_to else []
    thread += [m for m in reversed(mail.references) if m not in thread]
    by_message: dict[str, str] = {}
    for tid, fact in facts:
        for message_id in fact.get("message_ids", []):
            by_message.setdefault(str(message_id), tid)
    for message_id in thread:
        if message_id in by_message:
            return by_message[message_id], "thread"
    for message_id in thread:
        for ticket_id in find_ticket_ids(message_id):
            try:
                return store.resolve_id(ticket_id), "thread"
            except (NotFound, UsageProblem):
                continue
    return None, ""


def ingest_email(
    store: Store,
    data: bytes,
    actor: str,
    now: dt.datetime,
    *,
    type_: str | None = None,
) -> IntakeResult:
    """Register a mail as an incident, or record a reply on its incident.

    Parsing happens before the store is touched; lookups and the write
    happen under one lock, so two deliveries of the same mail cannot both
    register it.
    """
    if type_ is not None:
        lifecycle.validate_choice("--type", type_, lifecycle.TYPES)
    mail = parse_email(data)
    if mail.automatic is not None:
        return IntakeResult((), (_automatic_note(store, mail, mail.automatic, now),))
    address = mail.from_addr.strip().lower()
    with store.transaction(actor) as tx:
        batch = Batch(tx, now)
        facts = list(ticket_facts(store))
        if mail.message_id:
            for tid, fact in facts:
                if mail.message_id in fact.get("message_ids", []):
                    batch.notes.append(
                        f"message {mail.message_id} was already recorded on {tid}; nothing written"
                    )
                    batch.outcomes.append(Outcome(tid, "duplicate", ""))
                    return batch.result(None)
        target, how = _thread_target(store, mail, facts)
        if target is not None:
            ticket = tx.load(target)
            text = clean_text(reply_text(mail.body))
            if mail.attachments:
                text += "\n\n附件: " + ", ".join(one_line(a, 200) for a in mail.attachments)
            sender = one_line(mail.from_name or mail.from_addr or "unknown sender", 60)
            first = one_line(text.split("\n")[0] if text else "(空)", 60)
            # An answer to our request to confirm or satisfaction question
            # (services.replies: only when it clearly is one; else a comment).
            from elinkctl.services.replies import record_answer

            answered = record_answer(batch, ticket, mail, text)
            if not answered:
                batch.record(
                    ticket,
                    "commented",
                    "commented",
                    f"email from {sender}: {first}",
                    via="email",
                    message_id=mail.message_id,
                    **{"from": mail.from_addr},
                    text=text or "(正文为空)",
                )
            if not ticket.is_open and not answered:
                batch.notes.append(
                    f"{ticket.id} is {ticket.status}: the reply was recorded as a comment; "
                    f"reopen it (`elinkctl reopen {ticket.id} --reason …`) if the problem is back"
                )
            if how == "thread" and mail.ticket_ids:
                batch.notes.append(
                    f"{', '.join(mail.ticket_ids)} in the subject is not in this store; "
                    f"threaded onto {ticket.id} by the mail's In-Reply-To/References"
                )
        else:
            if mail.ticket_ids:
                batch.notes.append(
                    f"{', '.join(mail.ticket_ids)} in the subject is not in this store; "
                    "registered as a new incident"
                )
            reporter = _reporter(mail, facts, address)
            config = store.config
            raw: dict[str, Any] = {
                "title": _email_title(mail),
                "type": type_ or guess_type(mail.subject),
                "source": "email",
                "description": _email_description(mail),
                "reporter": reporter,
            }
            if _is_key_user(config, reporter, address):
                raw["key_user"] = True
                batch.notes.append(
                    f"{reporter.get('name') or address} is a key user (关键用户): handle first"
                )
            batch.register(
                raw,
                {
                    "via": "email",
                    "message_id": mail.message_id,
                    "from": mail.from_addr,
                    "sent_at": local_time(mail.date, config.tz),
                    "attachments": [one_line(a, 200) for a in mail.attachments],
                },
            )
        if mail.truncated:
            batch.notes.append("the mail body was too long and was truncated")
        batch.notes.extend(mail.notes)
        message = batch.commit("ingest email")
    batch.after_lock()
    return batch.result(message)
