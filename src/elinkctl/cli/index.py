"""`index publish`: share the ticket index with every clone (issue 17)."""

from __future__ import annotations

import click

from elinkctl.cli.options import filter_from_options, pass_context
from elinkctl.cli.output import echo
from elinkctl.services.context import Context


@click.group()
def index() -> None:
    """The ticket index (a disposable cache under .git/elinkctl).

    \b
    Example (the check host's cron, after check and sync):
      elinkctl index publish --push origin
    """


@index.command("publish")
@click.option("--push", "remote", metavar="REMOTE", help="Also force-push the branch there.")
@pass_context
def publish(ctx: Context, remote: str | None) -> None:
    """Publish the index as the branch elinkctl-index, so that a fresh clone's
    first command starts from it instead of parsing every ticket.

    The index is brought up to date first, with the facts and folds of a
    plain `stats`, and published with the knowledge base's search and
    suggestion databases. A clone uses them only after checking them: same
    code, a sample of rows re-read from the files, and every row only for
    the file content (git blob) it was made from.

    \b
    Example:
      elinkctl index publish --push origin
    """
    from elinkctl.services import publish as service

    done = service.publish_index(ctx, filter_from_options(ctx, {}))
    size = done.size / 1e6
    echo(
        f"published the index of {done.rows} tickets ({size:.1f} MB) as {done.commit[:12]}",
        err=True,
    )
    if remote:
        service.push(ctx, remote)
        echo(f"pushed {service.BRANCH} to {remote}", err=True)
