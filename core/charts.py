"""What the portal's server-rendered SVG charts share (connected_apps' usage chart, the audit
log's activity chart): where the y axis ends, so that its gridlines fall on round numbers."""

from __future__ import annotations

import math

TICKS = 4  # gridlines above the baseline
NICE_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


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
