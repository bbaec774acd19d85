"""Reading: `show`, `list`, `log`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from elinkctl.cli.app import App, handle_errors, id_argument, json_option, pass_app
from elinkctl.domain.lifecycle import PRIORITIES, TIERS, TYPES
from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.errors import TicketError

if TYPE_CHECKING:
    from elinkctl.store.index import Summary


def _dump(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command()
@id_argument
@json_option
@pass_app
@handle_errors
def show(app: App, ticket_id: str, json_: bool) -> None:
    """Show one incident: fields, current state and its timeline in local time.

    ID may be any unique prefix or suffix (e.g. the last 5 characters).

    \b
    Example:
      elinkctl show 7KQ2M
      elinkctl show 7KQ2M --json | jq .status
    """
    from elinkctl import views

    ticket = app.store.find(ticket_id)
    if json_:
        _dump(views.show_json(ticket))
    else:
        click.echo(views.card(ticket, app.tz, app.now))


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Filters shared by `list` and `stats`."""
    opts = [
        click.option(
            "--status",
            "statuses",
            multiple=True,
            type=click.Choice([s.value for s in Status]),
            help="Repeatable.",
        ),
        click.option("--priority", "priorities", multiple=True, type=click.Choice(PRIORITIES)),
        click.option("--tier", "tiers", multiple=True, type=click.Choice(TIERS)),
        click.option("--assignee"),
        click.option("--system"),
        click.option("--type", "types", multiple=True, type=click.Choice(TYPES)),
        click.option("--open", "open_", is_flag=True, help="Only unresolved incidents."),
        click.option(
            "--closed",
            "closed",
            is_flag=True,
            help="Only resolved, closed, rejected or redirected.",
        ),
        click.option("--key-user", "key_user", is_flag=True, help="Only key users' incidents."),
        click.option("--since", metavar="DATE", help="Opened on or after."),
        click.option(
            "--until", metavar="DATE", help="Opened before (a date means the end of that day)."
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@click.command(name="list")
@filter_options
@click.option("--limit", type=int, default=None, help="At most N rows.")
@json_option
@pass_app
@handle_errors
def list_(app: App, json_: bool, limit: int | None, **filters: object) -> None:
    """List incidents, what needs attention first: open ones, key users, priority, oldest.

    \b
    Example:
      elinkctl list --open
      elinkctl list --priority P1 --priority P2 --since 2026-11-01 --json
    """
    app.store.prefetch_index()  # git validates the index while we import
    from tabulate import tabulate

    from elinkctl import views
    from elinkctl.services.query import TicketFilter

    flt = TicketFilter.from_options(app, filters)

    def warn(exc: TicketError) -> None:
        click.echo(f"warning: {exc}", err=True)

    # Summaries from the index (validated against git, so never stale) look
    # like tickets to the filter and the views: same output, no YAML parsing.
    tickets: list[Any] = app.store.summaries(flt, on_error=warn)
    tickets.sort(key=views.attention_key)
    if limit is not None:
        tickets = tickets[:limit]
    if json_:
        _dump([views.list_json(t) for t in tickets])
        return
    if not tickets:
        click.echo("no incidents match", err=True)
        return
    rows = [_row(t, app) for t in tickets]
    click.echo(
        tabulate(rows, headers=["ID", "P", "status", "with", "age", "title"], disable_numparse=True)
    )


def _row(t: Ticket | Summary, app: App) -> list[str]:
    from elinkctl import views

    s = t.state
    mark = "★" if t.fields.get("key_user") else ""
    who = s.assignee or views.TIER_ZH.get(s.tier, s.tier)
    end = s.resolved_at or s.closed_at if s.status not in OPEN_STATUSES else None
    age = views.age(s.opened_at, end or app.now)
    title = t.title if len(t.title) <= 40 else t.title[:39] + "…"
    return [t.id, t.priority + mark, str(s.status), str(who), age, title]


@click.command()
@id_argument
@click.option("--patch", "-p", is_flag=True, help="Show each commit's diff of the ticket.")
@pass_app
@handle_errors
def log(app: App, ticket_id: str, patch: bool) -> None:
    """The git history of one incident: who did what, when.

    \b
    Example:
      elinkctl log 7KQ2M
      elinkctl log 7KQ2M -p
    """
    store = app.store
    tid = store.resolve_id(ticket_id)
    rel = store.rel(store.path_of(tid))
    fmt = "--format=%h  %ad  %<(10,trunc)%an  %s"
    args = ["log", "--follow", "--date=format-local:%Y-%m-%d %H:%M", fmt]
    if patch:
        args.append("-p")
    out = store.git.run(*args, "--", rel, env=_tz_env(app))
    if not out.strip():
        click.echo(f"{tid}: not committed yet", err=True)
        return
    click.echo(out)
    if sys.stdout.isatty():
        click.echo(f"(times in {app.tz})", err=True)


def _tz_env(app: App) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["TZ"] = str(app.tz)
    return env
