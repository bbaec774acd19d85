"""The major-incident steps (重大事件处理流程): judgement, progress, PM review."""

from __future__ import annotations

import click

from elinkctl.cli.options import at_option, id_argument, note_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.services.context import Context


@click.group()
def major() -> None:
    """Major incidents (重大事件): the PM's judgement.

    \b
    Example:
      elinkctl major confirm 7KQ2M -m '核心交换机故障，影响全公司'
    """


@major.command()
@id_argument
@note_option("note", help="The judgement: impact, resources requested.")
@at_option
@pass_context
def confirm(ctx: Context, ticket_id: str, note: str | None, at: str | None) -> None:
    """事件判断: the PM judges a P1 to be a major incident.

    Resources are requested and l1 goes on site; to downgrade instead, use
    `edit ID --priority P2 --reason …`.

    \b
    Example:
      elinkctl major confirm 7KQ2M -m '核心交换机故障，影响全公司'
    """
    from elinkctl.cli.options import run_step
    from elinkctl.domain import major as steps

    when = ctx.parse_time(at)
    run_step(ctx, ticket_id, lambda t: steps.confirm_major(t, ctx.actor, when, ctx.now, note))


@click.command()
@id_argument
@note_option("text", required=True, help="What was done, what is next.")
@at_option
@pass_context
def progress(ctx: Context, ticket_id: str, text: str, at: str | None) -> None:
    """Report progress on an open P1 to management (向公司管理层汇报进展).

    Recorded on the incident and sent to the people of the management role;
    `check` reminds the PM when an open P1 had no report for
    procedure.progress_every (sla.yaml, default 2h).

    \b
    Example:
      elinkctl progress 7KQ2M -m '厂商工程师已到场，预计14:00恢复'
    """
    from elinkctl.services import procedure

    result = procedure.progress(ctx, ticket_id, ctx.parse_time(at), text)
    for note in result.notes:
        echo(f"note: {note}", err=True)
    echo(result.change.message, err=True)


@click.command()
@id_argument
@click.option("--approve", "verdict", flag_value="approved", help="The resolution stands.")
@click.option("--return", "verdict", flag_value="returned", help="Back to work (like a reopen).")
@note_option("note", help="The PM's remarks (with --approve).")
@click.option("--reason", help="Why it goes back (required with --return).")
@at_option
@pass_context
def review(
    ctx: Context,
    ticket_id: str,
    verdict: str | None,
    note: str | None,
    reason: str | None,
    at: str | None,
) -> None:
    """The PM's review of a resolved major incident (转回给项目经理审核).

    Which priorities are reviewed is sla.yaml procedure.review_priorities
    (default P1); their callback and close wait for the approval and the
    issued report.

    \b
    Example:
      elinkctl review 7KQ2M --approve -m '处理得当'
      elinkctl review 7KQ2M --return --reason '根因未查明'
    """
    from elinkctl.cli.options import run_step
    from elinkctl.domain import major as steps
    from elinkctl.errors import UsageProblem
    from elinkctl.services.procedure import procedure_rules

    if verdict is None:
        raise UsageProblem("give --approve or --return --reason")
    if verdict == "returned" and not (reason and reason.strip()):
        raise UsageProblem("--return needs --reason")
    if verdict == "approved" and reason:
        raise UsageProblem("--reason goes with --return; remarks on an approval: -m")
    proc = procedure_rules(ctx.store.config)
    when = ctx.parse_time(at)
    text = note if verdict == "approved" else reason
    run_step(
        ctx,
        ticket_id,
        lambda t: steps.review(t, verdict, ctx.actor, when, ctx.now, text, proc),
    )
