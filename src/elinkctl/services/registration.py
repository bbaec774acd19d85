"""Registering an incident: priority, key users, scope, backfill, the commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Container, Mapping
from typing import Any

from elinkctl import yamlio
from elinkctl.config import Config
from elinkctl.domain import ids, lifecycle
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import DESCRIPTIVE_FIELDS, REPORTER_FIELDS, Ticket
from elinkctl.errors import UsageProblem
from elinkctl.services.context import Context


@dataclasses.dataclass(frozen=True)
class Registered:
    ticket: Ticket
    change: Change
    notes: tuple[str, ...]


def build_fields(
    config: Config, raw: Mapping[str, Any], force: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Registration fields from user input, with priority and flags derived.

    Returns the fields and notes for the desk (printed on stderr).
    """
    notes: list[str] = []
    fields: dict[str, Any] = {k: v for k, v in raw.items() if v not in (None, "")}
    for key in ("title", "description", "location", "contact", "system", "module"):
        if isinstance(fields.get(key), str):
            fields[key] = fields[key].strip()
    reporter = {k: v for k, v in (fields.get("reporter") or {}).items() if v not in (None, "")}
    if reporter:
        fields["reporter"] = reporter
    if not fields.get("priority"):
        urgency = fields.get("urgency") or "medium"
        impact = fields.get("impact") or "medium"
        fields["priority"] = lifecycle.priority_from_matrix(config.priority_matrix, urgency, impact)
        if not fields.get("urgency") or not fields.get("impact"):
            notes.append(
                f"priority {fields['priority']} from urgency {urgency} × impact {impact}"
                " (medium assumed where not given)"
            )
    if fields.get("key_user") is None:
        if config.is_key_user(reporter.get("name"), reporter.get("phone")):
            fields["key_user"] = True
            notes.append(f"{reporter.get('name')} is a key user (关键用户): handle first")
        else:
            fields.pop("key_user", None)
    elif fields.get("key_user") is False:
        fields.pop("key_user")
    if fields.get("security") is False:
        fields.pop("security")
    scope = config.scope
    system = fields.get("system")
    if scope and system and system not in scope:
        if not force:
            raise UsageProblem(
                f"system {system!r} is not in the service scope ({', '.join(scope)}); "
                "reject it, or register anyway with --force"
            )
        notes.append(f"system {system!r} is outside the scope list (registered with --force)")
    return fields, notes


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A registration ready to commit: the ticket (with any escalation levels
    already due), its commit message, and what `check` must notify."""

    change: Change
    due: tuple[Any, ...]
    rules: Any
    notes: tuple[str, ...]


def prepare(
    config: Config,
    raw_fields: Mapping[str, Any],
    actor: str,
    now: dt.datetime,
    taken: Container[str],
    *,
    opened_at: dt.datetime | None = None,
    recorded_at: dt.datetime | None = None,
    backfill_reason: str | None = None,
    force: bool = False,
    note: str | None = None,
    event_data: Mapping[str, Any] | None = None,
) -> Prepared:
    """Every rule of registration, without touching the store.

    Shared by `new` and `ingest` (which registers several incidents in one
    commit and records ``message_id``/``alert_key`` on the created event).
    The caller holds the store lock, so ``taken`` is stable.
    """
    from elinkctl.services import check

    fields, notes = build_fields(config, raw_fields, force)
    recorded = recorded_at or now
    opened = opened_at or recorded
    if opened < recorded and fields.get("priority") != "P1" and not backfill_reason:
        raise UsageProblem(
            "--opened-at (backfill, 先处理后补单) is for major incidents (P1); "
            "give --reason to backfill a lower priority"
        )
    if not ids.YEARS[0] <= opened.year <= ids.YEARS[1]:
        # INC-990501-… would read back as 2099 and be filed under tickets/2099/.
        raise UsageProblem(
            f"--at/--opened-at {opened:%Y-%m-%d}: an incident ID names a year within "
            f"{ids.YEARS[0]}–{ids.YEARS[1]} (INC-YYMMDD-…)"
        )
    ticket_id = ids.new_id(opened.date(), taken)
    change = lifecycle.register(
        ticket_id, fields, actor, opened, recorded, now, backfill_reason=backfill_reason, note=note
    )
    extra = {k: v for k, v in (event_data or {}).items() if v not in (None, "", [])}
    if extra:
        created = dataclasses.replace(change.event, data={**change.event.data, **extra})
        change = dataclasses.replace(
            change, ticket=dataclasses.replace(change.ticket, events=(created,)), event=created
        )
    # 管理升级 levels already due (a P1's 0h) go into the same commit, so the
    # PM hears of a major incident now, not at the next cron run.
    ticket, due, rules, esc_notes = check.registration_escalations(
        config, change.ticket, actor, now
    )
    notes += esc_notes
    if due:
        levels = ", ".join(f"{f.after} → {f.role}" for f in due)
        change = dataclasses.replace(
            change, ticket=ticket, message=f"{change.message} (escalation {levels})"
        )
    return Prepared(change, tuple(due), rules, tuple(notes))


def create(
    ctx: Context,
    raw_fields: Mapping[str, Any],
    *,
    opened_at: dt.datetime | None = None,
    recorded_at: dt.datetime | None = None,
    backfill_reason: str | None = None,
    force: bool = False,
    note: str | None = None,
) -> Registered:
    """Register and commit one incident (a P1's due escalation in the same commit)."""
    from elinkctl.services import check, notices

    actor, now, store = ctx.actor, ctx.now, ctx.store
    with store.transaction(actor) as tx:
        prepared = prepare(
            tx.config, raw_fields, actor, now, tx.taken,
            opened_at=opened_at, recorded_at=recorded_at,
            backfill_reason=backfill_reason, force=force, note=note,
        )  # fmt: skip
        change = prepared.change
        # Queued before the commit: the outbox keys are deterministic, so if
        # the commit fails the next `check` records the same levels without
        # queueing twice — and a crash in between cannot lose the notice.
        queued = 0
        if prepared.rules and prepared.due:
            queued = check.queue(check.outbox_for(store), prepared.rules, prepared.due, now)
        # The reporter's acknowledgement (escalation.yaml notices: registered).
        told = notices.queue_step(store, None, change.ticket, now)
        change = dataclasses.replace(change, ticket=told.ticket)
        tx.put(change.ticket, is_new=True)
        try:
            tx.commit(change.message)
        except BaseException:
            told.forget()
            if queued:  # the incident does not exist: nobody may be told of its level
                check.forget_queued(check.outbox_for(store), prepared.rules, prepared.due)
            raise
    notes = list(prepared.notes)
    if prepared.rules and prepared.due:
        notes += check.registration_notes(store, prepared.rules, list(prepared.due), queued, now)
        told.send_now = False  # registration_notes flushed the outbox already
    notes += told.after_lock(now)
    return Registered(change.ticket, change, tuple(notes))


EDITOR_HEADER = """\
# Edit the descriptive fields of {id}, save and quit. Lines starting with '#'
# are ignored. Changing priority or type needs a reason: fill in `reason:`.
# Leave the file unchanged to cancel.
"""


def editable_text(ticket: Ticket, reason: str | None) -> str:
    """The descriptive fields of ``ticket`` as the YAML a person edits (`edit` without options)."""
    return EDITOR_HEADER.format(id=ticket.id) + yamlio.dump(_editable(ticket, reason))


def _editable(ticket: Ticket, reason: str | None) -> dict[str, Any]:
    current: dict[str, Any] = {k: ticket.fields.get(k) for k in DESCRIPTIVE_FIELDS}
    reporter = ticket.fields.get("reporter") or {}
    current["reporter"] = {k: reporter.get(k) for k in REPORTER_FIELDS}
    current["reason"] = reason
    return current


def changes_from_text(
    ticket: Ticket, reason: str | None, edited_text: str
) -> tuple[dict[str, Any], str | None]:
    """The field changes (and reason) a person made to `editable_text`;
    validated before anything is saved."""
    if edited_text == editable_text(ticket, reason):
        raise UsageProblem("no change: the file was left as it was")
    current = _editable(ticket, reason)
    try:
        data = yamlio.load(edited_text)
    except yamlio.YamlError as exc:
        raise UsageProblem(f"edited fields line {exc.line}: {exc}; nothing saved") from None
    if not isinstance(data, dict):
        raise UsageProblem("edited fields must be a mapping; nothing saved")
    new_reason = data.pop("reason", None) or reason
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "reporter" and isinstance(value, dict):
            for sub, subval in value.items():
                if subval != (current.get("reporter") or {}).get(sub):
                    changes[f"reporter.{sub}"] = subval
        elif key not in current:
            raise UsageProblem(f"unknown field {key!r}; nothing saved")
        elif value != current.get(key):
            changes[key] = value
    lifecycle.validate_fields(changes)
    return changes, new_reason
