"""`check`: the cron job (DESIGN §4, §8). Silent unless something happened."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from elinkctl.cli.exitcodes import CHECK_NOTIFY_FAILING
from elinkctl.cli.options import json_option, pass_context
from elinkctl.cli.output import echo
from elinkctl.domain.glossary import NOTIFICATIONS, ROLES, zh
from elinkctl.services import daily
from elinkctl.services.context import Context

if TYPE_CHECKING:
    from elinkctl.domain.findings import Finding
    from elinkctl.notify.entry import OutboxEntry
    from elinkctl.services.check import CheckReport

KIND_HEAD = {
    kind: f"{zh(NOTIFICATIONS, kind)} {word}"
    for kind, word in (
        ("escalation", "escalation"),
        ("sla_warning", "warning"),
        ("sla_breach", "breach"),
        ("vendor_warning", "reminder"),
        ("vendor_overdue", "reminder"),
        ("progress_due", "reminder"),
        ("visit_missed", "reminder"),
        ("promise_passed", "reminder"),
        ("kb_decision_due", "reminder"),
    )
}


@click.command()
@click.option(
    "--dry-run",
    "dry_run",
    is_flag=True,
    help="Show what would be recorded and sent; write and send nothing.",
)
@click.option(
    "--sync",
    "sync",
    is_flag=True,
    help="Sync with the shared remote before and after (for the cron host).",
)
@click.option(
    "--failing-after",
    "failing_after",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    metavar="N",
    help="Exit 3 while a notification has failed N attempts in a row or was given up (0: never).",
)
@json_option
@pass_context
def check(ctx: Context, dry_run: bool, sync: bool, failing_after: int, json_: bool) -> None:
    """Escalate overdue incidents and mark SLA deadlines; for cron.

    For every unresolved incident: escalation levels of escalation.yaml that
    are due (each once per incident, missed runs caught up oldest first), SLA
    warnings (at warn_at of a target) and breaches. Each is recorded on the
    ticket (one commit per run, author elinkctl-check unless --as is given)
    and notified through the outbox (failed sends are retried by the next
    run). Prints nothing when nothing happened, so cron mails only news.

    \b
    Exit status: 0 done (also when another check held the lock: skipped);
    1 a ticket could not be read (the others are still checked); 2 wrong
    usage; 3 notifications keep failing — an item of the outbox was given
    up, or failed --failing-after attempts in a row — until it is delivered
    (`elinkctl outbox retry`) or dropped (`elinkctl outbox drop KEY`).
    Standing warnings (no holiday data for a year, failing notifications)
    are printed once a day, so cron mails them once, not every run.

    \b
    With --sync, pulls what other clones recorded first (so nobody is
    escalated for an incident resolved on a laptop) and pushes the run's
    commit after; a remote that cannot be reached is a warning, not a
    failure: the check still runs on what this clone has.

    \b
    Example crontab line (every 5 minutes):
      */5 * * * * cd /srv/desk && elinkctl check --sync
    """
    from elinkctl.services.check import CHECK_ACTOR, run_check

    actor = (ctx.actor_given or "").strip() or CHECK_ACTOR
    lease = None
    if sync and not dry_run:
        from elinkctl.services.lease import leased_check

        # Pull only: under the check lease the run's commits leave after its
        # queued notices are published with the lease (docs/sync.md).
        _sync(ctx, actor, push=False)
        # Several cron hosts: only the holder of the check lease acts (docs/sync.md).
        report, lease = leased_check(ctx.store, actor, ctx.now, lambda: _sync(ctx, actor))
        for line in [lease.note(), *lease.warnings]:
            if line:
                echo(line, err=True)
    else:
        report = run_check(ctx.store, actor, ctx.now, dry_run=dry_run)
    if report.busy:
        echo(
            "note: the store is locked by another elinkctl (another check?); "
            "skipped — the next run catches up",
            err=True,
        )
    today = ctx.now.astimezone(ctx.tz).date()
    for warning in report.warnings:
        if not _standing(warning) or daily.due_today(ctx.store.state_dir, warning, today):
            echo(f"warning: {warning}", err=True)
    failing = []
    if failing_after:
        from elinkctl.services.outbox_health import failing as outbox_failing

        failing = outbox_failing(ctx.store, failing_after)
    if failing:
        note = _failing_note(failing)
        if daily.due_today(ctx.store.state_dir, note, today):
            echo(f"error: {note}", err=True)
    for problem in report.broken:
        echo(f"error: {problem} (skipped)", err=True)
    if json_:
        data = report.to_json()
        data["failing_notifications"] = [e.to_dict() for e in failing]
        if lease is not None:
            data.update(lease=lease.to_json(), standby=not lease.acting)
        echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in summary(report):
            echo(line)
        if report.commit:
            echo(report.commit.splitlines()[0], err=True)
        elif dry_run and not report.findings:
            echo("(dry run) nothing is due", err=True)
    if report.broken:
        raise click.ClickException(
            f"{len(report.broken)} ticket(s) could not be checked; run `elinkctl fsck`"
        )
    if failing:
        ctx_exit(CHECK_NOTIFY_FAILING)


def _standing(warning: str) -> bool:
    """A warning true for days on end (a calendar without holiday data for a
    year), shown once a day rather than by every five-minute run."""
    return warning.startswith("sla.yaml: calendar ")


def _failing_note(failing: list[OutboxEntry]) -> str:
    given_up = sum(1 for e in failing if e.state == "failed")
    channels = ", ".join(sorted({e.channel for e in failing}))
    last = next((e.last_error for e in failing if e.last_error), None)
    return (
        f"{len(failing)} notification(s) keep failing ({given_up} given up) via {channels}"
        + (f"; last error: {last}" if last else "")
        + "; see `elinkctl outbox list`, then `outbox retry` or `outbox drop KEY --reason …`"
        " (check exits 3 until then; this note is shown once a day)"
    )


def ctx_exit(code: int) -> None:
    """Leave with ``code`` (click's own exit, so tests and cron see it)."""
    raise click.exceptions.Exit(code)


def _sync(ctx: Context, actor: str, *, push: bool = True) -> None:
    """One sync for `check --sync`: silent when nothing moved, a warning when
    the remote could not be reached (cron mails it; the check goes on)."""
    from elinkctl.services.sync import sync_store

    rep = sync_store(ctx.store, actor, push=push)
    if not rep.ok:
        echo(f"warning: sync: {rep.summary()}", err=True)
    elif rep.status not in ("up-to-date", "no-remote"):
        echo(f"sync: {rep.summary()}", err=True)


def _finding_line(f: Finding) -> str:
    t = f.ticket
    who = "、".join(f.recipients) or "(无人配置 nobody configured)"
    if f.kind == "escalation":
        what = f"{f.after} → {zh(ROLES, f.role)} ({f.role})"
    elif f.is_reminder:
        what = f"{f.kind}, due {f.due_at.strftime('%Y-%m-%d %H:%M')}"
    else:
        assert f.deadline is not None
        what = f"{f.clock} {f.target}, due {f.deadline.strftime('%Y-%m-%d %H:%M')}"
    return f"{KIND_HEAD[f.kind]}: {t.id} {t.priority} {t.title} — {what}: {who}"


def summary(report: CheckReport) -> list[str]:
    """The stdout lines; empty when nothing happened (cron then mails nothing).

    Deliveries still failing on a retry, and rate-limit deferrals, are not
    news (they were reported when they first failed); successes, first
    failures and give-ups are.
    """
    prefix = "(dry run) would record " if report.dry_run else ""
    lines = [prefix + _finding_line(f) for f in report.findings]
    for f, d in report.planned:
        lines.append(
            f"(dry run) would notify {f.ticket.id} via {d.channel}: {', '.join(d.recipients)}"
        )
    sent = [r for r in report.notifications if r.ok]
    failed = [
        r
        for r in report.notifications
        if not r.ok and not r.deferred and (r.attempts <= 1 or r.gave_up)
    ]
    if sent or failed:
        parts = [f"{len(sent)} sent"]
        if failed:
            parts.append(f"{len(failed)} failed (kept for retry)")
        lines.append(f"通知 notifications: {', '.join(parts)}")
        for r in failed:
            lines.append(f"  {r.ticket} via {r.channel}: {r.error}")
    return lines
