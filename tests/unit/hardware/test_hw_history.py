"""Metric history: raw seconds, minute and hour buckets, window choice, downsampling."""

from __future__ import annotations

import math

import pytest

from cocoon_desktop.hardware.history import MetricHistory, metrics_of
from cocoon_desktop.hardware.snapshots import HealthTick, ProcessSample, SystemSample

T0 = 1_699_999_200.0  # a whole hour (472,222 h), so buckets start on it


def test_an_hour_at_one_hertz_is_kept_by_default() -> None:
    history = MetricHistory()
    for second in range(3600):
        history.record(T0 + second, {"gpu0.temperature_c": 40 + second % 10})
    series = history.series("gpu0.temperature_c", 3600, now_s=T0 + 3599, max_points=5000)
    assert len(series) == 3600 and series.resolution_s == 1.0
    assert series.timestamps_s[0] == T0 and series.means[-1] == 40 + 3599 % 10


def test_the_raw_ring_forgets_the_oldest() -> None:
    history = MetricHistory(raw_capacity=10, tiers=((5.0, 10),))
    for second in range(25):
        history.record(T0 + second, {"m": float(second)})
    series = history.series("m", 10, now_s=T0 + 24)
    assert series.means == tuple(float(v) for v in range(15, 25))


def test_buckets_keep_mean_min_max_and_skip_missing_values() -> None:
    history = MetricHistory(raw_capacity=4, tiers=((60.0, 100),))
    for second in range(180):
        value = None if second % 60 == 0 else float(second % 60)
        history.record(T0 + second, {"m": value})
    history.record(T0 + 180, {"m": 1.0})  # closes the third bucket
    series = history.series("m", 600, now_s=T0 + 180)
    assert series.resolution_s == 60.0
    assert series.timestamps_s == (T0, T0 + 60, T0 + 120)
    assert series.means == (30.0, 30.0, 30.0)  # mean of 1..59, the None left out
    assert series.minimums == (1.0, 1.0, 1.0) and series.maximums == (59.0, 59.0, 59.0)


def test_a_bucket_with_no_values_is_nan() -> None:
    history = MetricHistory(raw_capacity=4, tiers=((60.0, 100),))
    for second in range(121):
        history.record(T0 + second, {"m": None if second < 60 else 5.0})
    series = history.series("m", 600, now_s=T0 + 121)
    assert math.isnan(series.means[0]) and series.means[1] == 5.0


def test_long_windows_use_the_coarser_rings() -> None:
    history = MetricHistory()
    for minute in range(3 * 60):  # three hours, one reading a minute is enough here
        history.record(T0 + minute * 60, {"m": float(minute)})
    two_hours = history.series("m", 7200, now_s=T0 + 3 * 3600)
    assert two_hours.resolution_s == 1.0
    three_hours = history.series("m", 3 * 3600, now_s=T0 + 3 * 3600)
    assert three_hours.resolution_s == 60.0
    month = history.series("m", 30 * 86400, now_s=T0 + 3 * 3600)
    assert month.resolution_s == 3600.0 and month.means[0] == pytest.approx(29.5)
    assert history.span_s() == 30 * 86400


def test_views_are_thinned_to_max_points() -> None:
    history = MetricHistory()
    for second in range(1000):
        history.record(T0 + second, {"m": float(second)})
    series = history.series("m", 1000, now_s=T0 + 999, max_points=100)
    assert len(series) == 100 and series.resolution_s == 10.0
    assert series.means[0] == pytest.approx(4.5)
    assert (series.minimums[0], series.maximums[0]) == (0.0, 9.0)


def test_bad_requests_say_what_is_wrong() -> None:
    history = MetricHistory()
    history.record(T0, {"gpu0.power_w": 1.0})
    with pytest.raises(KeyError, match=r"gpu0\.power_w"):
        history.series("gpu0.temp", 60, now_s=T0)
    with pytest.raises(ValueError, match="positive"):
        history.series("gpu0.power_w", 0, now_s=T0)
    with pytest.raises(ValueError):
        MetricHistory(raw_capacity=1)
    assert history.latest("gpu0.power_w") == 1.0 and history.metrics() == ["gpu0.power_w"]


def test_metrics_of_a_tick() -> None:
    system = SystemSample(12.5, 2, 8, 4, 4, "/", 100, 50)
    tick = HealthTick(1.0, T0, (), system, ProcessSample(7, True, 150.0, 1000, 9), frozenset())
    assert metrics_of(tick) == {
        "system.cpu_percent": 12.5, "system.memory_used_bytes": 4,
        "engine.cpu_percent": 150.0, "engine.rss_bytes": 1000,
    }
