"""Chart series: local hours and days, empty buckets present, DST days of 23 and 25 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.series import daily_series, hourly_series
from tests.unit.earnings.earnings_helpers import record

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def test_hourly_series_has_every_local_hour_even_empty_ones(ledger: Ledger) -> None:
    now = datetime(2025, 5, 1, 14, 20, tzinfo=KOLKATA)  # a +05:30 zone
    record(ledger, datetime(2025, 5, 1, 14, 0, tzinfo=KOLKATA), adjusted=7)
    record(ledger, datetime(2025, 5, 1, 12, 59, 59, tzinfo=KOLKATA), adjusted=3)
    points = hourly_series(ledger, now, 3, KOLKATA)
    assert [p.start.strftime("%H:%M%z") for p in points] == ["12:00+0530", "13:00+0530",
                                                            "14:00+0530"]
    assert [p.adjusted_tokens for p in points] == [3, 0, 7]
    assert [p.earned_nanoton for p in points] == [3000, 0, 7000]


def test_daily_series_counts_both_0230s_of_the_25_hour_day_once_each(ledger: Ledger) -> None:
    # On 2025-10-26 Berlin's clocks went from 03:00 CEST back to 02:00 CET.
    first_0230 = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_0230 = datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert first_0230.astimezone(BERLIN).hour == second_0230.astimezone(BERLIN).hour == 2
    record(ledger, first_0230, adjusted=1)
    record(ledger, second_0230, adjusted=2)
    record(ledger, datetime(2025, 10, 26, 23, 59, tzinfo=BERLIN), adjusted=4)
    record(ledger, datetime(2025, 10, 27, 0, 0, tzinfo=BERLIN), adjusted=8)
    now = datetime(2025, 10, 27, 9, 0, tzinfo=BERLIN)
    days = daily_series(ledger, now, 3, BERLIN)
    assert [d.start.isoformat() for d in days] == [
        "2025-10-25T00:00:00+02:00", "2025-10-26T00:00:00+02:00", "2025-10-27T00:00:00+01:00"]
    assert [d.adjusted_tokens for d in days] == [0, 7, 8]
    hours_of_26th = [h for h in hourly_series(ledger, now, 48, BERLIN)
                     if h.start.date().day == 26]
    assert len(hours_of_26th) == 25


def test_daily_series_on_the_23_hour_day(ledger: Ledger) -> None:
    record(ledger, datetime(2025, 3, 30, 23, 30, tzinfo=BERLIN), adjusted=5)
    record(ledger, datetime(2025, 3, 31, 0, 0, tzinfo=BERLIN), adjusted=6)
    days = daily_series(ledger, datetime(2025, 3, 31, 1, 0, tzinfo=BERLIN), 2, BERLIN)
    assert [(d.start.day, d.adjusted_tokens) for d in days] == [(30, 5), (31, 6)]


def test_series_length_is_bounded() -> None:
    with pytest.raises(ValueError, match="1 to"):
        hourly_series(None, datetime.now(UTC), 0, UTC)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1 to"):
        daily_series(None, datetime.now(UTC), 10_000, UTC)  # type: ignore[arg-type]


def test_requests_outside_the_window_are_left_out(ledger: Ledger) -> None:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    record(ledger, now - timedelta(hours=5), adjusted=100)
    record(ledger, now + timedelta(hours=1), adjusted=100)
    assert sum(p.adjusted_tokens for p in hourly_series(ledger, now, 3, UTC)) == 0
