"""`new` and `edit`: registration (DESIGN §3) and later corrections."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from elinkctl.cli.options import at_option, id_argument, pass_context, run_step
from elinkctl.cli.output import echo
from elinkctl.domain.lifecycle import GRADES, PRIORITIES, TYPES
from elinkctl.domain.model import SOURCES
from elinkctl.errors import UsageProblem
from elinkctl.services.context import Context

OPTION_TO_FIELD = {
    "title": "title",
    "type_": "type",
    "urgency": "urgency",
    "impact": "impact",
    "priority": "priority",
    "location": "location",
    "contact": "contact",
    "system": "system",
    "module": "module",
    "source": "source",
    "description": "description",
    "key_user": "key_user",
    "security": "security",
}
REPORTER_OPTIONS = {"reporter": "name", "phone": "phone", "dept": "department"}

REQUIRED = (
    ("title", "Title (事件标题)"),
    ("type", "Type (类型)"),  # click.Choice lists the choices once: [failure, request, …]
    ("reporter", "Reporter's name (申报人)"),
)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def registration_options(func: Any) -> Any:
    """The registration fields of DESIGN §3, shared by `new` and `edit`."""
    opts = [
        click.option("--title", help="事件标题."),
        click.option("--type", "type_", type=click.Choice(TYPES), help="事件分类."),
        click.option("--urgency", type=click.Choice(GRADES), help="紧急程度 (→ priority)."),
        click.option("--impact", type=click.Choice(GRADES), help="影响面 (→ priority)."),
        click.option("--priority", type=click.Choice(PRIORITIES), help="Override the matrix."),
        click.option("--reporter", help="申报人 name."),
        click.option("--phone", help="Reporter's phone."),
        click.option("--dept", help="Reporter's department."),
        click.option("--location", help="故障/服务地点."),
        click.option("--contact", help="On-site contact (name and phone)."),
        click.option("--system", help="涉及系统."),
        click.option("--module", help="所属模块."),
        click.option("--source", type=click.Choice(SOURCES), help="来源."),
        click.option("--description", help="事件发生的情况描述."),
        click.option(
            "--key-user/--no-key-user",
            "key_user",
            default=None,
            help="关键用户 (default: from sla.yaml key_users).",
        ),
        click.option("--security/--no-security", "security", default=None, help="信息安全事件."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@click.command()
@registration_options
@click.option(
    "--opened-at",
    metavar="TIME",
    help="True start of an incident handled first, recorded later (先处理后补单).",
)
@click.option("--reason", help="Why a non-P1 incident is backfilled.")
@click.option("--force", is_flag=True, help="Register a system outside the scope list.")
@click.option(
    "--no-suggest",
    "no_suggest",
    is_flag=True,
    help="Do not list knowledge-base suggestions on stderr.",
)
@at_option
@pass_context
def new(ctx: Context, **opts: Any) -> None:
    """Register an incident and print its ID (only the ID on stdout).

    Only --title, --type and --reporter are required; on a terminal, missing
    ones are asked for. The priority comes from urgency × impact in
    sla.yaml unless --priority is given.

    \b
    Example:
      elinkctl new --title 'OA系统打不开' --type failure --reporter 张三 \\
          --phone 13800138000 --dept 财务部 --system OA \\
          --urgency medium --impact high
    """
    from elinkctl.services import registration

    for key, prompt in REQUIRED:
        opt = "type_" if key == "type" else key
        if not opts.get(opt):
            if _interactive():
                if key == "type":
                    opts[opt] = click.prompt(prompt, type=click.Choice(TYPES), err=True)
                else:
                    opts[opt] = click.prompt(prompt, err=True)
            else:
                missing = [
                    f"--{k}" for k, _ in REQUIRED if not opts.get("type_" if k == "type" else k)
                ]
                raise UsageProblem(f"missing {', '.join(missing)} (required to register)")
    no_suggest = opts.pop("no_suggest", False)
    raw = {field: opts.get(opt) for opt, field in OPTION_TO_FIELD.items()}
    raw["reporter"] = {sub: opts.get(opt) for opt, sub in REPORTER_OPTIONS.items()}
    opened = opts.get("opened_at")
    result = registration.create(
        ctx,
        raw,
        opened_at=ctx.parse_time(opened, "--opened-at") if opened else None,
        recorded_at=ctx.parse_time(opts.get("at")),
        backfill_reason=opts.get("reason"),
        force=bool(opts.get("force")),
    )
    for line in result.notes:
        echo(f"note: {line}", err=True)
    echo(result.change.message, err=True)
    echo(result.ticket.id)
    if not no_suggest:
        from elinkctl.services import kb

        for line in kb.suggestion_lines(ctx.store, result.ticket):
            echo(line, err=True)


@click.command()
@id_argument
@registration_options
@click.option("--reason", help="Why (required when priority or type changes).")
@at_option
@pass_context
def edit(ctx: Context, ticket_id: str, reason: str | None, at: str | None, **opts: Any) -> None:
    """Change descriptive fields; each change is recorded as an event.

    With no field options on a terminal, opens $EDITOR on the fields and
    validates them before saving.

    \b
    Example:
      elinkctl edit 7KQ2M --priority P2 --reason '影响扩大到全部门'
      elinkctl edit 7KQ2M --location '3号楼501' --contact '王五 13700000000'
    """
    from elinkctl.services import registration

    changes: dict[str, Any] = {}
    for opt, field in OPTION_TO_FIELD.items():
        if opts.get(opt) is not None:
            changes[field] = opts[opt]
    for opt, sub in REPORTER_OPTIONS.items():
        if opts.get(opt) is not None:
            changes[f"reporter.{sub}"] = opts[opt]
    if not changes:
        if _interactive() and os.environ.get("EDITOR", os.environ.get("VISUAL")):
            ticket = ctx.store.find(ticket_id)
            text = registration.editable_text(ticket, reason)
            changes, reason = registration.changes_from_text(ticket, reason, _edit(text))
        else:
            raise UsageProblem("nothing to change: give field options (see --help)")
    when = ctx.parse_time(at)
    from elinkctl.domain import lifecycle

    run_step(ctx, ticket_id, lambda t: lifecycle.edit(t, changes, ctx.actor, when, ctx.now, reason))


def _edit(text: str) -> str:
    """Run $VISUAL or $EDITOR on ``text`` in a temporary file; the edited text."""
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fh:
        fh.write(text)
        path = fh.name
    try:
        subprocess.run([*editor.split(), path], check=True)
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UsageProblem(f"editor failed: {exc}") from None
    finally:
        os.unlink(path)
