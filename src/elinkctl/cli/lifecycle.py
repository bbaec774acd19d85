"""Lifecycle commands (DESIGN §3, §8): one command, one event, one commit."""

from __future__ import annotations

import click

from elinkctl.cli.options import at_option, id_argument, note_option, pass_context, run_step
from elinkctl.cli.output import echo
from elinkctl.domain import lifecycle
from elinkctl.domain.lifecycle import TIERS
from elinkctl.domain.model import Ticket
from elinkctl.services.context import Context


def _simple(
    ctx: Context, ticket_id: str, at: str | None, type_: str, message: str, **data: object
) -> None:
    when = ctx.parse_time(at)
    run_step(
        ctx,
        ticket_id,
        lambda t: lifecycle.record(t, type_, ctx.actor, when, ctx.now, message, **data),
    )


def _reason(text: str) -> str:
    if not text.strip():
        raise click.BadParameter("must not be empty", param_hint="--reason")
    return text.strip()


@click.command()
@id_argument
@note_option(help="Anything the desk agreed with the user.")
@click.option(
    "--promise",
    metavar="TIME",
    help="Handling time agreed with the customer (与客户确认处理时间).",
)
@at_option
@pass_context
def accept(
    ctx: Context, ticket_id: str, note: str | None, promise: str | None, at: str | None
) -> None:
    """Screening (受理): the incident is in scope; the desk takes it.

    Also the PM's decision to go ahead with a transferred incident. --promise
    records the handling time agreed with the customer; `show` and `list`
    show it.

    \b
    Example:
      elinkctl accept 7KQ2M
      elinkctl accept 7KQ2M --promise '2026-11-24 18:00' \\
          -m '用户同意今天下班前处理'
    """
    from elinkctl.domain.vendor import not_past

    when = ctx.parse_time(at)
    promise_at = ctx.parse_time(promise, "--promise") if promise else None
    not_past("--promise", promise_at, when, "accept")
    what = "accepted" + (
        f", promised by {promise_at.strftime('%Y-%m-%d %H:%M')}" if promise_at else ""
    )
    run_step(
        ctx,
        ticket_id,
        lambda t: lifecycle.record(
            t, "accepted", ctx.actor, when, ctx.now, what, promise=promise_at, note=note
        ),
    )


@click.command()
@id_argument
@click.option(
    "--reason",
    required=True,
    help="Why (told to the reporter); 'false-alarm' for an erroneous event.",
)
@at_option
@pass_context
def reject(ctx: Context, ticket_id: str, reason: str, at: str | None) -> None:
    """Screening: out of scope of the service agreement; return it to the reporter.

    \b
    Example:
      elinkctl reject 7KQ2M --reason '个人电脑游戏安装不在服务范围内'
    """
    _simple(ctx, ticket_id, at, "rejected", f"rejected: {_reason(reason)}", reason=_reason(reason))


@click.command()
@id_argument
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Choice(["change", "requirement"]),
    help="The process it belongs to.",
)
@click.option("--reason", help="What the user was told.")
@click.option("--ref", metavar="TEXT", help="The change or requirement it was sent to (its ID).")
@at_option
@pass_context
def redirect(
    ctx: Context, ticket_id: str, to: str, reason: str | None, ref: str | None, at: str | None
) -> None:
    """Screening: a change or a requirement, not an incident; redirect it.

    --ref records the other process's reference (the change or requirement
    number), shown by `show`.

    \b
    Example:
      elinkctl redirect 7KQ2M --to change --reason '需走变更申请流程'
      elinkctl redirect 7KQ2M --to requirement --ref REQ-2026-031
    """
    ref = ref.strip() if ref else None
    what = f"redirected to the {to} process" + (f" ({ref})" if ref else "")
    _simple(ctx, ticket_id, at, "redirected", what, to=to, reason=reason, ref=ref)


@click.command()
@id_argument
@click.option("--reason", help="What the customer insists on.")
@at_option
@pass_context
def transfer(ctx: Context, ticket_id: str, reason: str | None, at: str | None) -> None:
    """Hand to the PM: the customer insists on out-of-scope help.

    The PM then runs `accept` or `reject --reason` on it.

    \b
    Example:
      elinkctl transfer 7KQ2M --reason '客户坚持要求协助迁移个人数据'
    """
    _simple(
        ctx,
        ticket_id,
        at,
        "transferred",
        "transferred to the PM for a decision",
        to="pm",
        reason=reason,
    )


@click.command()
@id_argument
@click.option("--to", "to", required=True, help="The engineer (or desk member).")
@click.option("--tier", type=click.Choice(TIERS), default="l1", show_default=True)
@at_option
@pass_context
def assign(ctx: Context, ticket_id: str, to: str, tier: str, at: str | None) -> None:
    """Dispatch (派单) to a person at a tier.

    \b
    Example:
      elinkctl assign 7KQ2M --to 李四 --tier l1
    """
    _simple(ctx, ticket_id, at, "assigned", f"assigned to {to} ({tier})", to=to.strip(), tier=tier)


@click.command()
@id_argument
@note_option(help="What was said or tried (电话/远程).")
@at_option
@pass_context
def contact(ctx: Context, ticket_id: str, note: str | None, at: str | None) -> None:
    """The engineer's first contact with the user (第一时间与用户建立联系).

    \b
    Example:
      elinkctl contact 7KQ2M -m '电话联系用户，远程检查无果'
    """
    _simple(ctx, ticket_id, at, "contacted", "contacted the user", note=note)


@click.command()
@id_argument
@click.option("--tier", required=True, type=click.Choice(["l2", "vendor", "pm"]))
@click.option("--to", "to", help="The l2 engineer, the vendor, or the PM.")
@click.option("--due", metavar="TIME", help="A vendor's reply deadline.")
@click.option("--reason", required=True, help="Why the current tier cannot resolve it.")
@at_option
@pass_context
def escalate(
    ctx: Context,
    ticket_id: str,
    tier: str,
    to: str | None,
    due: str | None,
    reason: str,
    at: str | None,
) -> None:
    """Functional escalation: to second-line support, a vendor (厂商), or the PM.

    A vendor is called in with the customer's agreement and must reply by
    --due. With --tier pm, l1 hands an incident it cannot solve in time to
    the project manager, who dispatches it to l2 or a vendor (事件升级).

    \b
    Example:
      elinkctl escalate 7KQ2M --tier l2 --to 王五 --reason '一线无法定位'
      elinkctl escalate 7KQ2M --tier vendor --to 用友 \\
          --due '2026-11-24 12:00' --reason '需原厂分析'
      elinkctl escalate 7KQ2M --tier pm --reason '一线无法在时限内解决'
    """
    if tier != "vendor" and due:
        raise click.UsageError("--due is a vendor's reply deadline: use it with --tier vendor")
    if tier == "vendor" and not to:
        raise click.UsageError("a vendor escalation needs --to VENDOR")
    due_at = ctx.parse_time(due, "--due") if due else None
    if due_at is not None:
        from elinkctl.domain.vendor import not_past

        not_past("--due", due_at, ctx.parse_time(at), "escalation")
    what = f"escalated to {tier}" + (f" ({to})" if to else "")
    if due_at:
        what += f", reply due {due_at.strftime('%Y-%m-%d %H:%M')}"
    _simple(
        ctx, ticket_id, at, "escalated", what, tier=tier, to=to, due=due_at, reason=_reason(reason)
    )


@click.command()
@id_argument
@click.option("--reason", required=True, help="What it waits on (pauses the resolution clock).")
@at_option
@pass_context
def pend(ctx: Context, ticket_id: str, reason: str, at: str | None) -> None:
    """Wait on the customer or a vendor; the resolution clock pauses.

    \b
    Example:
      elinkctl pend 7KQ2M --reason '等待用户提供日志'
    """
    _simple(ctx, ticket_id, at, "pended", f"pending: {_reason(reason)}", reason=_reason(reason))


@click.command()
@id_argument
@note_option()
@at_option
@pass_context
def resume(ctx: Context, ticket_id: str, note: str | None, at: str | None) -> None:
    """Resume work after pending; the resolution clock runs again.

    \b
    Example:
      elinkctl resume 7KQ2M -m '用户已提供日志'
    """
    _simple(ctx, ticket_id, at, "resumed", "resumed", note=note)


@click.command()
@id_argument
@click.option("--solution", required=True, help="What fixed it (goes to the KB draft).")
@click.option("--cause", help="Root cause, if known.")
@click.option("--kb", "kb_id", metavar="KB-ID", help="The knowledge-base article that solved it.")
@at_option
@pass_context
def resolve(
    ctx: Context,
    ticket_id: str,
    solution: str,
    cause: str | None,
    kb_id: str | None,
    at: str | None,
) -> None:
    """Record the solution; the incident is resolved (已解决).

    \b
    Example:
      elinkctl resolve 7KQ2M --solution '更新认证服务证书并重启' \\
          --cause '证书过期'
    """
    if not solution.strip():
        raise click.BadParameter("must not be empty", param_hint="--solution")
    if kb_id is not None:
        from elinkctl.services import kb

        kb_id = kb.resolve_article_id(ctx.store, kb_id)  # unknown → exit 1, nothing written
    from elinkctl.services import procedure

    result = procedure.resolve(
        ctx, ticket_id, ctx.parse_time(at), solution=solution.strip(), cause=cause, kb=kb_id
    )
    for line in result.notes:
        echo(f"note: {line}", err=True)
    echo(result.change.message, err=True)


@click.command()
@id_argument
@click.option("--reason", required=True)
@at_option
@pass_context
def reopen(ctx: Context, ticket_id: str, reason: str, at: str | None) -> None:
    """The problem is back: reopen a resolved incident (measured to its last resolution).

    \b
    Example:
      elinkctl reopen 7KQ2M --reason '用户反馈问题再次出现'
    """
    _simple(ctx, ticket_id, at, "reopened", f"reopened: {_reason(reason)}", reason=_reason(reason))


@click.command()
@id_argument
@note_option(help="Who confirmed, how.")
@at_option
@pass_context
def confirm(ctx: Context, ticket_id: str, note: str | None, at: str | None) -> None:
    """The user confirmed the problem is solved (与客户确认处理结果); stays resolved.

    \b
    Example:
      elinkctl confirm 7KQ2M -m '张三电话确认'
    """
    _simple(ctx, ticket_id, at, "confirmed", "user confirmed the resolution", note=note)


@click.command()
@id_argument
@click.option(
    "--satisfaction", type=click.IntRange(1, 5), help="1 (very unhappy) … 5 (very satisfied)."
)
@note_option()
@at_option
@pass_context
def callback(
    ctx: Context, ticket_id: str, satisfaction: int | None, note: str | None, at: str | None
) -> None:
    """Record the follow-up call (回访) and the user's satisfaction.

    \b
    Example:
      elinkctl callback 7KQ2M --satisfaction 5 -m '用户确认已恢复'
    """
    from elinkctl.domain import major
    from elinkctl.services.procedure import procedure_rules

    what = "callback" + (f", satisfaction {satisfaction}/5" if satisfaction else "")
    proc = procedure_rules(ctx.store.config)
    when = ctx.parse_time(at)

    def do(t: Ticket) -> lifecycle.Change:
        major.check_callback(t, proc)
        return lifecycle.record(
            t, "callback", ctx.actor, when, ctx.now, what, satisfaction=satisfaction, note=note
        )

    run_step(ctx, ticket_id, do)


@click.command()
@id_argument
@note_option()
@click.option("--force", is_flag=True, help="Close without what the procedure wants first.")
@click.option("--reason", help="Why it is forced (required with --force; recorded).")
@at_option
@pass_context
def close(
    ctx: Context,
    ticket_id: str,
    note: str | None,
    force: bool,
    reason: str | None,
    at: str | None,
) -> None:
    """Close a resolved incident (关闭事件单) once the user confirmed it.

    The procedure closes after the desk confirmed the resolution with the
    user (`confirm`); a reviewed priority (P1) also needs the PM's approval
    and the issued report. --force --reason closes anyway and records why.

    \b
    Example:
      elinkctl close 7KQ2M
      elinkctl close 7KQ2M --force --reason '用户失联三次，按合同约定关闭'
    """
    from elinkctl.domain import major
    from elinkctl.services.procedure import procedure_rules

    if force and not (reason and reason.strip()):
        raise click.UsageError("--force needs --reason (it is recorded on the ticket)")
    if reason and not force:
        raise click.UsageError("--reason goes with --force")
    proc = procedure_rules(ctx.store.config)
    when = ctx.parse_time(at)
    run_step(
        ctx,
        ticket_id,
        lambda t: major.close(t, ctx.actor, when, ctx.now, note, proc, force=force, reason=reason),
    )


@click.command()
@id_argument
@note_option("text", required=True)
@at_option
@pass_context
def comment(ctx: Context, ticket_id: str, text: str, at: str | None) -> None:
    """Add a note to the timeline.

    \b
    Example:
      elinkctl comment 7KQ2M -m '用户来电询问进度'
    """
    first = text.strip().splitlines()[0] if text.strip() else ""
    if not first:
        raise click.BadParameter("must not be empty", param_hint="-m")
    _simple(ctx, ticket_id, at, "commented", f"comment: {first[:60]}", text=text.strip())


@click.command()
@id_argument
@note_option("text", required=True)
@at_option
@pass_context
def complain(ctx: Context, ticket_id: str, text: str, at: str | None) -> None:
    """Record a customer complaint (投诉) against this incident; counted in stats.

    \b
    Example:
      elinkctl complain 7KQ2M -m '用户投诉响应太慢'
    """
    if not text.strip():
        raise click.BadParameter("must not be empty", param_hint="-m")
    _simple(ctx, ticket_id, at, "complained", f"complaint: {text.strip()[:60]}", text=text.strip())
