"""Reading: `show`, `list`, `log`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from elinkctl.cli.options import (
    filter_from_options,
    filter_options,
    id_argument,
    json_option,
    pass_context,
)
from elinkctl.cli.output import columns, echo, page
from elinkctl.domain.model import OPEN_STATUSES, Ticket
from elinkctl.errors import TicketError, UsageProblem
from elinkctl.services.context import Context

if TYPE_CHECKING:
    from elinkctl.cache.rows import Summary


def _dump(data: object) -> None:
    echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command()
@id_argument
@json_option
@pass_context
def show(ctx: Context, ticket_id: str, json_: bool) -> None:
    """Show one incident: fields, current state and its timeline in local time.

    ID may be any unique prefix or suffix (e.g. the last 5 characters).

    \b
    Example:
      elinkctl show 7KQ2M
      elinkctl show 7KQ2M --json | jq .status
    """
    from elinkctl.render import terminal

    ticket = ctx.store.find(ticket_id)
    if json_:
        _dump(terminal.show_json(ticket))
    else:
        page(terminal.card(ticket, ctx.tz, ctx.now))


@click.command(name="list")
@filter_options
@click.option("--limit", type=int, default=None, help="At most N rows.")
@json_option
@pass_context
def list_(ctx: Context, json_: bool, limit: int | None, **filters: object) -> None:
    """List incidents, what needs attention first: open ones, key users, priority, oldest.

    \b
    Example:
      elinkctl list --open
      elinkctl list --priority P1 --priority P2 --since 2026-11-01 --json
    """
    ctx.store.prefetch_index()  # git validates the index while we import
    from elinkctl.render import terminal

    flt = filter_from_options(ctx, filters)

    def warn(exc: TicketError) -> None:
        echo(f"warning: {exc}", err=True)

    # Summaries from the index (validated against git, so never stale) look
    # like tickets to the filter and the terminal views: same output, no YAML parsing.
    tickets: list[Any] = ctx.store.summaries(flt, on_error=warn)
    tickets.sort(key=terminal.attention_key)
    if limit is not None:
        tickets = tickets[:limit]
    if json_:
        _dump([terminal.list_json(t) for t in tickets])
        return
    if not tickets:
        echo("no incidents match", err=True)
        return
    rows = [_row(t, ctx) for t in tickets]
    headers = ["ID", "P", "status", "with", "age", "title"]
    if any(t.state.promise_at for t in tickets):
        # The handling time agreed at acceptance (accept --promise); ! once passed while open.
        headers.insert(5, "promise")
        for t, row in zip(tickets, rows, strict=True):
            row.insert(5, _promise(t, ctx))
    page(terminal.fit_table(rows, headers, columns()))


def _row(t: Ticket | Summary, ctx: Context) -> list[str]:
    from elinkctl.domain.glossary import ROLES, zh
    from elinkctl.render import terminal

    s = t.state
    mark = "★" if t.fields.get("key_user") else ""
    who = s.assignee or zh(ROLES, s.tier)
    end = s.resolved_at or s.closed_at if s.status not in OPEN_STATUSES else None
    age = terminal.age(s.opened_at, end or ctx.now)
    # The whole title: `fit_table` cuts it by display width to what the terminal has.
    return [t.id, t.priority + mark, str(s.status), terminal.clip(str(who), 12), age, t.title]


def _promise(t: Ticket | Summary, ctx: Context) -> str:
    promise = t.state.promise_at
    if promise is None:
        return ""
    passed = t.state.status in OPEN_STATUSES and ctx.now > promise
    return promise.astimezone(ctx.tz).strftime("%m-%d %H:%M") + (" !" if passed else "")


@click.command()
@id_argument
@click.option("--patch", "-p", is_flag=True, help="Show each commit's diff of the ticket.")
@json_option
@pass_context
def log(ctx: Context, ticket_id: str, patch: bool, json_: bool) -> None:
    """The git history of one incident: who did what, when.

    With --json: an array of {commit, at, author, email, message}, newest
    first (at in ISO 8601 with the store's offset).

    \b
    Example:
      elinkctl log 7KQ2M
      elinkctl log 7KQ2M -p
      elinkctl log 7KQ2M --json | jq -r '.[].message'
    """
    store = ctx.store
    tid = store.resolve_id(ticket_id)
    rel = store.rel(store.path_of(tid))
    if json_:
        if patch:
            raise UsageProblem("--patch and --json exclude each other")
        raw = store.git.run(
            "log", "--follow", "--format=%H%x1f%aI%x1f%an%x1f%ae%x1f%s%x1e", "--", rel
        )
        entries = []
        for record in raw.split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) == 5:
                commit, at, author, email, message = fields
                when = dt.datetime.fromisoformat(at).astimezone(ctx.tz).isoformat()
                entries.append(
                    {
                        "commit": commit,
                        "at": when,
                        "author": author,
                        "email": email,
                        "message": message,
                    }
                )
        _dump(entries)
        return
    fmt = "--format=%h  %ad  %<(10,trunc)%an  %s"
    args = ["log", "--follow", "--date=format-local:%Y-%m-%d %H:%M", fmt]
    if patch:
        args.append("-p")
    out = store.git.run(*args, "--", rel, env=_tz_env(ctx))
    if not out.strip():
        echo(f"{tid}: not committed yet", err=True)
        return
    page(out)
    if sys.stdout.isatty():
        echo(f"(times in {ctx.tz})", err=True)


def _tz_env(ctx: Context) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["TZ"] = str(ctx.tz)
    return env
