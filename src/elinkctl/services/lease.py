"""The check lease: `check --sync` on several hosts, exactly one of them acting.

The outbox and the escalation clock used to live on the one clone that ran
`check`; when that host died, nobody was escalated. Now every cron host runs
``check --sync`` against the shared remote, and a lease held *through the
remote* (`elinkctl.store.lease`: one ref, moved by compare-and-swap) decides
which of them escalates and notifies:

- every host syncs (pulls, and pushes what it has);
- the host whose lease it is renews it (``expires = now + expires_after``,
  escalation.yaml ``check_lease: {expires_after: 15m}``, three cron intervals
  of 5 minutes by default) and runs the check;
- a host that finds the lease held by another, unexpired, stands by: it
  records and sends nothing, and says so;
- a lease not renewed by ``expires`` (its holder died, or lost the network)
  is taken over by the next host that runs. Time is ``now`` (ELINKCTL_NOW).

No notice twice across a takeover. Outbox keys are derived from the event
(``ticket/kind/cell@channel``, `elinkctl.domain.findings.Finding.event_key`),
and a finding whose event is in the pulled history is not found again, so a
taker never queues what the holder recorded and pushed. What it cannot see
in the history is the holder's *outbox*: so every lease write carries a
snapshot of it (``outbox.json``: keys delivered in the last days, items
still pending), and a host that takes the lease imports it before it runs:
delivered keys become delivered markers in its outbox (never sent again
here), pending items are queued here (sent by the new holder). The holder
publishes the snapshot three times in a run that has news: when it takes
or renews the lease, after the run's commit and *before* pushing it (so a
recorded event never reaches the remote without its queued notices), and
after the flush (what was delivered).

Guarantee: at least once. A holder killed between a delivery and the
publication after its flush leaves that item listed as pending; the taker
sends it again (once). A holder stalled longer than ``expires_after`` in
the middle of a run (not dead) can overlap with its taker for that run.
Nothing else is repeated, and nothing queued is lost: see docs/sync.md.

No remote configured (a one-clone store), or `check` without ``--sync``:
no lease, today's behaviour.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from elinkctl.errors import ConfigError, StoreError, UsageProblem
from elinkctl.fsio import atomic_write, atomic_write_json
from elinkctl.services.lease_outbox import import_snapshot, snapshot_of
from elinkctl.store.lease import (
    SEEN_REF,
    lease_remote,
    push_lease,
    read_lease,
    write_lease,
)
from elinkctl.store.lock import StoreLock
from elinkctl.store.store import Store
from elinkctl.timeutil import as_time, iso, parse_duration

if TYPE_CHECKING:
    from elinkctl.notify import Outbox
    from elinkctl.services.check import CheckReport

CONFIG_KEY = "check_lease"
DEFAULT_EXPIRES_AFTER = dt.timedelta(minutes=15)
MIN_EXPIRES_AFTER = dt.timedelta(minutes=1)
MAX_ATTEMPTS = 4
HOST_ID_FILE = "host-id"
STATE_FILE = "lease-state.json"
LOCK_FILE = "lease.lock"
_HOST_RE = re.compile(r"[^A-Za-z0-9._-]+")

# Statuses of `LeaseReport.status`.
NONE = "none"  # no remote: no lease needed
HELD = "held"  # renewed by its holder
TAKEN = "taken"  # taken: the first lease, or over from a holder that stopped renewing
STANDBY = "standby"  # another host holds it
UNCONFIRMED = "unconfirmed"  # remote unreachable; acting on this clone's last knowledge
ACTING = (NONE, HELD, TAKEN, UNCONFIRMED)


def expires_after(config: Any) -> dt.timedelta:
    """escalation.yaml ``check_lease: {expires_after: 15m}``; ConfigError with file and line."""
    from elinkctl.services.validators import locate

    section = config.escalation.data.get(CONFIG_KEY)
    if section is None:
        return DEFAULT_EXPIRES_AFTER
    if not isinstance(section, Mapping) or set(section) - {"expires_after"}:
        raise ConfigError(
            locate(config.escalation, f"{CONFIG_KEY}: must be {{expires_after: DURATION}}")
        )
    value = section.get("expires_after", "15m")
    try:
        ttl = parse_duration(value)
    except UsageProblem:
        ttl = dt.timedelta(0)
    if ttl < MIN_EXPIRES_AFTER or ttl > dt.timedelta(days=7):
        raise ConfigError(
            locate(
                config.escalation,
                f"{CONFIG_KEY}.expires_after: {value!r} is not a duration from 1m to 7d "
                "(e.g. 15m: three cron intervals)",
            )
        )
    return ttl


def host_id(store: Store) -> str:
    """This clone's stable id (``.git/elinkctl/host-id``, made once): the lease's holder.

    Per clone, not per machine: two clones on one machine are two hosts. A
    clone copied with its ``.git`` shares the id; delete the file in the copy.
    """
    path = store.state_dir / HOST_ID_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    if re.fullmatch(r"[A-Za-z0-9._-]{1,80}", text):
        return text
    name = _HOST_RE.sub("-", socket.gethostname()).strip("-.")[:40] or "host"
    text = f"{name}-{secrets.token_hex(4)}"
    try:
        atomic_write(path, text + "\n")
    except OSError as exc:
        # An id not kept would change every run: the host could never renew.
        raise StoreError(f"{path}: cannot keep this clone's host id: {exc.strerror}") from None
    return text


@dataclasses.dataclass
class LeaseReport:
    """Where this host stands; the ``lease`` object of ``check --json``."""

    status: str
    host: str = ""
    holder: str = ""
    expires: str = ""
    seq: int = 0
    previous: str = ""
    """The holder a takeover took the lease from."""
    imported: int = 0
    """Keys and items imported from the previous holder's outbox snapshot."""
    lost: bool = False
    """The lease moved to another host before this run could publish its result."""
    message: str = ""
    changed: bool = False
    """This host's role differs from its previous run's (worth a line on stderr)."""
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def acting(self) -> bool:
        return self.status in ACTING

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "acting": self.acting,
            "host": self.host,
            "holder": self.holder,
            "expires": self.expires,
            "seq": self.seq,
            "previous": self.previous,
            "imported": self.imported,
            "lost": self.lost,
            "message": self.message,
        }

    def note(self) -> str | None:
        """The stderr line, or None when nothing is worth telling cron."""
        if self.status == TAKEN:
            if self.previous:
                return (
                    f"check lease: taken over from {self.previous} (it stopped renewing); "
                    f"this host ({self.host}) escalates and notifies now"
                )
            return f"check lease: this host ({self.host}) holds the check lease now"
        if self.status == STANDBY and self.changed:
            return (
                f"check lease: standby — {self.holder} holds the check lease until "
                f"{self.expires}; this host synced and escalated or notified nothing"
            )
        if self.status == UNCONFIRMED:
            return f"warning: check lease: {self.message}"
        if self.status == STANDBY and self.message:
            return f"check lease: standby — {self.message}"
        return None


class CheckLease:
    """The lease as one `check --sync` run uses it: `acquire`, then `publish`."""

    def __init__(self, store: Store, now: dt.datetime) -> None:
        self.store = store
        self.now = now
        self.host = host_id(store)
        self.remote: str | None = None
        self._base: str | None = None  # the lease commit this run last wrote
        self._record: dict[str, Any] = {}
        self._outbox_data: dict[str, Any] = {}
        self._ttl = DEFAULT_EXPIRES_AFTER

    @property
    def outbox(self) -> Outbox:
        from elinkctl.notify import Outbox

        return Outbox(self.store.state_dir / "outbox")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One lease read-and-write at a time in this clone (two overlapping
        cron runs); a ref lock that a killed git left on the local copy of
        the lease is stale once we hold this."""
        lock = StoreLock(self.store.state_dir / LOCK_FILE, timeout=30.0)
        lock.acquire()
        try:
            stale = self.store.state_dir.parent / f"{SEEN_REF}.lock"
            if stale.exists():
                time.sleep(0.2)  # a git child of a killed run may still be finishing
                stale.unlink(missing_ok=True)
            yield
        finally:
            lock.release()

    # --- taking or renewing ---------------------------------------------------

    def acquire(self) -> LeaseReport:
        """Renew or take the lease, or stand by; imports a previous holder's outbox."""
        git = self.store.git
        self.remote = lease_remote(git)
        if self.remote is None:
            return LeaseReport(NONE, host=self.host, message="no remote: no lease needed")
        self._ttl = expires_after(self.store.config)
        with self._locked():
            return self._acquire()

    def _acquire(self) -> LeaseReport:
        git = self.store.git
        assert self.remote is not None
        for _ in range(MAX_ATTEMPTS):
            seen = read_lease(git, self.remote)
            if isinstance(seen, str):
                return self._unreachable(seen)
            holder = str(seen.record.get("holder") or "")
            expires = as_time(seen.record.get("expires"))
            if (
                seen.commit
                and not seen.problem
                and holder != self.host
                and expires is not None
                and expires > self.now
            ):
                report = LeaseReport(
                    STANDBY,
                    host=self.host,
                    holder=holder,
                    expires=iso(expires),
                    seq=_int(seen.record.get("seq")),
                )
                return self._remember(report)
            mine = bool(seen.commit) and not seen.problem and holder == self.host
            seq = _int(seen.record.get("seq")) + 1
            expiry = iso(self.now + self._ttl)
            record: dict[str, Any] = {
                "schema": 1,
                "holder": self.host,
                "seq": seq,
                "acquired_at": str(seen.record.get("acquired_at") or "") if mine else iso(self.now),
                "renewed_at": iso(self.now),
                "expires": expiry,
                "expires_after_seconds": int(self._ttl.total_seconds()),
                "previous": str(seen.record.get("previous") or "") if mine else holder,
            }
            snapshot = snapshot_of(self.outbox, seen.outbox, (), self.now)
            verb = "renewed" if mine else "taken"
            commit = write_lease(git, record, snapshot, f"check lease {verb} by {self.host}")
            pushed = push_lease(git, self.remote, commit, seen.commit)
            if pushed.status == "moved":
                continue
            if pushed.status != "ok":
                return self._unreachable(pushed.message)
            self._base, self._record, self._outbox_data = commit, record, snapshot
            report = LeaseReport(
                HELD if mine else TAKEN,
                host=self.host,
                holder=self.host,
                expires=expiry,
                seq=seq,
                previous="" if mine else holder,
            )
            if seen.problem:
                report.warnings.append(f"check lease: {seen.problem}; taken over, nothing imported")
            report.imported = import_snapshot(
                self.store, self.outbox, seen.outbox, self.now, report.warnings
            )
            return self._remember(report)
        report = LeaseReport(
            STANDBY,
            host=self.host,
            message="other hosts kept writing the lease first; the next run tries again",
        )
        return self._remember(report)

    def _unreachable(self, why: str) -> LeaseReport:
        """The remote cannot be read or written: act only if this host held the
        lease last (when the remote is down for everyone, the last holder goes on)."""
        last = self._last_state()
        if not last or last.get("holder") == self.host:
            return LeaseReport(
                UNCONFIRMED,
                host=self.host,
                holder=self.host,
                message=f"{why}; this host held the lease last, so it checks alone",
            )
        return LeaseReport(
            STANDBY,
            host=self.host,
            holder=str(last.get("holder") or ""),
            expires=str(last.get("expires") or ""),
            message=f"{why}; {last.get('holder')} held the lease last",
        )

    # --- publishing -----------------------------------------------------------

    def publish(self, delivered: Sequence[Any] = ()) -> str:
        """Write the lease again with this clone's outbox (plus ``delivered``,
        `DeliveryResult`s of this run): ``ok``; ``moved`` when another host
        took the lease meanwhile (this run was too slow); ``offline`` or
        ``refused`` when the remote could not be written."""
        if self.remote is None or self._base is None:
            return "offline"
        git = self.store.git
        record = dict(self._record)
        record.update(
            seq=_int(record.get("seq")) + 1,
            renewed_at=iso(self.now),
            expires=iso(self.now + self._ttl),
        )
        snapshot = snapshot_of(self.outbox, self._outbox_data, delivered, self.now)
        commit = write_lease(git, record, snapshot, f"check lease renewed by {self.host}")
        with self._locked():
            pushed = push_lease(git, self.remote, commit, self._base)
        if pushed.status != "ok":
            return pushed.status
        self._base, self._record, self._outbox_data = commit, record, snapshot
        return "ok"

    # --- this clone's memory of the lease ---------------------------------------

    def _last_state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.store.state_dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _remember(self, report: LeaseReport) -> LeaseReport:
        last = self._last_state()
        role = "acting" if report.acting else "standby"
        report.changed = last.get("role") != role or last.get("holder") != report.holder
        state = {
            "role": role,
            "holder": report.holder,
            "expires": report.expires,
            "seq": report.seq,
            "at": iso(self.now),
        }
        try:
            atomic_write_json(self.store.state_dir / STATE_FILE, state)
        except OSError:
            pass  # only the offline fallback and the change note read it
        return report


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# --- one `check --sync` run under the lease ------------------------------------------


def leased_check(
    store: Store,
    actor: str,
    now: dt.datetime,
    push: Callable[[], None],
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[CheckReport, LeaseReport]:
    """`check --sync` after its pull: acquire, check, publish, push, send, publish.

    ``push`` is the caller's sync (the caller pulled without pushing). A
    standby host returns an empty report. Without a remote, the old `check
    --sync`.
    """
    from elinkctl.services.check import CheckReport, flush, load_rules, outbox_for, run_check

    lease = CheckLease(store, now)
    state = lease.acquire()
    if not state.acting:
        if _ahead(store, lease.remote):
            push()  # what a person committed on this host still leaves
        return CheckReport(), state
    if state.status in (NONE, UNCONFIRMED):
        report = run_check(store, actor, now, env=env)
        if report.commit:
            push()
        return report, state
    report = run_check(store, actor, now, env=env, send=False)
    # The run's records leave only after the notices they queued are on the
    # remote with the lease: a taker then has both, or neither (and finds the
    # levels due again itself).
    published = lease.publish() if report.commit else "ok"
    if published == "moved":
        state.lost = True
    if published in ("ok", "moved"):
        if report.commit or _ahead(store, lease.remote):
            push()
    else:
        state.warnings.append(
            "check lease: the lease could not be written; this run's commit is pushed by "
            "the next run, after the notices it queued are published"
        )
    if _has_pending(store):
        rules = load_rules(store.config)
        report.notifications = flush(
            outbox_for(store), rules, now, env, store=store, drop_uncommitted=False
        )
        if report.notifications and lease.publish(report.notifications) == "moved":
            state.lost = True
    if state.lost:
        state.warnings.append(
            "check lease: another host took the lease during this run (this run took longer "
            f"than {CONFIG_KEY}.expires_after); it finished its own work, the next run stands by"
        )
    return report, state


def _ahead(store: Store, remote: str | None) -> bool:
    """Whether this clone has commits the remote branch lacks (True when unsure)."""
    git = store.git
    rc, branch, _ = git.try_run("symbolic-ref", "--short", "-q", "HEAD")
    if remote is None or rc != 0 or not branch:
        return remote is not None
    rc, count, _ = git.try_run("rev-list", "--count", f"refs/remotes/{remote}/{branch}..HEAD")
    return rc != 0 or count.strip() != "0"


def _has_pending(store: Store) -> bool:
    pending = store.state_dir / "outbox" / "pending"
    try:
        return any(pending.iterdir())
    except OSError:
        return False
