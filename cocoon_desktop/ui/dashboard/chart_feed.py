"""What feeds the dashboard's live charts: each tick's values for the last minutes, the metric
history (hardware/history: 1 s points for 2 h, then minute and hour buckets) for longer
ranges, so a chart shows 5 minutes, an hour or a day without keeping a day of points itself.

Long ranges are read again every `LONG_REFRESH_TICKS` ticks, not every second; the last
minutes' lines move every `LINE_EVERY_TICKS` ticks while the value above each chart changes
every second (drawing the lines was most of the idle app's CPU: issue 17's < 0.3 % of a core);
and charts the user cannot see (the window in the tray, another page) are not drawn at all until
they show again (`redraw(force=True)` from the card's show event): the idle app stays light.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import takewhile

from cocoon_desktop.hardware.history import Series
from cocoon_desktop.ui.charts import WINDOWS_S, LiveChart
from cocoon_desktop.ui_logic.series import downsample

RECENT_S = WINDOWS_S["5 min"]
LONG_REFRESH_TICKS = 10
LINE_EVERY_TICKS = 2
MAX_POINTS = 360
KEPT_S = WINDOWS_S["24 h"]  # for metrics that have no history of their own

History = Callable[[str, float, int], Series | None]


@dataclass
class Metric:
    chart: LiveChart
    key: str | None = None  # the history's metric name; None: only what this feed saw
    scale: float = 1.0  # e.g. bytes to GiB
    limit: float | None = None  # a dashed line (the pause temperature)
    points: deque[tuple[float, float]] = field(default_factory=deque)
    latest: float | None = None  # the last known value (gaps keep it), for the header


class ChartFeed:
    def __init__(self, metrics: list[Metric], history: History | None = None) -> None:
        self.metrics = metrics
        self.history = history
        self.window_s = RECENT_S
        self._ticks = 0

    def seed(self) -> None:
        """Fill the charts from the history (a card created mid-session)."""
        for metric in self.metrics:
            series = self._series(metric, RECENT_S)
            if series is not None:
                metric.points.extend((t, v * metric.scale) for t, v in
                                     zip(series.timestamps_s, series.means, strict=True))
        self.redraw(force=True)

    def add(self, wall_time_s: float, values: dict[LiveChart, float | None]) -> None:
        for metric in self.metrics:
            value = values.get(metric.chart)
            point = math.nan if value is None else float(value) * metric.scale
            metric.points.append((wall_time_s, point))
            metric.latest = metric.latest if math.isnan(point) else point
            kept = RECENT_S if metric.key is not None else KEPT_S
            while metric.points and metric.points[0][0] < wall_time_s - kept:
                metric.points.popleft()
        self._ticks += 1
        self.redraw()

    def set_window(self, window_s: float) -> None:
        self.window_s = window_s
        for metric in self.metrics:
            metric.chart.set_window(window_s)
        self.redraw(force=True)

    def redraw(self, force: bool = False, now: float | None = None) -> None:
        if not force and not any(m.chart.isVisible() for m in self.metrics):
            return  # nobody looks: the points are kept, drawing waits for the show event
        every = LONG_REFRESH_TICKS if self.window_s > RECENT_S else LINE_EVERY_TICKS
        if not force and self._ticks % every:
            for metric in self.metrics:  # the numbers stay live
                metric.chart.show_latest(metric.latest)
            return
        now = now if now is not None else time.time()
        for metric in self.metrics:
            times, values = self._points(metric, now)
            metric.chart.set_points(times, values, metric.limit, now)

    def _points(self, metric: Metric, now: float) -> tuple[list[float], list[float]]:
        if self.window_s > RECENT_S and metric.key is not None:
            series = self._series(metric, self.window_s)
            if series is not None:
                return list(series.timestamps_s), [v * metric.scale for v in series.means]
        # From the newest back to the window's start only: a metric without a history of its
        # own keeps a day of points, and reading them all each second cost milliseconds.
        start = now - self.window_s
        recent = [p for p in takewhile(lambda p: p[0] >= start, reversed(metric.points))
                  if p[0] <= now]
        recent.reverse()
        if len(recent) <= MAX_POINTS:
            return [t for t, _ in recent], [v for _, v in recent]
        return downsample(recent, self.window_s, now, MAX_POINTS)

    def _series(self, metric: Metric, window_s: float) -> Series | None:
        if self.history is None or metric.key is None:
            return None
        return self.history(metric.key, window_s, MAX_POINTS)
