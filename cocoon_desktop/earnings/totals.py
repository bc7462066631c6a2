"""Sums over served requests in a time window, fast at any ledger size.

Whole UTC hours come from `hourly_totals` (kept by a trigger in the same transaction as each
request, schema version 4); the partial hours at a window's edges come from the requests
themselves, so any window, in any time zone, is exact. Each sum is the tuple
(requests, adjusted tokens, completion tokens, earned nanoTON, joules, electricity cost in
billionths of `currency`, busy milliseconds).
"""

from __future__ import annotations

from typing import Any

from cocoon_desktop.earnings.ledger import Ledger

HOUR_MS = 3_600_000
FAR = 2**62
Sums = tuple[Any, ...]  # (int, int, int, int, float, int, int)
ZERO: Sums = (0, 0, 0, 0, 0.0, 0, 0)
_RAW = ("count(*), coalesce(sum(adjusted_tokens), 0), coalesce(sum(completion_tokens), 0), "
        "coalesce(sum(earned_nanoton), 0), coalesce(sum(energy_j), 0.0), "
        "coalesce(sum(CASE WHEN energy_currency = ? THEN energy_cost_nano END), 0), "
        "coalesce(sum(finished_at_ms - started_at_ms), 0)")
_ROLLUP = ("coalesce(sum(requests), 0), coalesce(sum(adjusted_tokens), 0), "
           "coalesce(sum(completion_tokens), 0), coalesce(sum(earned_nanoton), 0), "
           "coalesce(sum(energy_j), 0.0), "
           "coalesce(sum(CASE WHEN energy_currency = ? THEN energy_cost_nano END), 0), "
           "coalesce(sum(busy_ms), 0)")


def add(*parts: Sums) -> Sums:
    return tuple(sum(values) for values in zip(*parts, strict=True)) if parts else ZERO


def _raw(ledger: Ledger, low_ms: int, high_ms: int, currency: str | None) -> Sums:
    if low_ms >= high_ms:
        return ZERO
    return ledger.query(f"SELECT {_RAW} FROM served_requests WHERE finished_at_ms >= ? AND "
                        "finished_at_ms < ?", (currency, low_ms, high_ms))[0]


def _rollup(ledger: Ledger, low_ms: int, high_ms: int, currency: str | None) -> Sums:
    return ledger.query(f"SELECT {_ROLLUP} FROM hourly_totals WHERE hour_ms >= ? AND "
                        "hour_ms < ?", (currency, low_ms, high_ms))[0]


def window(ledger: Ledger, low_ms: int | None, high_ms: int | None,
           currency: str | None) -> Sums:
    """Sums over requests finished in [low_ms, high_ms); None is unbounded."""
    low = -FAR if low_ms is None else low_ms
    high = FAR if high_ms is None else high_ms
    first_hour = -(-low // HOUR_MS) * HOUR_MS
    last_hour = high // HOUR_MS * HOUR_MS
    if first_hour >= last_hour:
        return _raw(ledger, low, high, currency)
    return add(_raw(ledger, low, first_hour, currency),
               _rollup(ledger, first_hour, last_hour, currency),
               _raw(ledger, last_hour, high, currency))


def groups(ledger: Ledger, currency: str | None) -> list[tuple[str, str, Sums]]:
    """All-time sums per (model, proxy key)."""
    rows = ledger.query(f"SELECT model, proxy_key, {_ROLLUP} FROM hourly_totals "
                        "GROUP BY model, proxy_key", (currency,))
    return [(r[0], r[1], tuple(r[2:])) for r in rows]


def hour_buckets(ledger: Ledger, start_ms: int, count: int, currency: str | None
                 ) -> dict[int, Sums]:
    """Sums per consecutive hour from `start_ms` (bucket index -> sums; empty ones left out)."""
    end_ms = start_ms + count * HOUR_MS
    if start_ms % HOUR_MS == 0:
        rows = ledger.query(f"SELECT (hour_ms - ?) / ?, {_ROLLUP} FROM hourly_totals WHERE "
                            "hour_ms >= ? AND hour_ms < ? GROUP BY 1",
                            (start_ms, HOUR_MS, currency, start_ms, end_ms))
    else:  # a zone whose hours are not UTC hours (e.g. +05:30): from the requests themselves
        rows = ledger.query(f"SELECT (finished_at_ms - ?) / ?, {_RAW} FROM served_requests "
                            "WHERE finished_at_ms >= ? AND finished_at_ms < ? GROUP BY 1",
                            (start_ms, HOUR_MS, currency, start_ms, end_ms))
    return {r[0]: tuple(r[1:]) for r in rows}
