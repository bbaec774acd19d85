"""The procedure's KPIs (DESIGN §5): per-ticket facts, then an aggregation.

Two pure steps, split so that a cache can sit between them:

1. `ticket_facts` reduces one ticket to a small, JSON-serialisable dict.
   It does **not** depend on "now": everything in it follows from the
   events alone. A SQLite index can therefore store it per ticket and only
   recompute it when the ticket file changes.
2. `aggregate` folds any iterable of facts into a `StatsResult` as of
   ``now``. Only here is an open incident judged: late once its deadline has
   passed, pending before. The fold keeps counters and one float per
   measured duration, so 100,000 tickets stay well inside memory.

The rules (printed by ``stats --explain``, `RULES`) are the ones of
`elinkctl.domain.sla` — the same clocks `check` uses, so a ticket `check`
reported as breached is never counted timely here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from elinkctl.domain import kbdecision, vendor
from elinkctl.domain.durations import Durations
from elinkctl.domain.model import OPEN_STATUSES, Status, Ticket
from elinkctl.domain.sla import LATE, PENDING, TIMELY, SlaRules, clocks

Facts = dict[str, Any]
"""One ticket reduced to what the KPIs need (see `ticket_facts`)."""

FACTS_VERSION = 3
"""Bump when the shape or meaning of `ticket_facts` changes: caches must rebuild."""

_OPEN = frozenset(str(s) for s in OPEN_STATUSES)
EXCLUDED_STATUSES = frozenset({str(Status.REJECTED), str(Status.REDIRECTED)})
FALSE_ALARM = "false-alarm"
DIMENSIONS = tuple("priority type system tier assignee source month week security".split())
NONE_KEY = "(none)"
BACKLOG_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1d", 1.0),
    ("1-3d", 3.0),
    ("3-7d", 7.0),
    ("7-30d", 30.0),
    (">30d", math.inf),
)
"""Age of open incidents (wall time since reported, in days): upper bounds."""

RULES = """\
What counts (事件及时响应率 / 事件及时解决率), and why:
- Each rate = timely / (timely + late). Pending incidents (still inside their
  deadline) are shown but are neither: they have not succeeded or failed yet.
- An incident belongs to the period in which it was reported (opened_at; for a
  backfilled 先处理后补单 incident its true start). --since/--until and
  --by month/week select on that date.
- Both clocks start when the incident was reported and run on the calendar of
  its priority (sla.yaml targets.Pn.calendar): 24x7 counts every minute,
  business counts only working hours on working days.
- Response: the first accept, contact or resolve event. The response clock
  never pauses. Timely when the counted time up to it is within the target.
- Resolution: the last resolve of an incident that is resolved or closed now.
  A reopened incident is measured to its last resolution; the time it looked
  resolved counts. The clock pauses while the status is one of
  pause_statuses (default: pending), so waiting on the customer or a vendor
  is not counted. Timely when the counted time is within the target.
- An incident not yet responded to / resolved is late once its deadline has
  passed and pending before. While it is paused with the target not yet used
  up it stays pending (its deadline is unknown until it resumes).
- Rejected (out of scope) and redirected (change / requirement) incidents are
  not incidents the desk had to handle: they are excluded from both rates and
  reported as excluded with their counts. Rejections with reason
  'false-alarm' (or 'false-alarm: …') are also counted as false alarms per
  source and per system.
- Incidents still in new or pm_review are counted like any open incident.
- MTTA = median / 90th percentile of wall time from reported to the response;
  MTTR = the same from reported to the last resolution, wall time including
  paused time: what the user lived through. (The SLA rates above use the
  counted calendar time instead; --json also gives that as mtta_sla/mttr_sla.)
  Percentiles are nearest-rank; excluded incidents are not in them.
- Backlog: incidents open now, by wall-clock age since reported.
- Reopen rate = incidents reopened at least once / incidents resolved at least
  once. Complaints, callbacks, escalations and KB reuse count every incident,
  excluded ones too (a rejected user can still complain).
- Satisfaction: the last callback's score (1-5) of each incident; mean and count.
- Escalations reached: incidents that reached each role of the escalation
  matrix (管理升级 recorded by `check`).
- KB reuse: incidents resolved with each knowledge-base article (resolve --kb).
"""


# --- step 1: per-ticket facts -------------------------------------------------------


def _iso(value: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def _seconds(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


def is_false_alarm(reason: object) -> bool:
    """``false-alarm`` exactly, or followed by ``:``/space and details; case-insensitive."""
    text = str(reason or "").strip().lower()
    if not text.startswith(FALSE_ALARM):
        return False
    rest = text[len(FALSE_ALARM) :]
    return not rest or rest[0] in ": ，,;；"


def ticket_facts(ticket: Ticket, rules: SlaRules) -> Facts:
    """Everything the KPIs need from one ticket, independent of "now".

    Clock outcomes are stored only for clocks that have stopped (responded,
    resolved); for running clocks the deadline is stored and `aggregate`
    compares it with its own ``now``. A deadline is ``None`` when an open
    pause stopped the clock before the target was used up.
    """
    s = ticket.state
    tz = rules.tz
    # Any instant at or after the last event gives the same deadlines and
    # stopped-clock outcomes; the running clocks' "used" time is not stored.
    last = max(e.at for e in ticket.events)
    response, resolution = clocks(ticket, rules, last)
    opened_local = s.opened_at.astimezone(tz)
    iso_year, iso_week, _ = opened_local.isocalendar()
    roles: list[str] = []
    kb: list[str] = []
    resolutions = 0
    reject_reason: str | None = None
    redirect_to: str | None = None
    for ev in ticket.events:
        if ev.type == "escalation":
            role = str(ev.get("role"))
            if role not in roles:
                roles.append(role)
        elif ev.type == "resolved":
            resolutions += 1
            ref = ev.get("kb")
            if ref and str(ref) not in kb:
                kb.append(str(ref))
        elif ev.type == "rejected":
            reject_reason = str(ev.get("reason") or "")
        elif ev.type == "redirected":
            redirect_to = str(ev.get("to") or "")
    paused = sum((b - a).total_seconds() for a, b in s.pauses if b is not None)
    fields = ticket.fields
    return {
        "v": FACTS_VERSION,
        "id": ticket.id,
        "status": str(s.status),
        "priority": ticket.priority or None,
        "type": ticket.type or None,
        "system": fields.get("system"),
        "tier": s.tier,
        "assignee": vendor.credited_assignee(ticket),  # never a vendor: see `vendors`
        "source": fields.get("source"),
        "key_user": bool(fields.get("key_user")),
        "security": bool(fields.get("security")),
        "opened_at": opened_local.isoformat(),
        "month": opened_local.strftime("%Y-%m"),
        "week": f"{iso_year}-W{iso_week:02d}",
        "responded_at": _iso(s.responded_at, tz),
        "resolved_at": _iso(resolution.done_at, tz),
        "closed_at": _iso(s.closed_at, tz),
        "calendar": response.calendar,
        "response_deadline": _iso(response.deadline, tz),
        "resolution_deadline": _iso(resolution.deadline, tz),
        "response_outcome": response.outcome if response.done_at else None,
        "resolution_outcome": resolution.outcome if resolution.done_at else None,
        "response_sla_s": response.used.total_seconds() if response.done_at else None,
        "resolution_sla_s": resolution.used.total_seconds() if resolution.done_at else None,
        "response_wall_s": _seconds(s.opened_at, s.responded_at),
        "resolution_wall_s": _seconds(s.opened_at, resolution.done_at),
        "paused_s": paused,
        "resolutions": resolutions,
        "reopened": s.reopened,
        "complaints": s.complaints,
        "satisfaction": s.satisfaction,
        "callback": s.callback_at is not None,
        "escalations": roles,
        "kb": kb,
        "reject_reason": reject_reason,
        "redirect_to": redirect_to,
        "kb_decision": kbdecision.kind_of(s.kb_decision),
        "vendors": vendor.facts(ticket.events, tz),
    }


# --- step 2: aggregation ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KpiTargets:
    """The procedure's promise (sla.yaml ``kpi``) and, for display, the SLA targets."""

    response: float = 0.9
    resolution: float = 0.9
    sla: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_rules(cls, rules: SlaRules) -> KpiTargets:
        sla = {
            prio: {
                "response": t.response_text,
                "resolution": t.resolution_text,
                "calendar": t.calendar.name,
            }
            for prio, t in sorted(rules.targets.items())
        }
        return cls(rules.kpi_response, rules.kpi_resolution, sla)

    def to_json(self) -> dict[str, Any]:
        return {
            "response_rate": self.response,
            "resolution_rate": self.resolution,
            "sla": {k: dict(v) for k, v in self.sla.items()},
        }


@dataclasses.dataclass
class RateCount:
    """Timely / late / pending of one clock; the rate ignores pending."""

    timely: int = 0
    late: int = 0
    pending: int = 0

    def add(self, outcome: str) -> None:
        if outcome == TIMELY:
            self.timely += 1
        elif outcome == LATE:
            self.late += 1
        else:
            self.pending += 1

    @property
    def rate(self) -> float | None:
        decided = self.timely + self.late
        return self.timely / decided if decided else None

    def below(self, target: float) -> bool:
        rate = self.rate
        return rate is not None and rate < target

    def to_json(self) -> dict[str, Any]:
        return {
            "timely": self.timely,
            "late": self.late,
            "pending": self.pending,
            "rate": self.rate,
        }


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _outcome(done: str | None, deadline: str | None, now: dt.datetime) -> str:
    """A stopped clock keeps its outcome; a running one is late past its deadline."""
    if done:
        return done
    due = _parse(deadline)
    if due is not None and now >= due:
        return LATE
    return PENDING


def _bucket(age_days: float) -> str:
    for name, upper in BACKLOG_BUCKETS:
        if age_days < upper:
            return name
    return BACKLOG_BUCKETS[-1][0]


@dataclasses.dataclass
class Summary:
    """Every KPI of one group of incidents (or of all of them)."""

    total: int = 0
    response: RateCount = dataclasses.field(default_factory=RateCount)
    resolution: RateCount = dataclasses.field(default_factory=RateCount)
    excluded: Counter[str] = dataclasses.field(default_factory=Counter)
    by_status: Counter[str] = dataclasses.field(default_factory=Counter)
    by_type: Counter[str] = dataclasses.field(default_factory=Counter)
    by_priority: Counter[str] = dataclasses.field(default_factory=Counter)
    mtta: Durations = dataclasses.field(default_factory=Durations)
    mttr: Durations = dataclasses.field(default_factory=Durations)
    mtta_sla: Durations = dataclasses.field(default_factory=Durations)
    mttr_sla: Durations = dataclasses.field(default_factory=Durations)
    backlog: Counter[str] = dataclasses.field(default_factory=Counter)
    resolved_once: int = 0
    reopened: int = 0
    complaints: int = 0
    complained_incidents: int = 0
    satisfaction_sum: int = 0
    satisfaction_count: int = 0
    callbacks: int = 0
    escalations: Counter[str] = dataclasses.field(default_factory=Counter)
    false_alarms: int = 0
    false_alarms_by_source: Counter[str] = dataclasses.field(default_factory=Counter)
    false_alarms_by_system: Counter[str] = dataclasses.field(default_factory=Counter)
    kb: Counter[str] = dataclasses.field(default_factory=Counter)
    kb_decisions: kbdecision.Coverage = dataclasses.field(default_factory=kbdecision.Coverage)
    vendors: vendor.VendorTally = dataclasses.field(default_factory=vendor.VendorTally)

    @property
    def counted(self) -> int:
        return self.total - sum(self.excluded.values())

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.resolved_once if self.resolved_once else None

    @property
    def satisfaction_mean(self) -> float | None:
        if not self.satisfaction_count:
            return None
        return self.satisfaction_sum / self.satisfaction_count

    def merge(self, other: Summary) -> None:
        """Add ``other``'s incidents to these: folding two halves and merging
        them gives exactly the fold of the whole (every field is a count, a
        counter or a bag of durations; no order matters)."""
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, int):
                setattr(self, field.name, mine + theirs)
            elif isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, RateCount):
                mine.timely += theirs.timely
                mine.late += theirs.late
                mine.pending += theirs.pending
            elif isinstance(mine, Durations):
                mine.values.extend(theirs.values)
            elif isinstance(mine, vendor.VendorTally | kbdecision.Coverage):
                mine.merge(theirs)
            else:  # pragma: no cover - a new field needs a rule here
                raise TypeError(f"Summary.merge: no rule for {field.name}")

    def settle(self) -> None:
        """Sort every bag of durations (`Durations.settle`): for a fold that is
        cached and merged on every run."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Durations):
                value.settle()

    def add(self, f: Facts, now: dt.datetime) -> None:
        self.total += 1
        status = str(f.get("status"))
        self.by_status[status] += 1
        self.by_type[str(f.get("type") or NONE_KEY)] += 1
        self.by_priority[str(f.get("priority") or NONE_KEY)] += 1
        self.complaints += int(f.get("complaints") or 0)
        if f.get("complaints"):
            self.complained_incidents += 1
        if f.get("callback"):
            self.callbacks += 1
        if f.get("satisfaction") is not None:
            self.satisfaction_sum += int(f["satisfaction"])
            self.satisfaction_count += 1
        for role in f.get("escalations") or ():
            self.escalations[str(role)] += 1
        for ref in f.get("kb") or ():
            self.kb[str(ref)] += 1
        self.kb_decisions.add(f)
        self.vendors.add(f.get("vendors"), now)
        if status in EXCLUDED_STATUSES:
            self.excluded[status] += 1
            if status == str(Status.REJECTED) and is_false_alarm(f.get("reject_reason")):
                self.false_alarms += 1
                self.false_alarms_by_source[str(f.get("source") or NONE_KEY)] += 1
                self.false_alarms_by_system[str(f.get("system") or NONE_KEY)] += 1
            return
        self.response.add(_outcome(f.get("response_outcome"), f.get("response_deadline"), now))
        self.resolution.add(
            _outcome(f.get("resolution_outcome"), f.get("resolution_deadline"), now)
        )
        self.mtta.add(f.get("response_wall_s"))
        self.mttr.add(f.get("resolution_wall_s"))
        self.mtta_sla.add(f.get("response_sla_s"))
        self.mttr_sla.add(f.get("resolution_sla_s"))
        if f.get("resolutions"):
            self.resolved_once += 1
            if f.get("reopened"):
                self.reopened += 1
        if status in _OPEN:
            opened = dt.datetime.fromisoformat(str(f["opened_at"]))
            self.backlog[_bucket((now - opened).total_seconds() / 86400)] += 1

    def to_json(self, targets: KpiTargets) -> dict[str, Any]:
        return {
            "total": self.total,
            "counted": self.counted,
            "excluded": {
                "rejected": self.excluded.get("rejected", 0),
                "redirected": self.excluded.get("redirected", 0),
            },
            "response": {
                **self.response.to_json(),
                "below_target": self.response.below(targets.response),
            },
            "resolution": {
                **self.resolution.to_json(),
                "below_target": self.resolution.below(targets.resolution),
            },
            "by_status": dict(sorted(self.by_status.items())),
            "by_type": dict(sorted(self.by_type.items())),
            "by_priority": dict(sorted(self.by_priority.items())),
            "mtta": self.mtta.summary(),
            "mttr": self.mttr.summary(),
            "mtta_sla": self.mtta_sla.summary(),
            "mttr_sla": self.mttr_sla.summary(),
            "backlog": {name: self.backlog.get(name, 0) for name, _ in BACKLOG_BUCKETS},
            "reopen": {
                "reopened": self.reopened,
                "resolved": self.resolved_once,
                "rate": self.reopen_rate,
            },
            "complaints": {"count": self.complaints, "incidents": self.complained_incidents},
            "satisfaction": {
                "mean": self.satisfaction_mean,
                "count": self.satisfaction_count,
                "callbacks": self.callbacks,
            },
            "escalations": dict(sorted(self.escalations.items())),
            "false_alarms": {
                "count": self.false_alarms,
                "by_source": dict(sorted(self.false_alarms_by_source.items())),
                "by_system": dict(sorted(self.false_alarms_by_system.items())),
            },
            "kb_reuse": dict(sorted(self.kb.items(), key=lambda kv: (-kv[1], kv[0]))),
            "kb_decisions": self.kb_decisions.to_json(),
            "vendors": self.vendors.to_json(),
        }


def group_key(f: Facts, dim: str) -> str:
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}")
    value = f.get(dim)
    if isinstance(value, bool):  # a flag (security): yes / no
        return "yes" if value else "no"
    return str(value) if value not in (None, "") else NONE_KEY


@dataclasses.dataclass
class StatsResult:
    """The KPIs overall and per group of each requested dimension."""

    now: dt.datetime
    targets: KpiTargets
    overall: Summary
    by: str | None
    groups: dict[str, dict[str, Summary]]
    years: set[int]
    """Years incidents were reported in: callers warn when holiday data lacks one."""

    def by_groups(self, dim: str | None = None) -> dict[str, Summary]:
        """The groups of ``dim`` (default: the ``--by`` one), in natural order."""
        key = dim or self.by
        if key is None:
            return {}
        groups = self.groups.get(key, {})
        return {k: groups[k] for k in sorted(groups, key=lambda k: (k == NONE_KEY, k))}

    def to_json(self) -> dict[str, Any]:
        """``stats --json`` (DESIGN §8); ``by`` only when a dimension was asked for."""
        out: dict[str, Any] = {"now": self.now.isoformat()}
        out.update(self.overall.to_json(self.targets))
        out["targets"] = self.targets.to_json()
        if self.by is not None:
            out["by_dimension"] = self.by
            out["by"] = {k: s.to_json(self.targets) for k, s in self.by_groups().items()}
        return out


NOW_FREE = dt.datetime.min.replace(tzinfo=dt.UTC)
"""`now_free_after` of facts with no deadline left to pass."""


def now_free_after(f: Facts) -> dt.datetime | None:
    """The moment from which `Summary.add` gives the same numbers for these
    facts whatever ``now`` is, or None while they need "now" for ever.

    An open incident needs it for ever (its backlog age). A settled one
    needs it only for deadlines without their event (a vendor's due time
    with no reply, a clock that never stopped): once the last has passed,
    each is late for good. Everything else is `NOW_FREE`: a cache may keep
    it folded (`Partial`). At 300,000 incidents ~7,000 closed ones carry an
    unanswered vendor due time; a cache (the month folds of `stats`) may
    fold them once for every ``now`` from this moment on instead of folding
    them afresh on every run.
    """
    status = str(f.get("status"))
    excluded = status in EXCLUDED_STATUSES
    if status in _OPEN and not excluded:
        return None
    deadlines = [
        str(e["due"]) for e in f.get("vendors") or () if e.get("due") and not e.get("replied_at")
    ]
    if not excluded:
        for outcome, deadline in (
            ("response_outcome", "response_deadline"),
            ("resolution_outcome", "resolution_deadline"),
        ):
            if not f.get(outcome) and f.get(deadline):
                deadlines.append(str(f[deadline]))
    return max((dt.datetime.fromisoformat(d) for d in deadlines), default=NOW_FREE)


def check_dimensions(dims: Sequence[str]) -> None:
    for dim in dims:
        if dim not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dim!r}; expected one of {', '.join(DIMENSIONS)}")


def dimensions(by: str | None, also: Sequence[str] = ()) -> tuple[str, ...]:
    """The dimensions one pass must group by: ``by``, then ``also``, no repeats."""
    dims = tuple(dict.fromkeys([*([by] if by else []), *also]))
    check_dimensions(dims)
    return dims


@dataclasses.dataclass
class Partial:
    """The fold of some incidents: mergeable, so parts of a store can be folded
    separately (and cached) and combined into the same `StatsResult` as one pass."""

    dims: tuple[str, ...]
    overall: Summary = dataclasses.field(default_factory=Summary)
    groups: dict[str, dict[str, Summary]] = dataclasses.field(default_factory=dict)
    years: set[int] = dataclasses.field(default_factory=set)

    def add(self, f: Facts, now: dt.datetime) -> None:
        self.overall.add(f, now)
        self.years.add(int(str(f["opened_at"])[:4]))
        for dim in self.dims:
            groups = self.groups.setdefault(dim, {})
            key = group_key(f, dim)
            bucket = groups.get(key)
            if bucket is None:
                bucket = groups[key] = Summary()
            bucket.add(f, now)

    def merge(self, other: Partial) -> None:
        if other.dims != self.dims:
            raise ValueError("cannot merge folds grouped by different dimensions")
        self.overall.merge(other.overall)
        self.years |= other.years
        for dim, theirs in other.groups.items():
            mine = self.groups.setdefault(dim, {})
            for key, summary in theirs.items():
                if key in mine:
                    mine[key].merge(summary)
                else:
                    mine[key] = summary

    def settle(self) -> None:
        """`Summary.settle` every summary: before caching this fold."""
        self.overall.settle()
        for groups in self.groups.values():
            for summary in groups.values():
                summary.settle()

    def result(self, now: dt.datetime, by: str | None, targets: KpiTargets | None) -> StatsResult:
        groups = {dim: self.groups.get(dim, {}) for dim in self.dims}
        return StatsResult(now, targets or KpiTargets(), self.overall, by, groups, self.years)


def aggregate(
    facts: Iterable[Facts],
    now: dt.datetime,
    by: str | None = None,
    targets: KpiTargets | None = None,
    also: Sequence[str] = (),
) -> StatsResult:
    """Fold facts into the KPIs as of ``now``, in one pass.

    ``by`` is the dimension the user asked for; ``also`` are more dimensions
    computed in the same pass (the HTML report needs months whatever --by
    says) — a stream of facts can be read only once.
    """
    fold = Partial(dimensions(by, also))
    for f in facts:
        fold.add(f, now)
    return fold.result(now, by, targets)
