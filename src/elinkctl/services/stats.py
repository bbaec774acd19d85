"""`stats`: where the KPI facts come from, and how the result is shaped.

`load_facts` streams every ticket's `kpi.ticket_facts`, cached per ticket
in the index (or parsed from the files without one). Everything after it —
filtering, aggregation, output — works on facts only, so every source gives
identical numbers.

At 100,000 tickets decoding and folding every ticket's facts is seconds, so
`stats_of_store` also caches folds: one `kpi.Partial` per month directory
and query (filters, dimensions, facts version) of its settled (not open)
tickets, whose numbers do not depend on "now" (the settled ones that do
until a deadline has passed, `kpi.now_free_after`, are kept as facts in it
until then; the fold remembers from when it holds). Open tickets are read
and folded afresh each run. A warm run merges a few dozen cached folds plus the
open tickets; a pull refolds only the months whose settled tickets changed.
How facts and folds are stored and validated is the cache layer's
(`elinkctl.cache.facts`, `elinkctl.cache.folds`); this module decides what
is computed and folded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from elinkctl.domain import kpi
from elinkctl.domain.model import OPEN_STATUSES
from elinkctl.domain.sla import SlaRules
from elinkctl.errors import TicketError

if TYPE_CHECKING:
    from elinkctl.cache.facts import Facts
    from elinkctl.cache.index import Index
    from elinkctl.config import Config
    from elinkctl.domain.selection import TicketFilter
    from elinkctl.store.store import Store

_OPEN = frozenset(str(s) for s in OPEN_STATUSES)


def sla_rules(config: Config) -> SlaRules:
    """The parsed SLA rules; a broken sla.yaml is one error with file and line."""
    from elinkctl.services.validators import sla_rules as located

    return located(config)


FACTS = "kpi"
"""The name of the KPI facts (and of their folds) in the index."""


def facts_version(store: Store) -> str:
    """What cached facts depend on: their shape, the code computing them, the rules."""
    from elinkctl.cache.versions import code_digest, rules_digest
    from elinkctl.domain import calendar, kbdecision, sla, vendor

    code = code_digest(kpi, sla, calendar, vendor, kbdecision)
    return f"{kpi.FACTS_VERSION}:{code}:{rules_digest(store.root)}"


def load_facts(
    store: Store,
    rules: SlaRules,
    on_error: Callable[[TicketError], None] | None = None,
) -> Iterator[kpi.Facts]:
    """Facts of every ticket in the store, streamed.

    A broken ticket is reported through ``on_error`` and skipped, as `list`
    does. Each ticket is dropped as soon as it is reduced, so memory does
    not grow with the store.
    """
    # Cached in the index (elinkctl.cache.facts) by file content and this version:
    # warm runs parse no YAML; a broken index falls back to parsing.
    yield from store.iter_facts(
        FACTS, facts_version(store), lambda ticket: kpi.ticket_facts(ticket, rules), on_error
    )


def stats_of_store(
    store: Store,
    rules: SlaRules,
    flt: TicketFilter | None,
    now: dt.datetime,
    by: str | None = None,
    also: Sequence[str] = (),
    on_error: Callable[[TicketError], None] | None = None,
) -> kpi.StatsResult:
    """`compute` over `load_facts`, with the folds of unchanged months cached.

    The same result, to the byte, as folding every ticket's facts; without a
    usable index it is exactly that.
    """
    from elinkctl.cache import index_failed

    dims = kpi.dimensions(by, also)
    targets = kpi.KpiTargets.from_rules(rules)
    try:
        idx = store.index()
        fold = _fold_indexed(idx, facts_version(store), rules, flt, now, dims)
        errors = idx.errors()
    except Exception as exc:
        if not index_failed(exc):
            raise
        return compute(load_facts(store, rules, on_error), flt, rules, now, by, also)
    for _, message in errors:
        problem = TicketError(message)
        if on_error is None:
            raise problem
        on_error(problem)
    return fold.result(now, by, targets)


@dataclasses.dataclass
class MonthFold:
    """What is cached per month directory and query, over its settled tickets:
    the fold of those that do not need "now", and the facts of those that do.

    ``since``: the fold holds for every "now" from then on (POSIX seconds; a
    fact was folded as late because its deadline had passed). ``until``: from
    then on a kept fact no longer needs "now" and the month is refolded once
    to fold it in (at 300,000 incidents ~7,000 closed ones carry a vendor's
    due time that was never answered: folding them on every run cost 0.1 s).
    """

    stable: kpi.Partial
    live: list[kpi.Facts]
    since: float = -math.inf
    until: float = math.inf

    def holds(self, now: dt.datetime) -> bool:
        """Whether this cached fold is the one `_fold_month` would make at ``now``."""
        return self.since <= now.timestamp() < self.until


def _query_key(version: str, flt: TicketFilter | None, dims: tuple[str, ...]) -> str:
    """Everything a month's fold depends on besides the month's tickets: the
    facts, the filter, the dimensions, and this module's code (which decides
    what a fold holds)."""
    import sys

    from elinkctl.cache.versions import code_digest

    version = f"{version}:{code_digest(sys.modules[__name__])}"
    fields = {} if flt is None else dataclasses.asdict(flt)
    shown = {name: _plain(value) for name, value in sorted(fields.items())}
    return json.dumps([version, list(dims), flt is not None, shown], ensure_ascii=False)


def _plain(value: Any) -> Any:
    """A filter field as JSON, the same text for equal values."""
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _fold_indexed(
    idx: Index,
    version: str,
    rules: SlaRules,
    flt: TicketFilter | None,
    now: dt.datetime,
    dims: tuple[str, ...],
) -> kpi.Partial:
    """Merge each month's cached fold of its settled tickets (refolding months
    whose generation changed), then fold the open tickets and the other
    incidents that need ``now``."""
    from elinkctl.cache.facts import Facts
    from elinkctl.cache.folds import FoldCache, shard_gens

    facts = Facts(idx, FACTS, version, lambda ticket: kpi.ticket_facts(ticket, rules))
    facts.ensure()
    folds = FoldCache(idx, FACTS, _query_key(version, flt, dims), MonthFold)
    total = kpi.Partial(dims)
    live: list[kpi.Facts] = []
    for shard, gen in sorted(shard_gens(idx).items()):
        month = folds.get(shard, gen)
        if month is None or not month.holds(now):
            month = _fold_month(facts, shard, flt, now, dims)
            folds.put(shard, gen, month)
        total.merge(month.stable)
        live.extend(month.live)
    folds.save()
    for text in facts.open():
        f = json.loads(text)
        if flt is None or fact_matches(flt, f):
            live.append(f)
    for f in live:
        total.add(f, now)
    return total


def _fold_month(
    facts: Facts,
    shard: str,
    flt: TicketFilter | None,
    now: dt.datetime,
    dims: tuple[str, ...],
) -> MonthFold:
    """The fold of one month's settled tickets."""
    month = MonthFold(kpi.Partial(dims), [])
    moment = now.timestamp()
    for text in facts.settled(shard):
        f = json.loads(text)
        if flt is not None and not fact_matches(flt, f):
            continue
        after = kpi.now_free_after(f)
        if after is None or after.timestamp() > moment:
            month.live.append(f)
            if after is not None:
                month.until = min(month.until, after.timestamp())
        else:
            month.stable.add(f, now)  # the same numbers for any "now" from `after` on
            month.since = max(month.since, after.timestamp())
    month.stable.settle()
    return month


def fact_matches(flt: TicketFilter, f: kpi.Facts) -> bool:
    """`TicketFilter.matches` on facts instead of tickets (same semantics)."""
    status = str(f.get("status"))
    if flt.statuses and status not in flt.statuses:
        return False
    if flt.priorities and f.get("priority") not in flt.priorities:
        return False
    if flt.tiers and f.get("tier") not in flt.tiers:
        return False
    if flt.types and f.get("type") not in flt.types:
        return False
    if flt.assignee and f.get("assignee") != flt.assignee:
        return False
    if flt.system and f.get("system") != flt.system:
        return False
    if flt.open_only and status not in _OPEN:
        return False
    if flt.closed_only and status in _OPEN:
        return False
    if flt.key_user and not f.get("key_user"):
        return False
    if flt.security and not f.get("security"):
        return False
    if flt.since or flt.until:
        opened = dt.datetime.fromisoformat(str(f["opened_at"]))
        if flt.since and opened < flt.since:
            return False
        if flt.until and opened >= flt.until:
            return False
    return True


def compute(
    facts: Iterable[kpi.Facts],
    flt: TicketFilter | None,
    rules: SlaRules,
    now: dt.datetime,
    by: str | None = None,
    also: Sequence[str] = (),
) -> kpi.StatsResult:
    """Filter and aggregate in one streaming pass."""
    selected = facts if flt is None else (f for f in facts if fact_matches(flt, f))
    return kpi.aggregate(selected, now, by, kpi.KpiTargets.from_rules(rules), also)


def calendar_warnings(rules: SlaRules, years: Iterable[int]) -> list[str]:
    """Business calendars lacking holiday data for a year incidents were reported in."""
    years = sorted(set(years))
    used = {t.calendar.name: t.calendar for t in rules.targets.values()}
    out = []
    for name, cal in sorted(used.items()):
        missing = sorted(cal.uncovered_years(years))
        if missing:
            shown = ", ".join(str(y) for y in missing)
            out.append(
                f"calendar {name}: no China holiday data for {shown}; "
                "plain weekdays are used (add holidays:/workdays: in sla.yaml)"
            )
    return out


def explain(rules: SlaRules) -> str:
    """The counting rules, the targets and the calendars, for ``stats --explain``."""
    from elinkctl.domain.kbdecision import RULES as KB_RULES
    from elinkctl.domain.vendor import RULES as VENDOR_RULES

    lines = [kpi.RULES.rstrip(), VENDOR_RULES.rstrip(), KB_RULES.rstrip()]
    lines += ["", "Targets (sla.yaml):"]
    lines.append(
        f"  事件及时响应率 timely response rate  >= {rules.kpi_response:.0%}   "
        f"事件及时解决率 timely resolution rate >= {rules.kpi_resolution:.0%}"
    )
    for prio, t in sorted(rules.targets.items()):
        lines.append(
            f"  {prio}: response {t.response_text}, resolution {t.resolution_text} "
            f"on calendar {t.calendar.name}"
        )
    lines.append(f"  the resolution clock pauses in: {', '.join(sorted(rules.pause_statuses))}")
    lines += ["", "Calendars:"]
    lines += [f"  {cal.describe()}" for _, cal in sorted(rules.calendars.items())]
    return "\n".join(lines)


# --- CSV ------------------------------------------------------------------------------

CSV_COLUMNS = (
    "group",
    "total",
    "counted",
    "rejected",
    "redirected",
    "response_timely",
    "response_late",
    "response_pending",
    "response_rate",
    "response_target",
    "resolution_timely",
    "resolution_late",
    "resolution_pending",
    "resolution_rate",
    "resolution_target",
    "mtta_median_s",
    "mtta_p90_s",
    "mttr_median_s",
    "mttr_p90_s",
    "open",
    "reopened",
    "reopen_rate",
    "complaints",
    "satisfaction_mean",
    "satisfaction_count",
    "false_alarms",
    "kb_closed",
    "kb_article",
    "kb_none",
    "kb_missing",
    "kb_coverage",
)


def _csv_row(group: str, s: kpi.Summary, targets: kpi.KpiTargets) -> dict[str, Any]:
    mtta, mttr = s.mtta.summary(), s.mttr.summary()
    return {
        "group": group,
        "total": s.total,
        "counted": s.counted,
        "rejected": s.excluded.get("rejected", 0),
        "redirected": s.excluded.get("redirected", 0),
        "response_timely": s.response.timely,
        "response_late": s.response.late,
        "response_pending": s.response.pending,
        "response_rate": _num(s.response.rate),
        "response_target": targets.response,
        "resolution_timely": s.resolution.timely,
        "resolution_late": s.resolution.late,
        "resolution_pending": s.resolution.pending,
        "resolution_rate": _num(s.resolution.rate),
        "resolution_target": targets.resolution,
        "mtta_median_s": _num(mtta["median_s"]),
        "mtta_p90_s": _num(mtta["p90_s"]),
        "mttr_median_s": _num(mttr["median_s"]),
        "mttr_p90_s": _num(mttr["p90_s"]),
        "open": sum(s.backlog.values()),
        "reopened": s.reopened,
        "reopen_rate": _num(s.reopen_rate),
        "complaints": s.complaints,
        "satisfaction_mean": _num(s.satisfaction_mean),
        "satisfaction_count": s.satisfaction_count,
        "false_alarms": s.false_alarms,
        "kb_closed": s.kb_decisions.closed,
        "kb_article": s.kb_decisions.article,
        "kb_none": s.kb_decisions.none,
        "kb_missing": s.kb_decisions.missing,
        "kb_coverage": _num(s.kb_decisions.rate),
    }


def _num(value: float | None) -> str:
    """Empty for "no data" (never 0, which would read as a failed KPI)."""
    if value is None:
        return ""
    return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def to_csv(result: kpi.StatsResult) -> str:
    """One row per group of --by, else one overall row (group ``all``)."""
    import csv  # only for --csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    groups = result.by_groups()
    if groups:
        for key, summary in groups.items():
            writer.writerow(_csv_row(key, summary, result.targets))
    else:
        writer.writerow(_csv_row("all", result.overall, result.targets))
    return buf.getvalue()
