"""Hourly and daily series for charts, in local time, with empty buckets filled in.

Hours are consecutive 3600 s intervals starting at a local hour; days are local calendar days
(23 or 25 hours across a daylight-saving change), each made of the hours that start in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from cocoon_desktop.earnings import totals
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.periods import day_start, hour_start, local_midnight
from cocoon_desktop.earnings.records import to_ms

MAX_BUCKETS = 24 * 400


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket of a chart series; `start` is local time (aware)."""

    start: datetime
    requests: int
    adjusted_tokens: int
    completion_tokens: int
    earned_nanoton: int
    energy_j: float


def _hours(ledger: Ledger, first: datetime, count: int, zone: tzinfo) -> list[SeriesPoint]:
    if not 0 < count <= MAX_BUCKETS:
        raise ValueError(f"a series has 1 to {MAX_BUCKETS} hours, not {count}")
    first_utc = first.astimezone(UTC)  # step in absolute time, not wall-clock time
    found = totals.hour_buckets(ledger, to_ms(first), count, None)
    points = []
    for i in range(count):
        requests, adjusted, completion, earned, energy, _, _ = found.get(i, totals.ZERO)
        points.append(SeriesPoint((first_utc + timedelta(hours=i)).astimezone(zone), requests,
                                  adjusted, completion, earned, float(energy)))
    return points


def hourly_series(ledger: Ledger, now: datetime, hours: int, zone: tzinfo) -> list[SeriesPoint]:
    """The last `hours` local hours, the current (partial) one last."""
    first = hour_start(now, zone).astimezone(UTC) - timedelta(hours=hours - 1)
    return _hours(ledger, first, hours, zone)


def daily_series(ledger: Ledger, now: datetime, days: int, zone: tzinfo) -> list[SeriesPoint]:
    """The last `days` local calendar days, today (partial) last."""
    if not 0 < days <= MAX_BUCKETS // 24:
        raise ValueError(f"a daily series has 1 to {MAX_BUCKETS // 24} days, not {days}")
    first = day_start(now, zone, days - 1)
    end = local_midnight(now.astimezone(zone).date() + timedelta(days=1), zone)
    hour_count = round((to_ms(end) - to_ms(first)) / totals.HOUR_MS)
    per_day: dict[date, list[float]] = {}
    for hour in _hours(ledger, first, hour_count, zone):
        bucket = per_day.setdefault(hour.start.date(), [0, 0, 0, 0, 0.0])
        values = (hour.requests, hour.adjusted_tokens, hour.completion_tokens,
                  hour.earned_nanoton, hour.energy_j)
        for j, value in enumerate(values):
            bucket[j] += value
    return [
        SeriesPoint(local_midnight(day, zone), int(b[0]), int(b[1]), int(b[2]), int(b[3]), b[4])
        for day, b in per_day.items()
    ]
