"""The `stats` result for people: a terminal table and a printable HTML report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from elinkctl.domain import kpi
from elinkctl.domain.glossary import ROLES, zh
from elinkctl.domain.model import Status
from elinkctl.timeutil import format_duration

PRIORITY_COLOURS = (("P1", "#b71c1c"), ("P2", "#ef6c00"), ("P3", "#f9a825"), ("P4", "#90a4ae"))
STATUS_ORDER = tuple(str(s) for s in Status)


def _role(role: str) -> str:
    """A role in both languages, e.g. ``项目经理 pm``."""
    label = zh(ROLES, role, "")
    return f"{label} {role}" if label else role


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def dur(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(dt.timedelta(seconds=seconds))


def _flag(rc: kpi.RateCount, target: float) -> str:
    if rc.rate is None:
        return "no data"
    return "BELOW TARGET" if rc.below(target) else "ok"


def kpi_rows(s: kpi.Summary, targets: kpi.KpiTargets) -> list[list[str]]:
    return [
        [
            "事件及时响应率 timely response",
            str(s.response.timely),
            str(s.response.late),
            str(s.response.pending),
            pct(s.response.rate),
            f">= {targets.response:.0%}",
            _flag(s.response, targets.response),
        ],
        [
            "事件及时解决率 timely resolution",
            str(s.resolution.timely),
            str(s.resolution.late),
            str(s.resolution.pending),
            pct(s.resolution.rate),
            f">= {targets.resolution:.0%}",
            _flag(s.resolution, targets.resolution),
        ],
    ]


KPI_HEADERS = ["KPI", "timely", "late", "pending", "rate", "target", ""]


def _excluded_line(s: kpi.Summary) -> str:
    rej, red = s.excluded.get("rejected", 0), s.excluded.get("redirected", 0)
    return (
        f"incidents: {s.total} reported, {s.counted} counted; excluded: {rej} rejected "
        f"({s.false_alarms} false alarm{'s' if s.false_alarms != 1 else ''}), "
        f"{red} redirected"
    )


def _counter_row(counter: dict[str, int], order: Sequence[str] = ()) -> list[tuple[str, int]]:
    keys = [k for k in order if k in counter] + sorted(k for k in counter if k not in order)
    return [(k, counter[k]) for k in keys]


def text_report(result: kpi.StatsResult, width: int = 80) -> str:
    """The readable `stats` output: rates with their targets first, then the
    rest, within ``width`` terminal columns (the KPI names on two lines, long
    lists folded at their commas)."""
    from elinkctl.render.terminal import wrap_list

    lines = _text_lines(result)
    return "\n".join(wrap_list(line, width) if "\n" not in line else line for line in lines)


def _text_lines(result: kpi.StatsResult) -> list[str]:
    s, t = result.overall, result.targets
    rows = [[row[0].replace(" ", "\n", 1), *row[1:]] for row in kpi_rows(s, t)]
    out = [
        tabulate(
            rows,
            headers=KPI_HEADERS,
            disable_numparse=True,
            colalign=("left", "right", "right", "right", "right", "left", "left"),
        ),
        "",
        _excluded_line(s),
        "",
    ]
    groups = result.by_groups()
    if result.by:
        rows = []
        for key, g in groups.items():
            rows.append(
                [
                    key,
                    str(g.total),
                    str(g.counted),
                    f"{g.response.timely}/{g.response.late}/{g.response.pending}",
                    pct(g.response.rate) + (" !" if g.response.below(t.response) else ""),
                    f"{g.resolution.timely}/{g.resolution.late}/{g.resolution.pending}",
                    pct(g.resolution.rate) + (" !" if g.resolution.below(t.resolution) else ""),
                    dur(g.mtta.summary()["median_s"]),
                    dur(g.mttr.summary()["median_s"]),
                ]
            )
        out.append(f"by {result.by} (timely/late/pending; ! = below target; MTTA/MTTR medians):")
        out.append(
            _narrow_table(
                rows,
                [
                    result.by,
                    "total",
                    "counted",
                    "response",
                    "rate",
                    "resolution",
                    "rate",
                    "MTTA",
                    "MTTR",
                ],
            )
        )
        out.append("")
    status = _counter_row(dict(s.by_status), STATUS_ORDER)
    out.append("by status: " + (", ".join(f"{k} {v}" for k, v in status) or "—"))
    out.append(
        "by type:   " + (", ".join(f"{k} {v}" for k, v in _counter_row(dict(s.by_type))) or "—")
    )
    out.append("")
    mtta, mttr = s.mtta.summary(), s.mttr.summary()
    out.append(
        tabulate(
            [
                [
                    "MTTA reported → response",
                    dur(mtta["median_s"]),
                    dur(mtta["p90_s"]),
                    mtta["count"],
                ],
                [
                    "MTTR reported → last resolution",
                    dur(mttr["median_s"]),
                    dur(mttr["p90_s"]),
                    mttr["count"],
                ],
            ],
            headers=["wall time", "median", "p90", "n"],
            disable_numparse=True,
        )
    )
    out.append("")
    backlog = ", ".join(f"{name} {s.backlog.get(name, 0)}" for name, _ in kpi.BACKLOG_BUCKETS)
    out.append(f"open backlog by age: {backlog} (total {sum(s.backlog.values())})")
    out.append(f"reopened: {s.reopened} of {s.resolved_once} resolved ({pct(s.reopen_rate)})")
    out.append(f"complaints: {s.complaints} on {s.complained_incidents} incident(s)")
    mean = "—" if s.satisfaction_mean is None else f"{s.satisfaction_mean:.2f}/5"
    calls = f"{s.callbacks} callback{'' if s.callbacks == 1 else 's'}"
    out.append(f"callback satisfaction: {mean} (n={s.satisfaction_count}; {calls})")
    esc_text = ", ".join(f"{r} {n}" for r, n in sorted(s.escalations.items())) or "none"
    out.append(f"escalations reached: {esc_text}")
    out.append("vendor replies (timely/late/pending by --due): " + (_vendors(s) or "none"))
    if s.false_alarms:
        by_src = ", ".join(f"{k} {v}" for k, v in sorted(s.false_alarms_by_source.items()))
        by_sys = ", ".join(f"{k} {v}" for k, v in sorted(s.false_alarms_by_system.items()))
        out.append(f"false alarms: {s.false_alarms} (by source: {by_src}; by system: {by_sys})")
    else:
        out.append("false alarms: 0")
    if s.kb:
        top = sorted(s.kb.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append("KB reuse: " + ", ".join(f"{k} ×{v}" for k, v in top))
    else:
        out.append("KB reuse: none")
    out.append(f"KB decisions: {_kb_decisions(s)}")
    return out


def counting_rules_zh(t: kpi.KpiTargets) -> list[str]:
    """统计口径 for management, in Chinese: what docs/kpis.md says, in brief."""
    return [
        f"事件及时响应率 = 及时响应数 ÷（及时 + 超时），目标 ≥ {t.response:.0%}；"
        f"事件及时解决率同理，目标 ≥ {t.resolution:.0%}。",
        "尚未到期、也未响应（或解决）的事件为「未到期」，不计入分子分母。",
        "事件按报告时间归入月份；先处理后补单的事件按实际发生时间。",
        "响应以首次受理、联系或解决为准；解决以最后一次解决为准，重开期间的时间照算。",
        "时钟按优先级对应的日历计算：7×24 计全部时间，工作时间日历只计工作日的工作时段"
        "（含法定节假日与调休）。等待客户或厂商（挂起）期间，解决时钟暂停。",
        "已退回（不属服务范围）和已转其他流程（变更、需求）的事件不计入两项比率，单独列出。",
        "本月尚未结束时，本月比率只基于已判定的少数事件：图中为空心点、不连线，表中标注「未结束」。",
    ]


def _narrow_table(rows: list[list[str]], headers: list[str]) -> str:
    """A table without tabulate's two extra columns around each header, the
    first column cut to 16 columns: the ``--by`` table fits 80 columns."""
    import tabulate as tabulate_module

    from elinkctl.render.terminal import clip

    rows = [[clip(r[0], 16), *r[1:]] for r in rows]
    saved = tabulate_module.MIN_PADDING
    tabulate_module.MIN_PADDING = 0
    try:
        return tabulate(rows, headers=headers, disable_numparse=True)
    finally:
        tabulate_module.MIN_PADDING = saved


def _kb_decisions(s: kpi.Summary) -> str:
    """Coverage of l2's knowledge-base decision over the closed incidents."""
    c = s.kb_decisions
    return (
        f"{c.article + c.none} of {c.closed} closed ({pct(c.rate)}): "
        f"article {c.article}, none {c.none}, missing {c.missing}"
    )


def _vendors(s: kpi.Summary) -> str:
    return ", ".join(
        f"{v['vendor']} {v['timely']}/{v['late']}/{v['pending']} {pct(v['rate'])}"
        f" (of {v['escalations']} escalation{'s' if v['escalations'] != 1 else ''})"
        for v in s.vendors.to_json()
    )


# --- HTML ---------------------------------------------------------------------------------


def month_range(keys: Sequence[str]) -> list[str]:
    """Every month from the first to the last key (gaps are months with no incident)."""
    real = sorted(k for k in keys if len(k) == 7 and k[4] == "-")
    if not real:
        return []
    year, month = int(real[0][:4]), int(real[0][5:])
    last = real[-1]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append(key)
        if key >= last:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    from elinkctl.render.html import esc

    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rate_cell(rc: kpi.RateCount, target: float) -> str:
    from elinkctl.render.html import esc

    cls = "below" if rc.below(target) else ("ok" if rc.rate is not None else "muted")
    return f'<span class="{cls}">{esc(pct(rc.rate))}</span>'


def html_report(
    result: kpi.StatsResult,
    *,
    title: str,
    scope: str,
    rules_text: str,
    integrity: Mapping[str, Any] | None = None,
) -> str:
    """The printable KPI report: table with targets, two monthly charts, details,
    and, given ``audit``'s counts (`Report.to_json`), how far the KPIs can be trusted.

    ``result`` must include the ``month`` dimension (``aggregate(also=["month"])``).
    """
    from elinkctl.render import svg
    from elinkctl.render.html import esc, page

    s, t = result.overall, result.targets
    parts = [f"<h1>{esc(title)}</h1>", f'<p class="sub">{esc(scope)}</p>']
    kpi_table = []
    for label, rc, target in (
        ("事件及时响应率 timely response", s.response, t.response),
        ("事件及时解决率 timely resolution", s.resolution, t.resolution),
    ):
        status = (
            "低于目标 below target"
            if rc.below(target)
            else "达标 met"
            if rc.rate is not None
            else "无数据 no data"
        )
        cls = "below" if rc.below(target) else "ok"
        kpi_table.append(
            [
                esc(label),
                str(rc.timely),
                str(rc.late),
                str(rc.pending),
                _rate_cell(rc, target),
                esc(f"≥ {target:.0%}"),
                f'<span class="{cls}">{esc(status)}</span>',
            ]
        )
    parts.append("<h2>关键指标 KPIs</h2>")
    parts.append(
        _table(
            [
                "指标 KPI",
                "及时 timely",
                "超时 late",
                "未到期 pending",
                "达成率 rate",
                "目标 target",
                "",
            ],
            kpi_table,
            numeric=(1, 2, 3, 4),
        )
    )
    parts.append(f"<p>{esc(_excluded_line(s))}</p>")

    months = month_range(list(result.groups.get("month", {})))
    by_month = result.groups.get("month", {})
    # The month "now" is in has not ended: its rates rest on the few incidents
    # already decided (pending ones count as neither), so it is marked as
    # partial: a hollow dot off the line that does not set the chart's axis.
    current = result.now.strftime("%Y-%m")
    partial = current if months and months[-1] == current else None
    labels = [f"{m}*" if m == partial else m for m in months]
    parts.append("<h2>月度趋势 Monthly trend</h2>")

    def rates(kind: str) -> list[float | None]:
        return [getattr(by_month[m], kind).rate if m in by_month else None for m in months]

    def decided(kind: str) -> list[int | None]:
        out: list[int | None] = []
        for m in months:
            rc = getattr(by_month[m], kind) if m in by_month else None
            out.append(rc.timely + rc.late if rc is not None and rc.rate is not None else None)
        return out

    targets = [("目标 target", t.response), ("目标 target", t.resolution)]
    parts.append(
        '<figure id="rates"><figcaption>及时响应率与及时解决率 Timely response and '
        "resolution rate by month reported (数字为计入的事件数 the number at each point "
        "is the incidents it rests on)"
        + (f"; {partial}* 为本月，尚未结束（空心点）month in progress" if partial else "")
        + "</figcaption>"
        + svg.rate_chart(
            "Timely rates by month",
            labels,
            [
                ("response", "响应 response", rates("response")),
                ("resolution", "解决 resolution", rates("resolution")),
            ],
            targets,
            counts=[decided("response"), decided("resolution")],
            partial=len(months) - 1 if partial else None,
        )
        + "</figure>"
    )
    stacks = [
        (p, colour, [by_month[m].by_priority.get(p, 0) if m in by_month else 0 for m in months])
        for p, colour in PRIORITY_COLOURS
    ]
    parts.append(
        '<figure id="volume"><figcaption>事件数量（按优先级）Incidents reported per '
        "month by priority</figcaption>"
        + svg.stacked_bars("Incidents by month and priority", months, stacks)
        + "</figure>"
    )
    if months:
        rows = []
        for m in months:
            g = by_month.get(m)
            shown = f"{m}（本月至今，未结束 in progress）" if m == partial else m
            if g is None:
                rows.append([esc(shown), "0", "—", "—", "—"])
                continue
            rows.append(
                [
                    esc(shown),
                    str(g.total),
                    str(g.counted),
                    _rate_cell(g.response, t.response),
                    _rate_cell(g.resolution, t.resolution),
                ]
            )
        parts.append(
            _table(
                [
                    "月份 month",
                    "事件 reported",
                    "计入 counted",
                    "响应率 response",
                    "解决率 resolution",
                ],
                rows,
                numeric=(1, 2, 3, 4),
            )
        )

    if result.by and result.by != "month":
        rows = []
        for key, g in result.by_groups().items():
            rows.append(
                [
                    esc(key),
                    str(g.total),
                    str(g.counted),
                    esc(f"{g.response.timely}/{g.response.late}/{g.response.pending}"),
                    _rate_cell(g.response, t.response),
                    esc(f"{g.resolution.timely}/{g.resolution.late}/{g.resolution.pending}"),
                    _rate_cell(g.resolution, t.resolution),
                ]
            )
        parts.append(f"<h2>按 {esc(result.by)} 分组 By {esc(result.by)}</h2>")
        parts.append(
            _table(
                [
                    result.by,
                    "total",
                    "counted",
                    "response t/l/p",
                    "rate",
                    "resolution t/l/p",
                    "rate",
                ],
                rows,
                numeric=(1, 2, 4, 6),
            )
        )

    parts.append("<h2>处理时长与积压 Times and backlog</h2>")
    mtta, mttr = s.mtta.summary(), s.mttr.summary()
    parts.append(
        _table(
            ["wall time", "median", "p90", "n"],
            [
                [
                    esc("MTTA 报告→响应 reported → response"),
                    esc(dur(mtta["median_s"])),
                    esc(dur(mtta["p90_s"])),
                    str(mtta["count"]),
                ],
                [
                    esc("MTTR 报告→最后解决 reported → last resolution"),
                    esc(dur(mttr["median_s"])),
                    esc(dur(mttr["p90_s"])),
                    str(mttr["count"]),
                ],
            ],
            numeric=(1, 2, 3),
        )
    )
    parts.append(
        _table(
            ["未解决积压 open backlog by age", *[n for n, _ in kpi.BACKLOG_BUCKETS]],
            [["incidents", *[str(s.backlog.get(n, 0)) for n, _ in kpi.BACKLOG_BUCKETS]]],
            numeric=tuple(range(1, len(kpi.BACKLOG_BUCKETS) + 1)),
        )
    )

    parts.append("<h2>其他指标 Other measures</h2>")
    mean = "—" if s.satisfaction_mean is None else f"{s.satisfaction_mean:.2f} / 5"
    other = [
        [
            "按状态 by status",
            ", ".join(f"{k} {v}" for k, v in _counter_row(dict(s.by_status), STATUS_ORDER)),
        ],
        ["按类型 by type", ", ".join(f"{k} {v}" for k, v in _counter_row(dict(s.by_type)))],
        [
            "按优先级 by priority",
            ", ".join(f"{k} {v}" for k, v in _counter_row(dict(s.by_priority))),
        ],
        ["重开率 reopen rate", f"{pct(s.reopen_rate)} ({s.reopened} of {s.resolved_once})"],
        ["投诉 complaints", f"{s.complaints} on {s.complained_incidents} incident(s)"],
        ["回访满意度 satisfaction", f"{mean} (n={s.satisfaction_count})"],
        [
            "管理升级 escalations reached",
            ", ".join(f"{_role(r)} {n}" for r, n in sorted(s.escalations.items())) or "—",
        ],
        [
            "误报 false alarms",
            f"{s.false_alarms}"
            + (
                " — by source: "
                + ", ".join(f"{k} {v}" for k, v in sorted(s.false_alarms_by_source.items()))
                + "; by system: "
                + ", ".join(f"{k} {v}" for k, v in sorted(s.false_alarms_by_system.items()))
                if s.false_alarms
                else ""
            ),
        ],
        [
            "知识库复用 KB reuse",
            ", ".join(f"{k} ×{v}" for k, v in sorted(s.kb.items(), key=lambda kv: (-kv[1], kv[0])))
            or "—",
        ],
        ["知识库决定 KB decisions", _kb_decisions(s)],
    ]
    parts.append(_table(["", ""], [[esc(a), esc(b)] for a, b in other]))
    if integrity is not None:
        from elinkctl.render.audit import html_section

        parts.append(html_section(integrity))
    parts.append("<h2>统计口径 How it is counted</h2>")
    parts.append(
        "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in counting_rules_zh(t)) + "</ul>"
    )
    parts.append(
        '<details><summary>完整规则（英文）Full rules</summary><pre class="muted" '
        f'style="white-space: pre-wrap">{esc(rules_text)}</pre></details>'
    )
    parts.append(f"<footer>elinkctl stats — generated {esc(result.now.isoformat())}</footer>")
    return page(title, "\n".join(parts))
