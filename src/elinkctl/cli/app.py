"""The context object every command receives, and shared helpers."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from elinkctl.errors import ElinkError, UsageProblem

if TYPE_CHECKING:
    from elinkctl.domain.lifecycle import Change
    from elinkctl.domain.model import Ticket
    from elinkctl.store.store import Store

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """Resolved lazily: the store, the acting user and "now"."""

    def __init__(self, store_opt: str | None, actor_opt: str | None) -> None:
        self.store_opt = store_opt
        self.actor_opt = actor_opt
        self._store: Store | None = None
        self._now: dt.datetime | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            from elinkctl.store.store import Store, discover

            self._store = Store(discover(self.store_opt))
        return self._store

    @property
    def tz(self) -> dt.tzinfo:
        return self.store.config.tz

    @property
    def now(self) -> dt.datetime:
        if self._now is None:
            from elinkctl.timeutil import now_from_env

            self._now = now_from_env(self.tz)
        return self._now

    @property
    def actor(self) -> str:
        if self.actor_opt and self.actor_opt.strip():
            return self.actor_opt.strip()
        name = self.store.git.config_get("user.name")
        if name:
            return name
        raise UsageProblem("who is acting? give --as USER, set ELINKCTL_USER, or git user.name")

    def parse_time(self, text: str | None, option: str = "--at") -> dt.datetime:
        """``--at``-style times in the store's zone; default now."""
        if text is None:
            return self.now
        from elinkctl.timeutil import parse_time

        try:
            return parse_time(text, self.tz, now=self.now)
        except UsageProblem as exc:
            raise UsageProblem(f"{option}: {exc}") from None

    def mutate(self, given_id: str, fn: Callable[[Ticket], Change]) -> Change:
        """Lock, load the ticket fresh, apply the pure change, write and commit."""
        from elinkctl.store.store import Write

        store = self.store
        actor = self.actor
        with store.locked():
            ticket = store.find(given_id)
            change = fn(ticket)
            store.commit_writes([Write(change.ticket)], change.message, actor)
        click.echo(change.message, err=True)
        return change


def write_output(path: str, text: str) -> None:
    """Write a report to ``path`` atomically; an unwritable path is one clear error."""
    from pathlib import Path

    from elinkctl.fsio import atomic_write

    try:
        atomic_write(Path(path), text)
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {path}", err=True)


pass_app: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(App)


def handle_errors(func: F) -> F:
    """Turn domain errors into click errors: exit 1, or exit 2 for usage problems."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UsageProblem as exc:
            raise click.UsageError(str(exc)) from None
        except ElinkError as exc:
            raise click.ClickException(str(exc)) from None

    return cast(F, wrapper)


def at_option(func: F) -> F:
    return click.option(
        "--at",
        "at",
        metavar="TIME",
        help="When it really happened (ISO 8601 or HH:MM; default now). Never in the future.",
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


def id_argument(func: F) -> F:
    return click.argument("ticket_id", metavar="ID", shell_complete=complete_ids)(func)
