"""Figures from hourly rollups equal a brute-force sum over the requests, in any time zone, and
the rows behind them cannot be changed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cocoon_desktop.earnings.figures import period_figures, summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.series import hourly_series
from tests.unit.earnings.earnings_helpers import record

BASE = datetime(2025, 10, 20, tzinfo=UTC)  # a week before Europe's clocks go back
ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata"), ZoneInfo("America/St_Johns")]
offsets = st.lists(st.integers(min_value=0, max_value=14 * 86_400_000), min_size=1,
                   max_size=40)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets, st.sampled_from(ZONES), st.integers(min_value=0, max_value=14 * 86_400_000))
def test_rollup_figures_equal_brute_force(tmp_path_factory, offsets_ms: list[int], zone,
                                          now_offset_ms: int) -> None:
    path = tmp_path_factory.mktemp("totals") / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        for i, offset in enumerate(offsets_ms):
            record(ledger, BASE + timedelta(milliseconds=offset), adjusted=1 + i, model=f"m{i % 2}",
                   energy_j=1.5, cost_nano=10 + i, currency="EUR")
        now = BASE + timedelta(milliseconds=now_offset_ms)
        requests = ledger.requests()
        summary = summarize(ledger, now=now, zone=zone)

        def brute(start: datetime | None) -> int:
            return sum(r.adjusted_tokens for r in requests
                       if (start is None or r.finished_at >= start)
                       and r.finished_at <= now)

        local_today = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
        assert summary.today.adjusted_tokens == brute(local_today)
        # (aware datetime arithmetic is wall-clock: local midnight 6 days back, DST or not)
        assert summary.last_7_days.adjusted_tokens == brute(local_today - timedelta(days=6))
        assert summary.last_30_days.adjusted_tokens == brute(local_today - timedelta(days=29))
        assert summary.requests_last_hour == sum(
            1 for r in requests if now - timedelta(hours=1) <= r.finished_at <= now)
        assert summary.all_time.adjusted_tokens == sum(r.adjusted_tokens for r in requests)
        assert summary.all_time.energy_cost_nano == sum(r.energy_cost_nano for r in requests)
        assert sum(g.figures.requests for g in summary.by_model) == len(requests)
        window = period_figures(ledger, BASE + timedelta(hours=5, minutes=17), now)
        assert window.requests == sum(
            1 for r in requests if BASE + timedelta(hours=5, minutes=17) <= r.finished_at < now)
        hours = hourly_series(ledger, now, 30, zone)
        first, end = hours[0].start, hours[-1].start + timedelta(hours=1)
        assert sum(h.adjusted_tokens for h in hours) == sum(
            r.adjusted_tokens for r in requests if first <= r.finished_at < end)


def test_served_requests_are_append_only(ledger: Ledger, tmp_path: Path) -> None:
    record(ledger, BASE)
    conn = sqlite3.connect(ledger.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE served_requests SET earned_nanoton = 0")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM served_requests")
    conn.close()
    assert len(ledger.requests()) == 1


def test_a_request_recorded_twice_is_counted_once_in_the_totals(ledger: Ledger) -> None:
    first = record(ledger, BASE, adjusted=7)
    assert ledger.record_request(first) is False
    assert summarize(ledger, now=BASE, zone=UTC).all_time.adjusted_tokens == 7
