"""The audit log's activity chart: events per hour, day or week as server-rendered SVG.

Drawn like the usage chart (a y axis with round ticks from core.charts, a few x labels, one
`<title>` per bar, no script); accounts does not import connected_apps. Bars have a capped width,
so a chart of two buckets is two bars on an axis, not two blocks filling the box.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from core.charts import TICKS, nice_ceiling

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 60, 32, 20, 30  # room for the labels, 24 px high on a phone
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BASELINE = TOP + PLOT_HEIGHT
MAX_BAR = 36  # a bar is never wider than this, however few the buckets
BAR_RATIO = 0.7  # share of a bucket's slot its bar fills
MIN_BAR = 2  # one event among thousands is still visible
MAX_LABELS = 6

# How each step's bucket reads: in the table and a bar's title, and (short) under the axis.
STEP_FORMATS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "week of %Y-%m-%d"}
AXIS_FORMATS = {"hour": "%H:00", "day": "%d %b", "week": "%d %b"}


def activity_chart(step: str, series: list[tuple[datetime, int]]) -> dict[str, Any] | None:
    """The chart's bars, ticks and labels in SVG units, and the rows of its table."""
    if not series:
        return None
    peak = max(count for _, count in series)
    top_value = nice_ceiling(peak)
    slot = PLOT_WIDTH / len(series)
    bar_width = min(slot * BAR_RATIO, MAX_BAR)
    bars = []
    for index, (start, count) in enumerate(series):
        centre = LEFT + index * slot + slot / 2
        height = max(PLOT_HEIGHT * count / top_value, MIN_BAR) if count else 0
        bars.append(
            {
                "x": round(centre - bar_width / 2, 2),
                "y": round(BASELINE - height, 2),
                "width": round(bar_width, 2),
                "height": round(height, 2),
                "centre": round(centre, 2),
                "count": count,
                "label": start.strftime(STEP_FORMATS[step]),
                "axis_label": start.strftime(AXIS_FORMATS[step]),
            }
        )
    every = max(1, math.ceil(len(bars) / MAX_LABELS))
    last = len(bars) - 1
    return {
        "step": step,
        "bars": bars,
        "ticks": [
            {"y": round(BASELINE - PLOT_HEIGHT * i / TICKS, 2), "value": top_value * i // TICKS}
            for i in range(TICKS + 1)
        ],
        "labels": [
            {"x": bar["centre"], "text": bar["axis_label"]}
            for index, bar in enumerate(bars)
            if (last - index) % every == 0
        ],
        "peak": peak,
        "total": sum(count for _, count in series),
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right_edge": WIDTH - RIGHT,
        "baseline": BASELINE,
        "first": bars[0]["label"],
        "last": bars[-1]["label"],
    }
