"""What every command shares: the context decorator, common options, the
ticket filter options, and the one translation of errors into exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from elinkctl.cli.exitcodes import dubious_ownership_hint, os_error_message
from elinkctl.cli.output import echo, safe
from elinkctl.errors import ElinkError, UsageProblem
from elinkctl.services.context import Context

if TYPE_CHECKING:
    from elinkctl.domain.lifecycle import Change
    from elinkctl.domain.model import Ticket
    from elinkctl.domain.selection import TicketFilter

F = TypeVar("F", bound=Callable[..., Any])

pass_context: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(
    Context
)
"""Hands a command the `Context` the group built from ``--store``/``--as``."""


def translate_errors(func: F) -> F:
    """Domain errors as click errors: ``Error: …`` on stderr, exit 1, or exit 2
    (with the usage line) for a `UsageProblem`; an operating-system error on
    a file (a permission denied on a shared store) is one line with the fix.
    Applied to every command by `elinkctl.cli.LazyGroup`, so no command
    handles errors itself (``ingest`` maps them to sysexits first)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageProblem as exc:
            raise click.UsageError(safe(str(exc))) from None
        except ElinkError as exc:
            raise click.ClickException(safe(dubious_ownership_hint(str(exc)))) from None
        except OSError as exc:
            # A full disk, a read-only file system, a store without read or
            # write permission: one line, never a traceback (issue 18 item 7).
            # A store shared by several Unix users: name the path and the fix
            # (docs/administration.md, Shared stores), not a traceback.
            raise click.ClickException(safe(os_error_message(exc))) from None

    return cast(F, wrapper)


class AliasOption(click.Option):
    """An option whose old spellings still work but are not shown in --help
    (``--message`` beside ``-m, --note``): one spelling per meaning for
    people, nothing broken for scripts."""

    def __init__(self, *args: Any, hidden_names: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden_names = hidden_names

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        saved = self.opts
        self.opts = [o for o in saved if o not in self.hidden_names]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = saved


def note_option(dest: str = "note", **kwargs: Any) -> Callable[[F], F]:
    """``-m, --note TEXT`` (``--message`` kept as a hidden alias): the one
    spelling of "a free text about this step" on every command."""
    return click.option(
        "-m",
        "--note",
        "--message",
        dest,
        cls=AliasOption,
        hidden_names=("--message",),
        metavar="TEXT",
        **kwargs,
    )


def output_option(
    help: str = "Write to FILE instead of stdout.", *, writable: bool = False
) -> Callable[[F], F]:
    """``-o, --output FILE`` of the commands that write a report or a form
    (`write_output` writes it)."""
    return click.option(
        "-o",
        "--output",
        metavar="FILE",
        type=click.Path(dir_okay=False, writable=writable),
        help=help,
    )


def write_output(path: str, text: str) -> None:
    """Write a report to ``path`` atomically; an unwritable path is one clear error."""
    from pathlib import Path

    from elinkctl.fsio import atomic_write

    try:
        atomic_write(Path(path), text)
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write: {exc.strerror or exc}") from None
    echo(f"wrote {path}", err=True)


def at_option(func: F) -> F:
    return click.option(
        "--at",
        "at",
        metavar="TIME",
        help="When it really happened (default now), e.g. 10:05, '2026-11-23 10:05', "
        "'yesterday 18:30', -2h. Never in the future.",
    )(func)


def json_option(func: F) -> F:
    return click.option("json_", "--json", is_flag=True, help="Machine-readable JSON on stdout.")(
        func
    )


def complete_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion for ticket IDs: open incidents first (cheap: file names only)."""
    try:
        from elinkctl.store.store import Store, discover

        root = discover((ctx.find_root().params or {}).get("store"))
        store = Store(root)
        frag = incomplete.upper()
        return [i for i in reversed(store.all_ids()) if i.startswith(frag) or frag in i][:50]
    except Exception:  # noqa: BLE001 - completion must never crash the shell
        return []


def complete_kb_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion for article IDs (file names under knowledge/ only)."""
    try:
        from elinkctl.store.articles import article_ids
        from elinkctl.store.store import Store, discover

        root = discover((ctx.find_root().params or {}).get("store"))
        frag = incomplete.upper()
        ids = article_ids(Store(root))
        return [i for i in ids if i.startswith(frag) or frag in i][:50]
    except Exception:  # noqa: BLE001 - completion must never crash the shell
        return []


def id_argument(func: F) -> F:
    return click.argument("ticket_id", metavar="ID", shell_complete=complete_ids)(func)


def filter_options(func: F) -> F:
    """The selection options of `list` and `stats` (`filter_from_options` reads them)."""
    from elinkctl.domain.lifecycle import PRIORITIES, TIERS, TYPES
    from elinkctl.domain.model import Status

    opts = [
        click.option(
            "--status",
            "statuses",
            multiple=True,
            type=click.Choice([s.value for s in Status]),
            metavar="STATUS",
            help="Repeatable: " + ", ".join(s.value for s in Status) + ".",
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
        click.option(
            "--security", "security", is_flag=True, help="Only information-security incidents."
        ),
        click.option("--since", metavar="DATE", help="Opened on or after."),
        click.option(
            "--until", metavar="DATE", help="Opened before (a date means the end of that day)."
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def filter_from_options(ctx: Context, opts: Mapping[str, Any]) -> TicketFilter:
    """The `TicketFilter` the `filter_options` describe."""
    from elinkctl.domain.selection import TicketFilter

    if opts.get("open_") and opts.get("closed"):
        raise UsageProblem("--open and --closed exclude each other")
    return TicketFilter(
        statuses=frozenset(opts.get("statuses") or ()),
        priorities=frozenset(opts.get("priorities") or ()),
        tiers=frozenset(opts.get("tiers") or ()),
        types=frozenset(opts.get("types") or ()),
        assignee=opts.get("assignee"),
        system=opts.get("system"),
        open_only=bool(opts.get("open_")),
        closed_only=bool(opts.get("closed")),
        key_user=bool(opts.get("key_user")),
        security=bool(opts.get("security")),
        since=ctx.parse_bound(opts.get("since"), "--since", end=False),
        until=ctx.parse_bound(opts.get("until"), "--until", end=True),
    )


def run_step(ctx: Context, ticket_id: str, step: Callable[[Ticket], Change]) -> Change:
    """Commit one lifecycle step (`elinkctl.services.tickets.change`) and say what happened."""
    from elinkctl.services import tickets

    result, notes = tickets.change_with_notes(ctx, ticket_id, step)
    for line in notes:  # the step's notices (escalation.yaml notices:)
        echo(f"note: {line}", err=True)
    echo(result.message, err=True)
    return result
