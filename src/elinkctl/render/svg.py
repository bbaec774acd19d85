"""Two hand-written inline SVG charts for the stats report.

No plotting library: the report must be one self-contained file that prints
the same everywhere, and two chart types do not justify a dependency. Every
label is escaped. Each data point is one element with a class, so tests can
count them (``circle.pt-<series>``, ``g.bar``).
"""

from __future__ import annotations

from collections.abc import Sequence

from elinkctl.render.html import esc

W, H = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 16, 46


def _x_positions(n: int) -> list[float]:
    inner = W - LEFT - RIGHT
    if n <= 1:
        return [LEFT + inner / 2] * n
    step = inner / (n - 1)
    return [LEFT + i * step for i in range(n)]


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> str:
    every = max(1, -(-len(labels) // 12))  # at most ~12 labels, whatever the span
    out = []
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every == 0 or i == len(labels) - 1:
            out.append(
                f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" font-size="10" '
                f'text-anchor="middle">{esc(label)}</text>'
            )
    return "".join(out)


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """(label, colour, kind) where kind is line|dash|box."""
    out = []
    x = W - RIGHT + 14
    for i, (label, colour, kind) in enumerate(items):
        y = TOP + 10 + i * 18
        if kind == "box":
            out.append(f'<rect x="{x}" y="{y - 8}" width="12" height="10" fill="{colour}"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if kind == "dash" else ""
            out.append(
                f'<line x1="{x}" y1="{y - 3}" x2="{x + 16}" y2="{y - 3}" stroke="{colour}" '
                f'stroke-width="2"{dash}/>'
            )
        out.append(f'<text x="{x + 22}" y="{y}" font-size="11">{esc(label)}</text>')
    return "".join(out)


def _frame(title: str, inner: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" '
        f'role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>{inner}</svg>'
    )


def rate_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    targets: Sequence[tuple[str, float]],
    counts: Sequence[Sequence[int | None]] | None = None,
    partial: int | None = None,
) -> str:
    """Rates (0–1) per period as lines with one dot per period that has data.

    ``series`` is (css name, label, values); a ``None`` value (no incident
    decided in that period) leaves a gap rather than pretending 0%.
    ``targets`` are drawn as dashed horizontal lines. ``counts`` (one list
    per series) are the incidents each dot rests on, written beside it: a
    10% point of two incidents is not a 10% point of two hundred.
    ``partial`` is the index of a period still in progress (this month): its
    dot is hollow, not joined to the line, and does not set the axis (a
    month of two decided incidents must not stretch it down to 0%).
    """
    colours = ["#1565c0", "#e65100", "#2e7d32", "#6a1b9a"]
    plot_h = H - TOP - BOTTOM
    xs = _x_positions(len(labels))
    settled = [v for _, _, vs in series for i, v in enumerate(vs) if v is not None and i != partial]
    floor = _rate_floor(
        (settled or [v for _, _, vs in series for v in vs if v is not None])
        + [v for _, v in targets]
    )

    def y(v: float) -> float:
        return TOP + (1 - (max(v, floor) - floor) / (1 - floor)) * plot_h

    parts = []
    step = 0.1 if 1 - floor <= 0.5 else 0.25
    ticks = [1 - k * step for k in range(int((1 - floor) / step + 1e-9) + 1)]
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{W - RIGHT}" y2="{y(tick):.1f}" '
            f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="10" '
            f'text-anchor="end">{tick:.0%}</text>'
        )
    legend: list[tuple[str, str, str]] = []
    seen_targets: set[float] = set()
    for label, value in targets:
        if value in seen_targets:
            continue
        seen_targets.add(value)
        parts.append(
            f'<line class="target" x1="{LEFT}" y1="{y(value):.1f}" x2="{W - RIGHT}" '
            f'y2="{y(value):.1f}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        legend.append((f"{label} {value:.0%}", "#c62828", "dash"))
    for i, (name, label, values) in enumerate(series):
        colour = colours[i % len(colours)]
        legend.append((label, colour, "line"))
        run: list[str] = []
        runs: list[list[str]] = []
        for k, (x, v) in enumerate(zip(xs, values, strict=True)):
            if v is None or k == partial:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{x:.1f},{y(v):.1f}")
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(points)}"/>'
                )
        ns = counts[i] if counts is not None else [None] * len(values)
        for k, (x, v, period, n) in enumerate(zip(xs, values, labels, ns, strict=True)):
            if v is not None:
                of = f" (n={n})" if n is not None else ""
                if k == partial:
                    look, of = f'fill="#fff" stroke="{colour}" stroke-width="1.5"', of + " 未结束"
                else:
                    look = f'fill="{colour}"'
                parts.append(
                    f'<circle class="pt pt-{esc(name)}{" partial" if k == partial else ""}" '
                    f'cx="{x:.1f}" cy="{y(v):.1f}" r="3.5" {look}>'
                    f"<title>{esc(period)} {esc(label)} {v:.1%}{of}</title></circle>"
                )
                if n is not None:
                    dy = -7 if i % 2 == 0 else 13  # one series above its dots, one below
                    parts.append(
                        f'<text class="n n-{esc(name)}" x="{x:.1f}" y="{y(v) + dy:.1f}" '
                        f'font-size="9" text-anchor="middle" fill="{colour}">{n}</text>'
                    )
    parts.append(_x_labels(labels, xs))
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    parts.append(_legend(legend))
    return _frame(title, "".join(parts))


def stacked_bars(
    title: str,
    labels: Sequence[str],
    stacks: Sequence[tuple[str, str, Sequence[int]]],
) -> str:
    """Counts per period, stacked by category: one ``<g class="bar">`` per period.

    ``stacks`` is (label, colour, counts per period).
    """
    plot_h = H - TOP - BOTTOM
    inner = W - LEFT - RIGHT
    n = len(labels)
    totals = [sum(stack[2][i] for stack in stacks) for i in range(n)]
    top = max(totals, default=0) or 1
    nice = _nice_max(top)
    slot = inner / max(n, 1)
    bar_w = max(2.0, min(36.0, slot * 0.7))

    def h(v: float) -> float:
        return v / nice * plot_h

    parts = []
    for i in range(5):
        v = nice * i / 4
        yy = TOP + plot_h - h(v)
        parts.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{W - RIGHT}" y2="{yy:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">'
            f"{v:g}</text>"
        )
    xs = [LEFT + slot * (i + 0.5) for i in range(n)]
    for i, (period, x) in enumerate(zip(labels, xs, strict=True)):
        base = float(TOP + plot_h)
        rects = []
        for label, colour, counts in stacks:
            count = counts[i]
            if not count:
                continue
            height = h(count)
            base -= height
            rects.append(
                f'<rect x="{x - bar_w / 2:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                f'height="{height:.1f}" fill="{colour}"><title>{esc(period)} {esc(label)}: '
                f"{count}</title></rect>"
            )
        parts.append(
            f'<g class="bar" data-period="{esc(period)}" data-total="{totals[i]}">'
            + "".join(rects)
            + "</g>"
        )
    parts.append(_x_labels(labels, xs))
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    parts.append(_legend([(label, colour, "box") for label, colour, _ in stacks]))
    return _frame(title, "".join(parts))


def _rate_floor(values: Sequence[float]) -> float:
    """Bottom of the rate axis: 0%, or a round 10% step below every value.

    Rates near a 90% target all sit in the top tenth of a 0–100% axis; a
    raised floor keeps their movement visible. The axis labels say where it starts.
    """
    low = min(values, default=0.0)
    floor = max(0.0, (int(low * 10) - 1) / 10)
    return 0.0 if floor < 0.3 else floor


def _nice_max(value: int) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10ⁿ)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return float(step * magnitude)
        magnitude *= 10
