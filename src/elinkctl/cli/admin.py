"""Store administration: `init`, `config check`, `fsck`."""

from __future__ import annotations

from pathlib import Path

import click

from elinkctl.cli.options import pass_context
from elinkctl.cli.output import echo
from elinkctl.services.context import Context


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--as", "actor", help="Author of the first commit (default: the global --as).")
@pass_context
def init(ctx: Context, directory: Path, actor: str | None) -> None:
    """Create a store: a git repository with default sla.yaml, escalation.yaml,
    .gitattributes (the ticket merge driver), tickets/ and knowledge/.

    \b
    Example:
      elinkctl init ~/desk && cd ~/desk && elinkctl list
    """
    from elinkctl.services.setup import init_store

    root = init_store(directory.resolve(), actor or ctx.actor_given)
    echo(f"initialised an elinkctl store in {root}", err=True)


@click.group()
def config() -> None:
    """Rule files: sla.yaml and escalation.yaml.

    \b
    Example:
      elinkctl config check
    """


@config.command("check")
@pass_context
def config_check(ctx: Context) -> None:
    """Validate sla.yaml and escalation.yaml; list every problem with file and line.

    Exits 1 when there is a problem. Run it in CI on pull requests that change
    the rules.

    \b
    Example:
      elinkctl config check && git push
    """
    from elinkctl.config import load_config
    from elinkctl.services.setup import config_warnings
    from elinkctl.services.validators import problems as rule_problems

    cfg = load_config(ctx.store.root)
    problems = rule_problems(cfg)
    for warning in config_warnings(cfg, ctx.now):
        echo(f"warning: {warning}", err=True)
    if problems:
        for p in problems:
            echo(p)
        raise click.ClickException(f"{len(problems)} problem(s) in the rule files")
    echo("sla.yaml and escalation.yaml are valid", err=True)


@click.command()
@pass_context
def fsck(ctx: Context) -> None:
    """Validate every ticket: it parses, the schema holds, the ID matches the
    file name and shard, the state lines agree with the events, the history
    follows the process, and there are no conflict markers. Exits 1 listing
    each problem.

    \b
    Example:
      elinkctl fsck
    """
    from elinkctl.services.fsck import check_store

    problems, count = check_store(ctx.store)
    for p in problems:
        echo(p)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {count} ticket(s)")
    echo(f"{count} ticket(s) checked, no problems", err=True)
