"""Registering an incident: priority, key users, scope, backfill, the commit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import tempfile
from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Any

from elinkctl import yamlio
from elinkctl.config import Config
from elinkctl.domain import ids, lifecycle
from elinkctl.domain.lifecycle import Change
from elinkctl.domain.model import DESCRIPTIVE_FIELDS, REPORTER_FIELDS, Ticket
from elinkctl.errors import UsageProblem
from elinkctl.store.store import Store, Write

if TYPE_CHECKING:
    from elinkctl.cli.app import App

OPTION_TO_FIELD = {
    "title": "title",
    "type_": "type",
    "urgency": "urgency",
    "impact": "impact",
    "priority": "priority",
    "location": "location",
    "contact": "contact",
    "system": "system",
    "module": "module",
    "source": "source",
    "description": "description",
    "key_user": "key_user",
    "security": "security",
}
REPORTER_OPTIONS = {"reporter": "name", "phone": "phone", "dept": "department"}


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
    store: Store,
    raw_fields: Mapping[str, Any],
    actor: str,
    now: dt.datetime,
    *,
    opened_at: dt.datetime | None = None,
    recorded_at: dt.datetime | None = None,
    backfill_reason: str | None = None,
    force: bool = False,
    note: str | None = None,
) -> Registered:
    """Register and commit one incident. Takes the store lock."""
    from elinkctl.services import check

    with store.locked():
        prepared = prepare(
            store.config, raw_fields, actor, now, _Taken(store),
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
        store.commit_writes([Write(change.ticket, is_new=True)], change.message, actor)
    notes = list(prepared.notes)
    if prepared.rules and prepared.due:
        notes += check.registration_notes(store, prepared.rules, list(prepared.due), queued, now)
    return Registered(change.ticket, change, tuple(notes))


class _Taken:
    """IDs already used in this clone (checked by file existence: O(1))."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __contains__(self, ticket_id: object) -> bool:
        return isinstance(ticket_id, str) and self.store.path_of(ticket_id).exists()


def register(app: App, opts: Mapping[str, Any]) -> Registered:
    """`new` from CLI options."""
    import click

    raw = {field: opts.get(opt) for opt, field in OPTION_TO_FIELD.items()}
    raw["reporter"] = {sub: opts.get(opt) for opt, sub in REPORTER_OPTIONS.items()}
    recorded = app.parse_time(opts.get("at"))
    opened = app.parse_time(opts["opened_at"], "--opened-at") if opts.get("opened_at") else None
    result = create(
        app.store,
        raw,
        app.actor,
        app.now,
        opened_at=opened,
        recorded_at=recorded,
        backfill_reason=opts.get("reason"),
        force=bool(opts.get("force")),
    )
    for line in result.notes:
        click.echo(f"note: {line}", err=True)
    click.echo(result.change.message, err=True)
    return result


def changes_from_options(opts: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for opt, field in OPTION_TO_FIELD.items():
        if opts.get(opt) is not None:
            changes[field] = opts[opt]
    for opt, sub in REPORTER_OPTIONS.items():
        if opts.get(opt) is not None:
            changes[f"reporter.{sub}"] = opts[opt]
    return changes


EDITOR_HEADER = """\
# Edit the descriptive fields of {id}, save and quit. Lines starting with '#'
# are ignored. Changing priority or type needs a reason: fill in `reason:`.
# Leave the file unchanged to cancel.
"""


def changes_from_editor(
    app: App, given_id: str, reason: str | None
) -> tuple[dict[str, Any], str | None]:
    """Open $EDITOR on the fields; validate before anything is saved."""
    ticket = app.store.find(given_id)
    current = {k: ticket.fields.get(k) for k in DESCRIPTIVE_FIELDS}
    current["reporter"] = {k: (ticket.fields.get("reporter") or {}).get(k) for k in REPORTER_FIELDS}
    current["reason"] = reason
    text = EDITOR_HEADER.format(id=ticket.id) + yamlio.dump(current)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fh:
        fh.write(text)
        path = fh.name
    try:
        subprocess.run([*editor.split(), path], check=True)
        with open(path, encoding="utf-8") as fh:
            edited_text = fh.read()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UsageProblem(f"editor failed: {exc}") from None
    finally:
        os.unlink(path)
    if edited_text == text:
        raise UsageProblem("no change: the file was left as it was")
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
