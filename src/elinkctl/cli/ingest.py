"""``ingest email`` / ``ingest alert``: register incidents from a mail pipe or
a monitoring webhook (see `elinkctl.services.intake` for the rules).

Thin on purpose: read the bytes, call the use case, print the IDs on stdout
(one per line, nothing else, so a pipe or receiver script can use them) and
everything for people on stderr.
"""

from __future__ import annotations

import sys

import click

from elinkctl.cli.exitcodes import SysexitsGroup, with_sysexits
from elinkctl.cli.options import pass_context
from elinkctl.cli.output import echo
from elinkctl.domain.lifecycle import TYPES
from elinkctl.services import intake
from elinkctl.services.context import Context


def _report(result: intake.IntakeResult) -> None:
    for note in result.notes:
        echo(f"note: {note}", err=True)
    for outcome in result.outcomes:
        if outcome.message:
            echo(outcome.message, err=True)
    for ticket_id in result.ids:
        echo(ticket_id)


@click.group(cls=SysexitsGroup)
def ingest() -> None:
    """Register incidents from a mail message or a monitoring alert.

    Input is a file or standard input (at most 10 MB). Prints the IDs of the
    incidents created or updated, one per line; nothing is written unless
    the whole input could be read.

    \b
    Exit status (sysexits.h, for mail servers and alert receivers):
      0  done             65 malformed message or payload (bounce)
      64 wrong usage      75 busy store or other temporary failure (retry)
      77 the acting user lacks the role     78 no store, or invalid rules

    \b
    Example:
      elinkctl ingest email message.eml
      elinkctl ingest alert payload.json
    """


@ingest.command()
@click.argument(
    "file",
    required=False,
    metavar="[FILE]",
    type=click.Path(dir_okay=False, allow_dash=True),
)
@click.option(
    "--type",
    "type_",
    type=click.Choice(TYPES),
    help="Incident type (default: consultation if the subject asks a question "
    "(咨询/如何/怎么), else failure).",
)
@pass_context
@with_sysexits
def email(ctx: Context, file: str | None, type_: str | None) -> None:
    """One mail message (RFC 5322, as a mail server pipes it) → an incident.

    A reply about an existing incident (its ID in the subject, or
    In-Reply-To/References naming a mail already recorded) is added to it
    as a comment instead. The sender is the reporter; key users in
    sla.yaml are flagged.

    Bounces and automatic replies (out-of-office, read receipts) are never
    an incident or a comment: nothing is written, one note says what
    arrived; a bounce of one of our notices marks its outbox item failed
    (`elinkctl outbox list`).

    \b
    Examples:
      elinkctl ingest email message.eml
      ELINKCTL_USER=mail-intake elinkctl ingest email < message.eml

    \b
    Postfix master.cf (pipe retries on 75, bounces the rest):
      elinkctl unix - n n - - pipe flags=Rq user=desk argv=/usr/local/bin/elinkctl
        --store /srv/desk --as mail-intake ingest email
    """
    data = intake.read_input(file, sys.stdin.buffer)
    _report(intake.ingest_email(ctx.store, data, ctx.actor, ctx.now, type_=type_))


@ingest.command()
@click.argument(
    "file",
    required=False,
    metavar="[FILE]",
    type=click.Path(dir_okay=False, allow_dash=True),
)
@pass_context
@with_sysexits
def alert(ctx: Context, file: str | None) -> None:
    """An Alertmanager (webhook v4) or Zabbix JSON payload → incidents.

    Mapped by the alerts: rules of sla.yaml. An alert firing again while
    its incident is open, or within flap_window of its resolution, is
    recorded on that incident (and reopens it) instead of a new one. A
    repeat of a firing already recorded (same start, same Zabbix event) is
    matched to its incident whatever its state, even rejected as a false
    alarm: nothing is written, its ID is printed. Zabbix discovery events
    are no incidents (exit 0, a note); internal events and problem updates
    become comments. All alerts of one payload are one commit.

    \b
    Examples:
      elinkctl ingest alert payload.json
      curl … | ELINKCTL_USER=monitoring elinkctl ingest alert
    """
    data = intake.read_input(file, sys.stdin.buffer)
    _report(intake.ingest_alerts(ctx.store, data, ctx.actor, ctx.now))
