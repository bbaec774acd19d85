"""Exit statuses for callers that read them: mail servers, webhooks, cron.

Most commands keep DESIGN §8's 0/1/2. ``ingest`` is run by a mail server's
pipe transport or an alert receiver, which decide on the exit status alone
whether to retry or to bounce: Postfix's ``pipe(8)`` defers (retries) only
on 75 EX_TEMPFAIL and bounces the message to its sender on anything else.
So ``ingest`` exits with the `sysexits.h` code of what went wrong, and a
busy store never costs a customer's mail (docs/administration.md, "Exit
statuses").

Also here: the one-line wording of operating-system permission errors and
git's "dubious ownership", shared by every command, so a store shared by
several Unix users fails with the path and the fix instead of a traceback.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from elinkctl.cli.output import safe
from elinkctl.errors import (
    Ambiguous,
    ConfigError,
    ElinkError,
    LockTimeout,
    NotFound,
    PermissionDenied,
    StoreBusy,
    StoreMissing,
    TransitionError,
    UsageProblem,
)

F = TypeVar("F", bound=Callable[..., Any])

EX_OK = 0
EX_USAGE = 64  # the command line is wrong (a mail-server recipe to fix)
EX_DATAERR = 65  # the message or payload is malformed: retrying cannot help
EX_NOINPUT = 66  # the input file does not exist or cannot be read
EX_SOFTWARE = 70  # not used: an internal error defers (75) so no mail is lost
EX_TEMPFAIL = 75  # busy store, lock timeout, git or disk trouble: try again later
EX_NOPERM = 77  # the acting user lacks the role (escalation.yaml permissions)
EX_CONFIG = 78  # no store there, or sla.yaml/escalation.yaml invalid

CHECK_NOTIFY_FAILING = 3
"""`check`: notifications keep failing (given up, or N attempts in a row)."""


def sysexit_for(exc: BaseException) -> int:
    """The `sysexits.h` status of an error raised while ingesting.

    An error may carry its own ``sysexit`` attribute (the intake layer's
    typed errors); otherwise the kind decides. Anything not known to be
    permanent is EX_TEMPFAIL: a mail server then keeps the message and
    retries, and the admin reads the one-line reason in the mail log.
    """
    own = getattr(exc, "sysexit", None)
    if isinstance(own, int) and not isinstance(own, bool):
        return own
    if isinstance(exc, LockTimeout | StoreBusy):
        return EX_TEMPFAIL
    if isinstance(exc, StoreMissing | ConfigError):
        return EX_CONFIG
    if isinstance(exc, PermissionDenied):
        return EX_NOPERM
    if isinstance(exc, UsageProblem):
        return EX_USAGE
    from elinkctl.ingest.errors import IngestError

    if isinstance(exc, IngestError | NotFound | Ambiguous | TransitionError):
        return EX_DATAERR
    return EX_TEMPFAIL  # StoreError (git, journal), OSError, an internal error


class ExitError(click.ClickException):
    """``Error: …`` on stderr and a chosen exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def os_error_message(exc: OSError) -> str:
    """One line for an operating-system error: the path, and for a denied
    permission the fix for a store shared by several Unix users."""
    path = exc.filename or ""
    what = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM) and path:
        return f"{path}: {what.lower()} for user {_user()}; {shared_store_fix(Path(path))}"
    return f"{path}: {what}" if path else what


def shared_store_fix(path: Path) -> str:
    """The commands that make the store around ``path`` group-shared."""
    root = _store_root(path)
    group = _group_of(root)
    return (
        f"if several users share {root}, make it group-writable: "
        f"chgrp -R {group} {root} && chmod -R g+rwX {root} && "
        f"find {root} -type d -exec chmod g+s {{}} + && "
        f"git -C {root} config core.sharedRepository group "
        "(docs/administration.md, Shared stores)"
    )


def dubious_ownership_hint(message: str) -> str:
    """git's "detected dubious ownership" error with the one command that fixes it."""
    if "dubious ownership" not in message:
        return message
    import re

    found = re.search(r"repository at '([^']+)'", message)
    where = found.group(1) if found else "STORE"
    return (
        f"git refuses {where}: it is owned by another user (dubious ownership); "
        f"if you trust that user, run once as {_user()}: "
        f"git config --global --add safe.directory {where}"
    )


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "?"


def _store_root(path: Path) -> Path:
    """The work tree a path under ``.git/`` or ``tickets/`` belongs to."""
    parts = path.parts
    if ".git" in parts:
        return Path(*parts[: parts.index(".git")]) or Path(".")
    for candidate in (path, *path.parents):
        try:
            if (candidate / "sla.yaml").exists():
                return candidate
        except OSError:  # an unreadable folder: look further up
            continue
    return path.parent


def _group_of(path: Path) -> str:
    try:
        import grp

        return grp.getgrgid(path.stat().st_gid).gr_name
    except (ImportError, KeyError, OSError):
        return "GROUP"


def with_sysexits(func: F) -> F:
    """Run a command body with `sysexits.h` statuses (``ingest``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError):
                exc.exit_code = EX_USAGE  # type: ignore[misc]
            raise
        except ElinkError as exc:
            raise ExitError(safe(dubious_ownership_hint(str(exc))), sysexit_for(exc)) from None
        except OSError as exc:
            raise ExitError(safe(os_error_message(exc)), EX_TEMPFAIL) from None
        except Exception as exc:  # noqa: BLE001 - never bounce mail for our own bug
            raise ExitError(
                safe(f"internal error ({type(exc).__name__}: {exc}); kept for retry"),
                EX_TEMPFAIL,
            ) from None

    return cast(F, wrapper)


class SysexitsCommand(click.Command):
    """A command whose wrong usage exits 64 EX_USAGE instead of click's 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = EX_USAGE  # type: ignore[misc]
            raise


class SysexitsGroup(click.Group):
    """A group (``ingest``) whose subcommands are `SysexitsCommand` by default."""

    command_class = SysexitsCommand

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = EX_USAGE  # type: ignore[misc]
            raise

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = EX_USAGE  # type: ignore[misc]
            raise
