"""The usage panel's chart: tokens issued and refused per day, drawn as server-rendered SVG.

One bar chart of at most 30 pairs of numbers does not justify a charting library: the SVG is
computed here, works without JavaScript, loads nothing from anywhere, and each day carries a
`<title>` so a pointer shows its day and both counts. Each day has two bars side by side,
issued then refused (hatched, so the two differ by more than colour); the page puts the same
numbers in a table next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from core.charts import TICKS, nice_ceiling

WIDTH = 720
HEIGHT = 220
LEFT = 44  # room for the y-axis labels: at least, wider for numbers of three digits or more
DIGIT = 15  # room a digit of a y-axis label takes at the phone font size (portal.css, Polish E)
RIGHT = 22
TOP = 20  # room above the top gridline for its label at the phone font size
BOTTOM = 34  # room for the x-axis labels
GAP_RATIO = 0.25  # share of each day's slot left empty between days
MAX_LABELS = 7  # x-axis labels at most: one a day for a week, one every 5 days for 30
MIN_BAR = 2  # a day with one token among thousands is still visible


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class ChartDay:
    """One day's slot: where a pointer finds it, and its bars (None for a count of 0)."""

    day: date
    issued: int
    refused: int
    x: float
    width: float
    issued_bar: Bar | None
    refused_bar: Bar | None


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class DayLabel:
    x: float
    day: date
    minor: bool = False  # every other label, hidden on a phone where its font is larger


@dataclass(frozen=True)
class UsageChart:
    width: int
    height: int
    left: int
    right_edge: int
    top: int
    plot_height: float
    baseline: float
    days: list[ChartDay]
    ticks: list[Tick]
    labels: list[DayLabel]
    issued_total: int
    refused_total: int
    peak: int
    first_day: date
    last_day: date
    shows_refused: bool = True

    @property
    def period(self) -> str:
        """The days the chart covers, as a sentence ends: "today", "in the last 7 days"."""
        return "today" if len(self.days) == 1 else f"in the last {len(self.days)} days"

    @property
    def is_empty(self) -> bool:
        """No token asked for in the whole range: the page says so instead of a blank grid."""
        return not (self.issued_total or self.refused_total)

    @property
    def title(self) -> str:
        what = "Tokens issued and refused" if self.shows_refused else "Tokens issued"
        if len(self.days) == 1:
            return f"{what} today"
        return f"{what} per day, last {len(self.days)} days"


def _bar(
    x: float, width: float, count: int, top_value: int, plot_height: float, baseline: float
) -> Bar | None:
    if not count:
        return None
    height = max(plot_height * count / top_value, MIN_BAR)
    return Bar(
        x=round(x, 2), y=round(baseline - height, 2), width=round(width, 2), height=round(height, 2)
    )


def usage_chart(tokens_issued: list[dict], tokens_refused: list[dict] | None = None) -> UsageChart:
    """Geometry of the chart for two series of `[{"date": "YYYY-MM-DD", "count": n}, …]` over
    the same days, oldest first; without `tokens_refused`, of the tokens issued alone."""
    refused_by_day = {d["date"]: int(d["count"]) for d in tokens_refused or ()}
    series = [
        (date.fromisoformat(d["date"]), int(d["count"]), refused_by_day.get(d["date"], 0))
        for d in tokens_issued
    ]
    peak = max((max(issued, refused) for _, issued, refused in series), default=0)
    top_value = nice_ceiling(peak)
    left = max(LEFT, DIGIT * len(str(top_value)) + 12)
    plot_width = WIDTH - left - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = plot_width / max(len(series), 1)
    group = slot * (1 - GAP_RATIO)
    bar_width = group / 2
    days = []
    for index, (day, issued, refused) in enumerate(series):
        x = left + index * slot + (slot - group) / 2
        days.append(
            ChartDay(
                day=day,
                issued=issued,
                refused=refused,
                x=round(x, 2),
                width=round(group, 2),
                issued_bar=_bar(x, bar_width, issued, top_value, plot_height, baseline),
                refused_bar=_bar(
                    x + bar_width, bar_width, refused, top_value, plot_height, baseline
                ),
            )
        )
    ticks = [
        Tick(y=round(baseline - plot_height * i / TICKS, 2), value=top_value * i // TICKS)
        for i in range(TICKS + 1)
    ]
    every = max(1, math.ceil(len(days) / MAX_LABELS))
    last = len(days) - 1
    shown = [d for index, d in enumerate(days) if (last - index) % every == 0]
    # The newest label always stays; on a phone every other one goes when there are over 4.
    labels = [
        DayLabel(
            x=round(d.x + d.width / 2, 2),
            day=d.day,
            minor=len(shown) > 4 and (len(shown) - 1 - index) % 2 == 1,
        )
        for index, d in enumerate(shown)
    ]
    return UsageChart(
        width=WIDTH,
        height=HEIGHT,
        left=left,
        right_edge=WIDTH - RIGHT,
        top=TOP,
        plot_height=plot_height,
        baseline=baseline,
        days=days,
        ticks=ticks,
        labels=labels,
        issued_total=sum(issued for _, issued, _ in series),
        refused_total=sum(refused for _, _, refused in series),
        peak=peak,
        first_day=days[0].day if days else date.today(),
        last_day=days[-1].day if days else date.today(),
        shows_refused=tokens_refused is not None,
    )
