"""Chart points thinned for drawing: at most `max_points` over a window, each the mean of the
points in its slice of time (NaN when the slice has only gaps), so a day of seconds draws as
a few hundred points."""

from __future__ import annotations

import math
from collections.abc import Sequence


def downsample(points: Sequence[tuple[float, float]], window_s: float, now: float,
               max_points: int) -> tuple[list[float], list[float]]:
    """(times, values) of `points` (time, value; oldest first) within [now − window, now]."""
    inside = [(t, v) for t, v in points if now - window_s <= t <= now]
    if len(inside) <= max_points:
        return [t for t, _ in inside], [v for _, v in inside]
    width = window_s / max_points
    sums: dict[int, list[float]] = {}
    for t, v in inside:
        bucket = min(max_points - 1, int((t - (now - window_s)) / width))
        sums.setdefault(bucket, []).append(v)
    times, values = [], []
    for bucket in sorted(sums):
        finite = [v for v in sums[bucket] if not math.isnan(v)]
        times.append(now - window_s + (bucket + 0.5) * width)
        values.append(sum(finite) / len(finite) if finite else math.nan)
    return times, values
