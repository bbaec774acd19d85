"""Store administration: `init`, `config check`, `fsck`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from elinkctl.cli.options import json_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.errors import UsageProblem
from elinkctl.services.context import Context


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--as", "actor", help="Author of the first commit (default: the global --as).")
@click.option(
    "--shared",
    is_flag=True,
    help="For several Unix users on this host (mail, cron, engineers): "
    "core.sharedRepository=group, group-writable files, setgid folders.",
)
@click.option("--group", metavar="GROUP", help="With --shared: the Unix group that shares it.")
@pass_context
def init(ctx: Context, directory: Path, actor: str | None, shared: bool, group: str | None) -> None:
    """Create a store: a git repository with default sla.yaml, escalation.yaml,
    .gitattributes (the ticket merge driver), tickets/ and knowledge/.

    \b
    Examples:
      elinkctl init ~/desk && cd ~/desk && elinkctl list
      elinkctl init /srv/desk --shared --group desk   # several Unix users
    """
    from elinkctl.services.setup import init_store, share_with_group

    if group and not shared:
        raise UsageProblem("--group goes with --shared")
    try:
        where = directory.resolve()
    except (RuntimeError, OSError):  # a symbolic link loop (RuntimeError before 3.13)
        raise UsageProblem(
            f"{directory}: cannot be resolved (a symbolic link loop or a removed folder)"
        ) from None
    root = init_store(where, actor or ctx.actor_given)
    echo(f"initialised an elinkctl store in {root}", err=True)
    if shared:
        name = share_with_group(root, group)
        echo(
            f"shared with the group {name}: each other user runs once "
            f"`git config --global --add safe.directory {root}`",
            err=True,
        )


@click.group()
def config() -> None:
    """Rule files: sla.yaml and escalation.yaml.

    \b
    Example:
      elinkctl config check
    """


@config.command("check")
@click.option(
    "--env",
    "need_env",
    is_flag=True,
    help="Treat a ${VAR} of escalation.yaml that is not set here as a problem "
    "(run it in the cron job's environment).",
)
@json_option
@pass_context
def config_check(ctx: Context, need_env: bool, json_: bool) -> None:
    """Validate sla.yaml and escalation.yaml; list every problem with file and line.

    Exits 1 when there is a problem. Run it in CI on pull requests that change
    the rules. A ${VAR} that channels: name but this environment does not set
    is a warning (CI has no secrets), a problem with --env: run that on the
    cron host, in cron's environment, so a notification never fails for it.

    \b
    Examples:
      elinkctl config check && git push
      . /etc/elinkctl/env && elinkctl --store /srv/desk config check --env
    """
    import os

    from elinkctl.config import load_config
    from elinkctl.services.setup import config_warnings
    from elinkctl.services.validators import locate
    from elinkctl.services.validators import problems as rule_problems

    cfg = load_config(ctx.store.root)
    problems = rule_problems(cfg)
    warnings = config_warnings(cfg, ctx.now)
    unset = [
        locate(cfg.escalation, f"{where}: ${{{name}}} is not set in this environment")
        for where, name in unset_variables(cfg.escalation.data, os.environ)
    ]
    (problems if need_env else warnings).extend(unset)
    if json_:
        doc = {"ok": not problems, "problems": problems, "warnings": warnings}
        echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for warning in warnings:
            echo(f"warning: {warning}", err=True)
        for p in problems:
            echo(p)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in the rule files")
    if not json_:
        echo("sla.yaml and escalation.yaml are valid", err=True)


def unset_variables(data: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(field path, NAME) of every ``${NAME}`` under ``channels:`` that ``env``
    lacks or has empty: such a channel fails on every send from there."""
    import re

    found: list[tuple[str, str]] = []

    def walk(where: str, value: Any) -> None:
        if isinstance(value, str):
            for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value):
                if not env.get(name):
                    found.append((where, name))
        elif isinstance(value, Mapping):
            for key, sub in value.items():
                walk(f"{where}.{key}", sub)
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                walk(f"{where}[{i}]", sub)

    channels = data.get("channels")
    if isinstance(channels, Mapping):
        walk("channels", channels)
    return found


@click.command()
@json_option
@pass_context
def fsck(ctx: Context, json_: bool) -> None:
    """Validate every ticket: it parses, the schema holds, the ID matches the
    file name and shard, the state lines agree with the events, the history
    follows the process, and there are no conflict markers. Exits 1 listing
    each problem.

    \b
    Examples:
      elinkctl fsck
      elinkctl fsck --json | jq -r '.problems[]'
    """
    from elinkctl.services.fsck import check_store

    problems, count = check_store(ctx.store)
    if json_:
        doc = {"ok": not problems, "tickets": count, "problems": problems}
        echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for p in problems:
            echo(p)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {count} ticket(s)")
    if not json_:
        echo(f"{count} ticket(s) checked, no problems", err=True)
