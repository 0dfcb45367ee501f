"""web: the /ops charts as inline SVG, drawn on the server — a few lines over the last hour, no script."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 12, 24
MINUTES = 60
# Distinguishable on white and for the common colour blindnesses (Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _minutes(now: datetime) -> list[datetime]:
    end = now.replace(second=0, microsecond=0)
    return [end - timedelta(minutes=MINUTES - 1 - i) for i in range(MINUTES)]


def events_per_minute(rows: list[dict], now: datetime | None = None) -> Markup:
    """rows: {agent_id, minute, events}: one line per agent (the busiest eight; the rest as "others")."""
    minutes = _minutes(now or datetime.now(timezone.utc))
    index = {m: i for i, m in enumerate(minutes)}
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["agent_id"]] = totals.get(row["agent_id"], 0) + row["events"]
    shown = sorted(totals, key=lambda a: (-totals[a], a))[: len(PALETTE) - 1]  # ties by name: stable
    series: dict[str, list[float]] = {}
    for row in rows:
        i = index.get(row["minute"].astimezone(timezone.utc).replace(second=0, microsecond=0))
        if i is None:
            continue
        name = row["agent_id"] if row["agent_id"] in shown else "others"
        series.setdefault(name, [0.0] * MINUTES)[i] += row["events"]
    return line_chart(series, "Webhooks per minute, per agent (last hour)", "events/min")


def inbox_lag(rows: list[dict]) -> Markup:
    """rows: {minute, lag_seconds} for each of the last 60 minutes."""
    return line_chart({"inbox lag": [float(r["lag_seconds"]) for r in rows][-MINUTES:]},
                      "Inbox lag: oldest event not yet processed (last hour)", "seconds")


def line_chart(series: dict[str, list[float]], title: str, unit: str) -> Markup:
    """One SVG: a line per series over MINUTES points, a y axis from 0 to the highest value."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([max(v) for v in series.values() if v] + [1.0])
    top = _nice(top)

    def x(i: int) -> float:
        return LEFT + plot_w * i / (MINUTES - 1)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{escape(title)}</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>']
    for fraction in (0, 0.5, 1):
        value = top * fraction
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">{value:g}</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="10">−60 min</text>'
                 f'<text x="{LEFT + plot_w}" y="{HEIGHT - 6}" font-size="10" text-anchor="end">now</text>'
                 f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle">{escape(unit)}</text>')
    for n, (name, values) in enumerate(sorted(series.items())):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                     f'<title>{escape(name)}: {sum(values):g} in the hour</title></polyline>')
        ly = TOP + 12 + 14 * n
        parts.append(f'<rect x="{LEFT + plot_w + 8}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{LEFT + plot_w + 22}" y="{ly + 1}" font-size="11">{escape(name[:20])}</text>')
    if not series:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="12" '
                     f'fill="#777">nothing in the last hour</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(value: float) -> float:
    """The next of 1, 2, 5 × 10ⁿ at or above `value`: round axis labels."""
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude
