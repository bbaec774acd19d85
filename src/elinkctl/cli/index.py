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
    from elinkctl.cache import index_failed, shipped, shipped_kb
    from elinkctl.errors import StoreError
    from elinkctl.services import kb
    from elinkctl.services import stats as svc

    store = ctx.store
    rules = svc.sla_rules(store.config)
    svc.stats_of_store(store, rules, filter_from_options(ctx, {}), ctx.now, on_error=lambda _: None)
    kb.refresh_databases(store)
    try:
        idx = store.index()
        idx.ensure_fresh()
        extra = shipped_kb.entries(store.root, store.state_dir)
        commit, rows, size = shipped.publish(idx.db, store.root, store.state_dir, extra)
    except Exception as exc:
        if not index_failed(exc):
            raise
        raise StoreError(f"index publish: {exc}") from None
    echo(f"published the index of {rows} tickets ({size / 1e6:.1f} MB) as {commit[:12]}", err=True)
    if remote:
        try:
            shipped.push(store.root, remote)
        except OSError as exc:
            raise StoreError(f"index publish: {exc}") from None
        echo(f"pushed {shipped.BRANCH} to {remote}", err=True)
