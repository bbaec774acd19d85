"""`verify OLD..NEW`: the pushed commits against the rules (pre-receive hook, CI)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from elinkctl.cli.options import json_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.services.context import Context


@click.command()
@click.argument("span", metavar="OLD..NEW", required=False)
@click.option(
    "--require-signed",
    is_flag=True,
    help="Every commit must carry a good signature (git verify-commit).",
)
@click.option(
    "--staged",
    is_flag=True,
    help="Check what is staged, as the commit it becomes (a pre-commit hook).",
)
@json_option
@pass_context
def verify(ctx: Context, span: str | None, require_signed: bool, staged: bool, json_: bool) -> None:
    """Check every commit of OLD..NEW (merges included) against the rules.

    Each changed ticket parses and sits in its shard; existing events are
    never changed or removed (merges: only as the merge driver does); each
    new event is recorded by the commit's author (the cron identity only for
    what check records) who holds the role the step needs; no event is later
    than its commit, and one claiming an earlier time says when it was
    recorded (--at does) within the tolerance (escalation.yaml verify:
    tolerance, default 1h); sla.yaml, escalation.yaml and templates/ are
    changed only by the rule_owners. An all-zero OLD (a new branch) checks
    the whole history of NEW.

    Reads git only, so it runs in the bare repository of a pre-receive hook
    (hooks/pre-receive) or in a CI checkout; --store (or the current
    directory) names the repository. --staged checks the staged changes
    instead, as git's user committing them now (.pre-commit-hooks.yaml).

    \b
    Prints one line per finding: <commit> <file>: <rule>: <message>.
    Exit status: 0 all good; 1 a finding (or an error); 2 wrong usage.

    \b
    Example:
      elinkctl verify origin/main..HEAD
      elinkctl verify --json "$OLD..$NEW"
      elinkctl verify --staged
    """
    from elinkctl.errors import UsageProblem
    from elinkctl.services.verify import verify_range, verify_staged
    from elinkctl.store.gitrepo import Git

    if bool(span) == staged:
        raise UsageProblem("give a range OLD..NEW, or --staged")
    git = Git(Path(ctx.store_dir or os.getcwd()).expanduser())
    if staged:
        report = verify_staged(git, ctx.now)
    else:
        report = verify_range(git, str(span), require_signed=require_signed)
    if json_:
        echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for finding in report.findings:
            echo(finding.line())
    if report.findings:
        raise click.ClickException(
            f"{len(report.findings)} finding(s) in {report.commits} commit(s)"
        )
    echo(f"verify: {report.commits} commit(s) checked, no findings", err=True)
