"""In-memory metric history: every second for the last two hours, then coarser for longer views.

Each metric keeps three fixed-size rings of C doubles (`array('d')`): raw 1 s points (default
7,200 = 2 h), one-minute buckets (2,880 = 48 h) and one-hour buckets (720 = 30 days), each bucket
with its mean, minimum and maximum. Recording a tick is a few appends per metric; memory is
about 230 kB per metric. A view picks the finest ring that covers the window and, if it still
has more points than the chart can show, averages neighbours down to `max_points`.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cocoon_desktop.hardware.snapshots import HealthTick

NAN = float("nan")


@dataclass(frozen=True)
class Series:
    """Points of one metric, oldest first. NaN where the metric was not available."""

    metric: str
    resolution_s: float
    timestamps_s: tuple[float, ...]  # wall-clock time of each point (bucket start for buckets)
    means: tuple[float, ...]
    minimums: tuple[float, ...]
    maximums: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.timestamps_s)


class _Ring:
    """Fixed-capacity ring of (time, mean, min, max); raw rings share one array for all three."""

    def __init__(self, capacity: int, extremes: bool = True) -> None:
        self.capacity = capacity
        self.times = array("d", [NAN]) * capacity
        self.means = array("d", [NAN]) * capacity
        self.mins = array("d", [NAN]) * capacity if extremes else self.means
        self.maxs = array("d", [NAN]) * capacity if extremes else self.means
        self.extremes = extremes
        self.count = 0
        self.next = 0

    def append(self, t: float, mean: float, low: float, high: float) -> None:
        i = self.next
        self.times[i], self.means[i] = t, mean
        if self.extremes:
            self.mins[i], self.maxs[i] = low, high
        self.next = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def since(self, start_s: float) -> tuple[list[float], list[float], list[float], list[float]]:
        first = (self.next - self.count) % self.capacity
        order = [(first + k) % self.capacity for k in range(self.count)]
        picked = [i for i in order if self.times[i] >= start_s]
        return ([self.times[i] for i in picked], [self.means[i] for i in picked],
                [self.mins[i] for i in picked], [self.maxs[i] for i in picked])


class _Bucket:
    """The bucket being filled for one coarse ring."""

    __slots__ = ("high", "index", "low", "n", "total")

    def __init__(self) -> None:
        self.index = -1
        self.total, self.n, self.low, self.high = 0.0, 0, math.inf, -math.inf

    def flush_into(self, ring: _Ring, resolution_s: float) -> None:
        if self.index < 0:
            return
        if self.n:
            ring.append(self.index * resolution_s, self.total / self.n, self.low, self.high)
        else:
            ring.append(self.index * resolution_s, NAN, NAN, NAN)

    def reset(self, index: int) -> None:
        self.index = index
        self.total, self.n, self.low, self.high = 0.0, 0, math.inf, -math.inf

    def add(self, value: float) -> None:
        self.total += value
        self.n += 1
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class _Metric:
    def __init__(self, raw_capacity: int, tiers: tuple[tuple[float, int], ...]) -> None:
        self.raw = _Ring(raw_capacity, extremes=False)
        self.tiers = [(res, _Ring(cap), _Bucket()) for res, cap in tiers]

    def record(self, t: float, value: float | None) -> None:
        v = NAN if value is None else float(value)
        self.raw.append(t, v, v, v)
        for resolution, ring, bucket in self.tiers:
            index = int(t // resolution)
            if index != bucket.index:
                bucket.flush_into(ring, resolution)
                bucket.reset(index)
            if not math.isnan(v):
                bucket.add(v)


class MetricHistory:
    """Named metric series, recorded once per tick. Thread-safe."""

    def __init__(
        self,
        raw_capacity: int = 7200,
        tiers: tuple[tuple[float, int], ...] = ((60.0, 2880), (3600.0, 720)),
        raw_resolution_s: float = 1.0,
    ) -> None:
        if raw_capacity < 2 or any(cap < 2 or res <= 0 for res, cap in tiers):
            raise ValueError("history rings need at least 2 points and a positive resolution")
        self._raw_capacity = raw_capacity
        self._raw_resolution_s = raw_resolution_s
        self._tiers = tuple(sorted(tiers))
        self._metrics: dict[str, _Metric] = {}
        self._latest: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def record(self, wall_time_s: float, values: Mapping[str, float | None]) -> None:
        """Add one point per metric; a metric seen for the first time starts its series here."""
        with self._lock:
            for name, value in values.items():
                metric = self._metrics.get(name)
                if metric is None:
                    metric = self._metrics[name] = _Metric(self._raw_capacity, self._tiers)
                metric.record(wall_time_s, value)
                self._latest[name] = value

    def metrics(self) -> list[str]:
        with self._lock:
            return sorted(self._metrics)

    def latest(self, metric: str) -> float | None:
        with self._lock:
            return self._latest.get(metric)

    def span_s(self) -> float:
        """How far back the coarsest ring reaches, in seconds."""
        resolution, capacity = self._tiers[-1] if self._tiers else (
            self._raw_resolution_s, self._raw_capacity)
        return resolution * capacity

    def series(self, metric: str, window_s: float, now_s: float, max_points: int = 600) -> Series:
        """The last `window_s` seconds before `now_s`, at most `max_points` points."""
        if window_s <= 0 or max_points < 1:
            raise ValueError("window_s and max_points must be positive")
        with self._lock:
            found = self._metrics.get(metric)
            if found is None:
                raise KeyError(f"no metric named {metric!r}; known: {sorted(self._metrics)}")
            resolution, ring = self._pick_ring(found, window_s)
            times, means, mins, maxs = ring.since(now_s - window_s)
        return _downsample(metric, resolution, times, means, mins, maxs, max_points)

    def _pick_ring(self, metric: _Metric, window_s: float) -> tuple[float, _Ring]:
        """The finest ring whose full length covers the window, else the coarsest."""
        rings = [(self._raw_resolution_s, metric.raw)] + [(r, ring) for r, ring, _ in metric.tiers]
        for resolution, ring in rings:
            if ring.capacity * resolution >= window_s:
                return resolution, ring
        return rings[-1]


def _nan_mean(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return sum(known) / len(known) if known else NAN


def _nan_pick(values: list[float], pick: Callable[[list[float]], float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return pick(known) if known else NAN


def _downsample(metric: str, resolution: float, times: list[float], means: list[float],
                mins: list[float], maxs: list[float], max_points: int) -> Series:
    n = len(times)
    if n <= max_points:
        return Series(metric, resolution, tuple(times), tuple(means), tuple(mins), tuple(maxs))
    step = math.ceil(n / max_points)
    groups = [slice(start, min(start + step, n)) for start in range(0, n, step)]
    return Series(
        metric,
        resolution * step,
        tuple(times[g][0] for g in groups),
        tuple(_nan_mean(means[g]) for g in groups),
        tuple(_nan_pick(mins[g], min) for g in groups),
        tuple(_nan_pick(maxs[g], max) for g in groups),
    )


def metrics_of(tick: HealthTick) -> dict[str, float | None]:
    """The charted metrics of a tick: `gpu<i>.<field>`, `system.<field>`, `engine.<field>`."""
    values: dict[str, float | None] = {}
    for gpu in tick.gpus:
        for name in GPU_METRICS:
            values[f"gpu{gpu.index}.{name}"] = getattr(gpu, name)
    system = tick.system
    values["system.cpu_percent"] = system.cpu_percent
    values["system.memory_used_bytes"] = system.memory_used_bytes
    if tick.engine is not None:
        values["engine.cpu_percent"] = tick.engine.cpu_percent
        values["engine.rss_bytes"] = tick.engine.rss_bytes
    return values


GPU_METRICS = (
    "temperature_c",
    "utilization_gpu_percent",
    "utilization_memory_percent",
    "memory_used_bytes",
    "power_w",
    "sm_clock_mhz",
    "memory_clock_mhz",
    "fan_speed_percent",
)
