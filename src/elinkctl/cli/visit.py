"""The on-site visit (上门服务): book it, record it done and signed, attach
the signed form and photos (DESIGN §8 `visit`, `attach`)."""

from __future__ import annotations

import click

from elinkctl.cli.options import at_option, id_argument, note_option, pass_context, run_step
from elinkctl.cli.output import echo
from elinkctl.errors import UsageProblem
from elinkctl.services.context import Context


@click.command()
@id_argument
@click.option(
    "--appointment",
    "appointment",
    metavar="TIME",
    help="Booking: when the engineer will be on site (a future time).",
)
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="With --done: when the user signed the form (default --end). For a "
    "booking, the old spelling of --appointment.",
)
@click.option("--done", is_flag=True, help="Record the visit done (上门服务完成), from the form.")
@click.option("--start", metavar="TIME", help="With --done: when the work on site began.")
@click.option("--end", metavar="TIME", help="With --done: when it ended.")
@note_option(help="Booking: where / what to bring. With --done: the work done (required).")
@click.option(
    "--signed-by", "signed_by", metavar="NAME", help="With --done: who signed the form (签字)."
)
@click.option(
    "--booked-at", "booked_at", metavar="TIME", help="When the appointment was made (default now)."
)
@pass_context
def visit(
    ctx: Context,
    ticket_id: str,
    appointment: str | None,
    at: str | None,
    done: bool,
    start: str | None,
    end: str | None,
    note: str | None,
    signed_by: str | None,
    booked_at: str | None,
) -> None:
    """Book an on-site visit (预约上门服务), or record it --done.

    Booking: --appointment is when the engineer will be there (--at, the
    contract's first spelling, still works for it); when the booking itself
    was made is --booked-at. Everywhere else --at is when something
    happened. Print the service ticket form with `elinkctl print ID`
    before going.

    Done (服务单 filled in on site and signed by the user): enter the form
    back at the office: --start and --end of the work, -m what was
    done, --signed-by the user who signed. A visit nobody booked is
    recorded as a walk-in, with a note. Attach the scanned form with
    `elinkctl attach ID FILE`.

    \b
    Example:
      elinkctl visit 7KQ2M --appointment '2026-11-24 14:00' -m '带备用电源'
      elinkctl visit 7KQ2M --done --start '2026-11-24 14:05' \\
          --end '2026-11-24 15:10' -m '更换硒鼓并测试打印' --signed-by 张三
    """
    if not done:
        if start or end or signed_by:
            raise UsageProblem("--start, --end and --signed-by go with --done")
        if appointment and at:
            raise UsageProblem("--appointment and --at name the same time; give one")
        when = appointment or at
        if when is None:
            raise UsageProblem("give --appointment TIME to book a visit, or --done to record one")
        _book(ctx, ticket_id, when, note, booked_at, "--appointment" if appointment else "--at")
        return
    if appointment:
        raise UsageProblem(
            "--appointment is for a booking; with --done, --at is when it was signed"
        )
    if booked_at:
        raise UsageProblem(
            "--booked-at is for a booking; with --done, --at is when the form was signed"
        )
    from elinkctl.services import visit as service

    result = service.record_done(
        ctx,
        ticket_id,
        start=ctx.parse_time(start, "--start") if start else None,
        end=ctx.parse_time(end, "--end") if end else None,
        work=note,
        signed_by=signed_by,
        at=ctx.parse_time(at) if at else None,
    )
    echo(result.change.message, err=True)
    for line in result.notes:
        echo(line, err=True)


def _book(
    ctx: Context,
    ticket_id: str,
    at: str,
    note: str | None,
    booked_at: str | None,
    option: str = "--appointment",
) -> None:
    from elinkctl.domain import lifecycle

    appointment = ctx.parse_time(at, option)
    when = ctx.parse_time(booked_at, "--booked-at")
    shown = appointment.strftime("%Y-%m-%d %H:%M")
    run_step(
        ctx,
        ticket_id,
        lambda t: lifecycle.record(
            t,
            "visit_scheduled",
            ctx.actor,
            when,
            ctx.now,
            f"on-site visit booked for {shown}",
            visit_at=appointment,
            note=note,
        ),
    )


@click.command()
@id_argument
@click.argument("files", nargs=-1, required=True, metavar="FILE…", type=click.Path())
@note_option(help="What the files are (用户签字的服务单扫描件 …).")
@at_option
@pass_context
def attach(
    ctx: Context, ticket_id: str, files: tuple[str, ...], note: str | None, at: str | None
) -> None:
    """Store files with an incident (附件): the signed form, photos, logs.

    Each FILE is copied to attachments/<ID>/ in the store and committed
    with one `attached` event that records its name, size and SHA-256; the
    stored paths are printed. A name already there gets -2, -3 … (nothing
    is overwritten); a name is made safe (no separators, spaces or control
    characters). Refused: a missing file, a directory, a symbolic link, a
    file over sla.yaml's procedure.attachment_max_mb (default 50 MB). For
    big files set up Git LFS (docs/administration.md).

    \b
    Example:
      elinkctl attach 7KQ2M 服务单-签字.pdf 现场照片.jpg \\
          -m '用户签字的服务单和现场照片'
    """
    from elinkctl.services import visit as service

    result = service.attach(ctx, ticket_id, files, at=ctx.parse_time(at), note=note)
    for path in result.paths:
        echo(path)
    echo(result.change.message, err=True)
    for line in result.notes:
        echo(line, err=True)
