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


Picture = bytes


def pixel_picture(xs: Sequence[float], ys: Sequence[float], x_range: tuple[float, float],
                  y_range: tuple[float, float], size_px: tuple[float, float]) -> Picture:
    """What a line of points looks like at `size_px` (width, height): runs of (first pixel
    column, last pixel column, pixel row) of the points drawn, where a gap (NaN) breaks the
    line with one run of its own wherever it is (a gap draws nothing). Two sets of points with
    the same picture draw the same pixels, so a chart need not draw again: a flat line that slid
    by less than a pixel, or nothing but gaps, as at idle every second.

    Asked for every live chart every second, so it is numpy, not a Python loop over the points
    (a full 5-minute window: about 30 µs against 80 µs). numpy is imported here, not with the
    module: only a chart already drawn (pyqtgraph, so numpy, loaded) asks."""
    import numpy as np

    (x0, x1), (y0, y1) = x_range, y_range
    width, height = size_px
    sx = width / (x1 - x0) if x1 != x0 else 0.0
    sy = height / (y1 - y0) if y1 != y0 else 0.0
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if not len(x):
        return b""
    gap = ~np.isfinite(y)
    column = np.where(gap, 0.0, np.rint((x - x0) * sx)).astype(np.int64)
    row = np.where(gap, np.iinfo(np.int64).min, np.rint(np.where(gap, 0.0, y - y0) * sy)
                   .astype(np.int64))
    first = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
    last = np.concatenate((first[1:] - 1, [len(row) - 1]))
    return np.stack((column[first], column[last], row[first])).tobytes()
