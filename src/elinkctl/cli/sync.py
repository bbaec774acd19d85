"""`sync` (pull, merge, push with the shared remote) and the hidden `merge-file` driver."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from elinkctl.cli.options import json_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.services.context import Context


@click.command()
@click.option("--remote", metavar="NAME", help="The remote (default: the branch's, else origin).")
@click.option("--no-push", is_flag=True, help="Fetch and merge only.")
@json_option
@pass_context
def sync(ctx: Context, remote: str | None, no_push: bool, json_: bool) -> None:
    """Fetch the shared remote, merge it (tickets structurally), check, push.

    Retries when another clone pushed in between. Reports what came in and
    went out on stderr (with --json, on stdout as well).

    \b
    Exit status: 0 in step with the remote, or no remote configured (a
    one-clone store); 1 offline, a merge that cannot be done, merged tickets
    that fail fsck (nothing pushed; local commits are always kept), or
    other clones kept pushing first.

    \b
    Example:
      elinkctl sync
      */10 * * * *  cd ~/desk && elinkctl sync --json >/dev/null
    """
    from elinkctl.services.sync import sync_store

    report = sync_store(ctx.store, ctx.actor, remote=remote, push=not no_push)
    if json_:
        echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    echo(report.summary(), err=True)
    for problem in report.problems:
        echo(f"  {problem}", err=True)
    from elinkctl.services.notices import send_pending

    for line in send_pending(ctx.store, ctx.now):  # a laptop's queued notices, once online
        echo(f"note: {line}", err=True)
    if not report.ok:
        sys.exit(1)


@click.command("merge-file", hidden=True)
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("ours", type=click.Path(path_type=Path))
@click.argument("theirs", type=click.Path(path_type=Path))
@click.argument("path", required=False, default="")
def merge_file(base: Path, ours: Path, theirs: Path, path: str) -> None:
    """git merge driver: merge BASE and THEIRS into OURS (%O %A %B %P)."""
    from elinkctl.services.sync import run_merge_driver

    status, note = run_merge_driver(base, ours, theirs, path, Path.cwd())
    if note:
        echo(f"elinkctl merge-file: {note}", err=True)
    sys.exit(status)
