"""The click layer: parsing and printing over the domain and the store.

Commands live in small modules and are imported only when run (`LazyGroup`),
so ``elinkctl --help`` and a cron ``check`` pay only for what they use.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import click

from elinkctl import __version__
from elinkctl.cli.options import translate_errors
from elinkctl.cli.output import echo, safe
from elinkctl.errors import ElinkError, UsageProblem

# name -> (module, attribute, one-line help). The help is here so that
# `elinkctl --help` does not import every command module.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "elinkctl.cli.admin",
        "init",
        "Create a new store (git repository with default rules).",
    ),
    "new": ("elinkctl.cli.register", "new", "Register an incident; prints its ID."),
    "edit": ("elinkctl.cli.register", "edit", "Change descriptive fields of an incident."),
    "accept": ("elinkctl.cli.lifecycle", "accept", "Screening: the incident is in scope; take it."),
    "reject": (
        "elinkctl.cli.lifecycle",
        "reject",
        "Screening: out of scope; return it with a reason.",
    ),
    "redirect": (
        "elinkctl.cli.lifecycle",
        "redirect",
        "Screening: a change or requirement, not an incident.",
    ),
    "transfer": (
        "elinkctl.cli.lifecycle",
        "transfer",
        "Hand to the PM to decide on out-of-scope help.",
    ),
    "assign": ("elinkctl.cli.lifecycle", "assign", "Dispatch to a person and tier."),
    "contact": ("elinkctl.cli.lifecycle", "contact", "Record the first contact with the user."),
    "visit": (
        "elinkctl.cli.visit",
        "visit",
        "Book an on-site visit, or record it done and signed.",
    ),
    "attach": (
        "elinkctl.cli.visit",
        "attach",
        "Store files with an incident (signed form, photos, logs).",
    ),
    "escalate": ("elinkctl.cli.lifecycle", "escalate", "Functional escalation to l2 or a vendor."),
    "pend": (
        "elinkctl.cli.lifecycle",
        "pend",
        "Wait on the customer or a vendor (pauses resolution).",
    ),
    "resume": ("elinkctl.cli.lifecycle", "resume", "Resume work after pending."),
    "resolve": ("elinkctl.cli.lifecycle", "resolve", "Record the solution."),
    "reopen": (
        "elinkctl.cli.lifecycle",
        "reopen",
        "The problem is back: reopen a resolved incident.",
    ),
    "confirm": ("elinkctl.cli.lifecycle", "confirm", "The user confirmed the resolution."),
    "callback": (
        "elinkctl.cli.lifecycle",
        "callback",
        "Record the follow-up call (回访) and satisfaction.",
    ),
    "close": ("elinkctl.cli.lifecycle", "close", "Close a resolved incident."),
    "comment": ("elinkctl.cli.lifecycle", "comment", "Add a note to the timeline."),
    "complain": ("elinkctl.cli.lifecycle", "complain", "Record a customer complaint (投诉)."),
    "replied": ("elinkctl.cli.vendor", "replied", "The vendor's reply arrived (厂商回复)."),
    "show": ("elinkctl.cli.read", "show", "Show one incident: fields, state, timeline."),
    "list": ("elinkctl.cli.read", "list_", "List incidents, most urgent first."),
    "log": ("elinkctl.cli.read", "log", "The git history of one incident."),
    "config": ("elinkctl.cli.admin", "config", "Validate sla.yaml and escalation.yaml."),
    "fsck": ("elinkctl.cli.admin", "fsck", "Validate every ticket in the store."),
    "check": ("elinkctl.cli.check", "check", "Cron: escalate, mark SLA deadlines, notify."),
    "stats": ("elinkctl.cli.stats", "stats", "KPIs: timely response/resolution rates and more."),
    "report": (
        "elinkctl.cli.report",
        "report",
        "Documents: report major ID (重大事件处理分析报告).",
    ),
    "print": (
        "elinkctl.cli.printform",
        "print_",
        "The service ticket form (技术服务单) to take on site.",
    ),
    "kb": (
        "elinkctl.cli.kb",
        "kb",
        "Knowledge base (知识库): search, add, show, list, edit, decide.",
    ),
    "sync": ("elinkctl.cli.sync", "sync", "Pull, merge and push with the shared git remote."),
    "merge-file": ("elinkctl.cli.sync", "merge_file", "git merge driver for tickets and articles."),
    "ingest": ("elinkctl.cli.ingest", "ingest", "Register incidents from mail or alerts."),
    "major": (
        "elinkctl.cli.major",
        "major",
        "Major incidents: the PM's judgement (major confirm).",
    ),
    "progress": (
        "elinkctl.cli.major",
        "progress",
        "Report progress on an open P1 to management (汇报进展).",
    ),
    "review": (
        "elinkctl.cli.major",
        "review",
        "The PM's review of a resolved major incident: --approve or --return.",
    ),
    "verify": (
        "elinkctl.cli.verify",
        "verify",
        "Check pushed commits OLD..NEW against the rules (pre-receive, CI).",
    ),
    "audit": (
        "elinkctl.cli.audit",
        "audit",
        "KPI integrity over history: late records, edits, unconfirmed closes.",
    ),
    "outbox": (
        "elinkctl.cli.outbox",
        "outbox",
        "The notification outbox: list, retry, drop.",
    ),
    "notify": ("elinkctl.cli.outbox", "notify", "Send a test message to a channel or a person."),
    "index": (
        "elinkctl.cli.index",
        "index",
        "The ticket index: index publish shares it with fresh clones.",
    ),
}


def _wrap_by_display_width() -> None:
    """Make click wrap help text by terminal columns, not characters: a
    Chinese character takes two columns, so a paragraph holding some would
    otherwise run past 80. Click's own wrapper is kept and asked for a
    narrower width until every line it wrapped fits; lines it keeps as
    written (``\\b`` examples) are left alone."""
    import click.formatting as formatting

    original = formatting.wrap_text

    def wrap_text(text: str, width: int = 78, *args: Any, **kwargs: Any) -> str:
        out = original(text, width, *args, **kwargs)
        if all(ord(ch) < 0x1100 for ch in text):
            return out
        from wcwidth import wcswidth

        kept = {line.strip() for line in text.splitlines()}

        def fits(wrapped: str) -> bool:
            return all(
                line.strip() in kept or wcswidth(line) <= width for line in wrapped.splitlines()
            )

        narrower = width
        while not fits(out) and narrower > max(width // 2, 20):
            narrower -= 1
            out = original(text, narrower, *args, **kwargs)
        return out

    formatting.wrap_text = wrap_text


_wrap_by_display_width()


HIDDEN = frozenset({"merge-file"})
"""Plumbing that git calls (the merge driver), not listed in --help."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        import importlib

        module = importlib.import_module(spec[0])
        command: click.Command = getattr(module, spec[1])
        return _guarded(command)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            exc.message = safe(exc.message)  # type: ignore[misc]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        """Click prints its own usage errors, and some quote the user's words
        raw ("Got unexpected extra argument (…)"): made safe like all output."""
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = safe(exc.message)  # type: ignore[misc]
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx) if n not in HIDDEN]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _guarded(command: click.Command) -> click.Command:
    """Route the domain errors of ``command`` (and of its subcommands) through
    `translate_errors`, once: the one place that turns them into exit codes.
    Every command also takes ``--as USER`` after its name (`_as_after`)."""
    if not getattr(command, "_errors_translated", False):
        if command.callback is not None:
            if not isinstance(command, click.Group):
                _as_after(command)
            command.callback = translate_errors(command.callback)
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                _guarded(sub)
        command._errors_translated = True  # type: ignore[attr-defined]
    return command


def _as_after(command: click.Command) -> None:
    """Accept the global ``--as USER`` after the command's name too
    (``elinkctl comment ID -m … --as 李四``), as people type it; hidden in
    the command's help, documented with the global option. A command with
    an ``--as`` of its own (``init``) keeps it."""
    assert command.callback is not None
    if any("--as" in getattr(p, "opts", ()) for p in command.params):
        return
    command.params.append(
        click.Option(["--as", "actor_after"], metavar="USER", hidden=True, expose_value=True)
    )
    callback = command.callback

    @functools.wraps(callback)
    def wrapper(*args: Any, actor_after: str | None = None, **kwargs: Any) -> Any:
        if actor_after is not None:
            from elinkctl.services.context import Context

            found = click.get_current_context().find_object(Context)
            if found is not None:
                found.actor_given = actor_after
        return callback(*args, **kwargs)

    command.callback = wrapper


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="elinkctl")
@click.option(
    "--store",
    "store",
    metavar="DIR",
    envvar="ELINKCTL_STORE",
    help="The store (default: $ELINKCTL_STORE, else the nearest parent with sla.yaml, tickets/).",
)
@click.option(
    "--as",
    "actor",
    metavar="USER",
    envvar="ELINKCTL_USER",
    help="Who is acting (default: $ELINKCTL_USER, else git's user.name); may "
    "also follow the command.",
)
@click.pass_context
def cli(ctx: click.Context, store: str | None, actor: str | None) -> None:
    """elinkctl — the incident desk of E-Link-23-03 (事件管理程序) in git.

    Every incident is a YAML file under tickets/, every change a git commit
    by the person who acted. Set ELINKCTL_NOW to an ISO 8601 time to run any
    command "as of" that moment.

    \b
    Example:
      elinkctl new --title 财务系统无法登录 --type failure --reporter 张三 \\
          --phone 13800138000 --system 财务系统 --urgency high --impact medium
      elinkctl accept 7KQ2M
      elinkctl assign 7KQ2M --to 李四 --tier l1
      elinkctl list --open
    """
    from elinkctl.services.context import Context

    if sys.stderr.isatty():
        from elinkctl import progress

        progress.show_on(sys.stderr)  # long index rebuilds and fsck draw a bar
    ctx.obj = Context(store, actor)
    ctx.call_on_close(functools.partial(_store_notes, ctx.obj))


def _store_notes(context: Any) -> None:
    """What the command did to the clone on the side (`Store.notes`: a month
    checked out of a sparse checkout to write a ticket), once it is done;
    nothing when no store was opened."""
    store = getattr(context, "_store", None)  # not resolved: no store opened
    for line in getattr(store, "notes", ()):
        echo(f"note: {line}", err=True)


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: domain errors become one line on stderr, never a traceback."""
    try:
        import fcntl  # noqa: F401 - the store lock and the outbox need POSIX flock
    except ImportError:  # pragma: no cover - Windows
        from elinkctl.store.lock import UNSUPPORTED

        echo(f"Error: {UNSUPPORTED}", err=True)
        sys.exit(1)
    try:
        return cli.main(args=argv, prog_name="elinkctl", standalone_mode=True)
    except UsageProblem as exc:  # pragma: no cover - converted inside commands
        echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except ElinkError as exc:  # pragma: no cover - converted inside commands
        echo(f"Error: {exc}", err=True)
        sys.exit(1)
