"""The usage panel's chart: tokens issued per day, drawn as server-rendered SVG.

One bar chart of 30 numbers does not justify a charting library: the SVG is computed here,
works without JavaScript, loads nothing from anywhere, and each bar carries a `<title>` so a
pointer shows its day and count. The page puts the same numbers in a table next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

WIDTH = 720
HEIGHT = 220
LEFT = 44  # room for the y-axis labels
RIGHT = 22
TOP = 12
BOTTOM = 30  # room for the x-axis labels
GAP_RATIO = 0.25  # share of each day's slot left empty between bars
LABEL_EVERY = 5  # days between x-axis labels
TICKS = 4
NICE_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    count: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class DayLabel:
    x: float
    day: date


@dataclass(frozen=True)
class UsageChart:
    width: int
    height: int
    left: int
    right_edge: int
    top: int
    plot_height: float
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[DayLabel]
    total: int
    peak: int
    first_day: date
    last_day: date


def nice_ceiling(value: int) -> int:
    """The top of the y axis: the smallest round multiple of TICKS at or above `value`, so
    that each of the TICKS gridlines falls on a whole, round number (4, 8, 12, 20, 100, …)."""
    raw = value / TICKS
    if raw <= 1:
        return TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in NICE_STEPS:
        step = multiple * magnitude
        if step >= raw and step == int(step):
            return int(step) * TICKS
    return 10 * magnitude * TICKS  # pragma: no cover - 10 times magnitude always qualifies


def usage_chart(tokens_issued: list[dict]) -> UsageChart:
    """Geometry of the chart for `[{"date": "YYYY-MM-DD", "count": n}, …]` (oldest first)."""
    days = [(date.fromisoformat(d["date"]), int(d["count"])) for d in tokens_issued]
    peak = max((count for _, count in days), default=0)
    top_value = nice_ceiling(peak)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = plot_width / max(len(days), 1)
    bar_width = slot * (1 - GAP_RATIO)
    bars = []
    for index, (day, count) in enumerate(days):
        height = plot_height * count / top_value
        if count and height < 2:
            height = 2  # a day with one token among thousands is still visible
        x = LEFT + index * slot + (slot - bar_width) / 2
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(baseline - height, 2),
                width=round(bar_width, 2),
                height=round(height, 2),
                day=day,
                count=count,
            )
        )
    ticks = [
        Tick(y=round(baseline - plot_height * i / TICKS, 2), value=top_value * i // TICKS)
        for i in range(TICKS + 1)
    ]
    last = len(days) - 1
    labels = [
        DayLabel(x=round(bar.x + bar.width / 2, 2), day=bar.day)
        for index, bar in enumerate(bars)
        if (last - index) % LABEL_EVERY == 0
    ]
    return UsageChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right_edge=WIDTH - RIGHT,
        top=TOP,
        plot_height=plot_height,
        baseline=baseline,
        bars=bars,
        ticks=ticks,
        labels=labels,
        total=sum(count for _, count in days),
        peak=peak,
        first_day=days[0][0] if days else date.today(),
        last_day=days[-1][0] if days else date.today(),
    )
