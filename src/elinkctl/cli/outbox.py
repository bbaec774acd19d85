"""`outbox list/retry/drop` and `notify test` (DESIGN §8): the notification outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from elinkctl.cli.options import json_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.services.context import Context

if TYPE_CHECKING:
    from elinkctl.notify.entry import OutboxEntry


@click.group()
def outbox() -> None:
    """The notification outbox: what is queued, failed or recently delivered.

    Notices are queued with the event that causes them and sent by `check`
    (and at once by the command when it can); a failed send is retried with
    back-off (1m, 2m, … 1h) and given up on after 2 days. The outbox is local
    to the clone that runs `check` (.git/elinkctl/outbox).

    \b
    Example:
      elinkctl outbox list
      elinkctl outbox retry
      elinkctl outbox drop 'INC-261123-7KQ2/escalation/30m/pm@ops-ding' \\
          --reason 群已解散
    """


@outbox.command("list")
@json_option
@pass_context
def list_(ctx: Context, json_: bool) -> None:
    """Pending and failed items, and those delivered or dropped in the last 7 days.

    Each with its channel, recipients, attempts and last error (errors never
    show a robot's token or a secret). A dropped item is listed as failed,
    its last error "dropped: <reason> (by <who>)"; a delivered mail that the
    recipient's server returned (its bounce piped to `ingest email`) as
    failed, "bounced: <status> <the server's reason>".

    \b
    --json: an array of {key, channel, recipient, state, attempts, last_error},
    state pending | failed | delivered.

    \b
    Example:
      elinkctl outbox list
      elinkctl outbox list --json | jq '.[] | select(.state == "failed")'
    """
    from elinkctl.services import outbox as service

    entries = service.list_entries(ctx.store, ctx.now)
    if json_:
        echo(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        echo("the outbox is empty (nothing pending, failed or delivered in 7 days)", err=True)
        return
    from elinkctl.cli.output import columns

    for line in _table(entries, columns()):
        echo(line)


def _table(entries: Sequence[OutboxEntry], width: int) -> list[str]:
    """One line per item when that fits in ``width`` columns; otherwise each
    item's key goes on an indented line of its own under it. Either way the
    key stays whole (`retry` and `drop` take it) and the last error is cut
    to what is left (``--json`` has it in full)."""
    from elinkctl.render.terminal import clip, pad, wcwidth_len

    def fmt(rows: list[tuple[str, ...]]) -> list[str]:
        widths = [max(wcwidth_len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        room = max(width - sum(widths) - 2 * len(widths), 12)
        return [
            "  ".join(
                [*(pad(c, w) for c, w in zip(r[:-1], widths, strict=True)), clip(r[-1], room)]
            ).rstrip()
            for r in rows
        ]

    def error(e: OutboxEntry) -> str:
        return " ".join((e.last_error or "").split())

    def who(e: OutboxEntry) -> str:
        return ", ".join(e.recipients) or "-"

    head = ("STATE", "TRIES", "CHANNEL", "RECIPIENT", "KEY", "LAST ERROR")
    wide = fmt(
        [head, *((e.state, str(e.attempts), e.channel, who(e), e.key, error(e)) for e in entries)]
    )
    if max(map(wcwidth_len, wide)) <= width:
        return wide
    narrow = fmt(
        [
            ("STATE", "TRIES", "CHANNEL", "RECIPIENT", "LAST ERROR"),
            *((e.state, str(e.attempts), e.channel, who(e), error(e)) for e in entries),
        ]
    )
    lines = [narrow[0]]
    for line, e in zip(narrow[1:], entries, strict=True):
        lines += [line, f"  {e.key}"]
    return lines


@outbox.command()
@click.argument("key", required=False)
@pass_context
def retry(ctx: Context, key: str | None) -> None:
    """Send now what is pending or failed (all, or the item KEY), ignoring back-off.

    One attempt each; prints one line per delivery (sent, failed with the
    error, or deferred by a robot's rate limit). Without KEY, what goes to the
    same people on one channel is one message, as from `check`, and a robot
    post held for the night (quiet hours) still waits; KEY sends it now. A pending item that fails
    again stays queued for `check`; a failed one stays failed. A delivered
    item is never sent again, a dropped one not at all. Exit status 1 when a
    delivery failed or KEY is unknown.

    \b
    Example:
      elinkctl outbox retry
      elinkctl outbox retry 'INC-261123-7KQ2/escalation/0h/l1@mail'
    """
    from elinkctl.services import outbox as service

    results = service.retry(ctx.store, ctx.now, key)
    if not results:
        echo("nothing pending or failed to send now", err=True)
        return
    for r in results:
        who = ", ".join(r.recipients) or "-"
        if r.ok:
            echo(f"sent      {r.channel} → {who}  {r.key}")
        elif r.deferred:
            echo(f"deferred  {r.channel} → {who}  {r.key}: {r.error}")
        else:
            echo(f"failed    {r.channel} → {who}  {r.key}: {r.error}")
    failed = [r for r in results if not r.ok and not r.deferred]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(results)} deliveries failed")


@outbox.command()
@click.argument("key")
@click.option("--reason", required=True, metavar="TEXT", help="Why it is given up on.")
@pass_context
def drop(ctx: Context, key: str, reason: str) -> None:
    """Give up on the pending or failed item KEY for good; it is never sent.

    It stays in the outbox as failed, its last error "dropped: <reason>
    (by <who>)", shown by `outbox list` for 7 days; its key is never queued
    again. An unknown, delivered or already dropped KEY is an error (exit 1).

    \b
    Example:
      elinkctl outbox drop 'INC-261123-7KQ2/escalation/30m/pm@ops-ding' \\
          --reason 群已解散
    """
    from elinkctl.services import outbox as service

    state = service.drop(ctx.store, key, reason, ctx.actor, ctx.now)
    echo(f"dropped {key} (was {state})", err=True)


@click.group()
def notify() -> None:
    """Notifications: try a channel or a person's route.

    \b
    Example:
      elinkctl notify test ops-wecom
      elinkctl notify test 王五
    """


@notify.command("test")
@click.argument("target")
@pass_context
def test(ctx: Context, target: str) -> None:
    """Send a test message to TARGET, a channel or a person of escalation.yaml.

    Goes the real way at once (not through the outbox): a channel gets one
    post (a mail channel: to its to: list, else to its own from address); a
    person gets their mail and a post to each channel they list. Prints one
    line per delivery; exit status 1 when one failed (the error never shows
    a token or a secret) or TARGET is unknown.

    \b
    Example:
      elinkctl notify test ops-ding
      elinkctl notify test 王五
    """
    from elinkctl.services import outbox as service

    results = service.notify_test(ctx.store, target, ctx.actor, ctx.now)
    for r in results:
        who = ", ".join(r.recipients) or "-"
        if r.ok:
            echo(f"sent    {r.channel} → {who}")
        else:
            echo(f"failed  {r.channel} → {who}: {r.error}")
    failed = [r for r in results if not r.ok]
    if failed:
        first = " ".join(str(failed[0].error).split())
        more = f" ({len(failed)} of {len(results)} failed)" if len(results) > 1 else ""
        raise click.ClickException(f"test to {target} failed{more}: {first}")
