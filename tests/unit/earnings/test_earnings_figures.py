"""Figures for the UI and tray: local-day periods (DST included), pending vs paid, rates, net,
per model and per proxy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cocoon_desktop.earnings.figures import TonPrice, summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.periods import day_start, local_zone
from cocoon_desktop.earnings.records import PayoutReason, PayoutStatus
from tests.unit.earnings.earnings_helpers import record

BERLIN = ZoneInfo("Europe/Berlin")
def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_today_starts_at_local_midnight_on_a_23_hour_dst_day(ledger: Ledger) -> None:
    now = local(2025, 3, 30, 10, 0)  # clocks jumped from 02:00 to 03:00 this morning
    record(ledger, local(2025, 3, 29, 23, 59, 59))  # yesterday, one second before midnight
    record(ledger, local(2025, 3, 30, 0, 0, 0), adjusted=20)  # today's first instant
    record(ledger, local(2025, 3, 30, 3, 30), adjusted=40)
    summary = summarize(ledger, now=now, zone=BERLIN)
    assert summary.today.requests == 2
    assert summary.today.earned_nanoton == 60 * 1000
    assert summary.all_time.requests == 3
    # The same instants seen from UTC put all three on March 29/30 differently:
    assert summarize(ledger, now=now, zone=UTC).today.requests == 1


def test_seven_and_thirty_days_are_calendar_days_including_today(ledger: Ledger) -> None:
    now = local(2025, 10, 27, 12, 0)  # the day after the 25-hour day
    seven_start = local(2025, 10, 21, 0, 0)
    record(ledger, seven_start, adjusted=1)
    record(ledger, seven_start - timedelta(milliseconds=1), adjusted=2)
    thirty_start = local(2025, 9, 28, 0, 0)
    record(ledger, thirty_start, adjusted=4)
    record(ledger, thirty_start - timedelta(milliseconds=1), adjusted=8)
    record(ledger, now + timedelta(hours=1), adjusted=16)  # the future is not "today"
    summary = summarize(ledger, now=now, zone=BERLIN)
    assert summary.last_7_days.adjusted_tokens == 1
    assert summary.last_30_days.adjusted_tokens == 1 + 2 + 4
    assert summary.all_time.adjusted_tokens == 31
    assert day_start(now, BERLIN, 6) == seven_start


def test_pending_paid_and_in_flight(ledger: Ledger) -> None:
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    record(ledger, now - timedelta(days=2), adjusted=5_000)  # 5_000_000 nanoTON
    key = "aa" * 32
    paid = ledger.add_payout(PayoutDraft(key, None, "0:00", 0, 2_000, 2_000_000, 500_000_000,
                                         PayoutReason.USER, b"1" * 32))
    ledger.update_payout(paid, PayoutChange(PayoutStatus.CONFIRMED, tx_hash="aa"))
    ledger.add_payout(PayoutDraft(key, None, "0:00", 2_000, 3_000, 1_000_000, 500_000_000,
                                  PayoutReason.THRESHOLD, b"2" * 32, PayoutStatus.SUBMITTED))
    failed = ledger.add_payout(PayoutDraft(key, None, "0:00", 2_000, 3_000, 1_000_000,
                                           500_000_000, PayoutReason.USER, b"3" * 32))
    ledger.update_payout(failed, PayoutChange(PayoutStatus.FAILED, error="bounced"))
    summary = summarize(ledger, now=now, zone=UTC)
    assert (summary.paid_nanoton, summary.in_flight_nanoton) == (2_000_000, 1_000_000)
    assert summary.pending_nanoton == 2_000_000


def test_rates_over_the_last_hour(ledger: Ledger) -> None:
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    for minutes in (5, 20, 50):
        record(ledger, now - timedelta(minutes=minutes), completion=120, seconds=4.0)
    record(ledger, now - timedelta(minutes=61), completion=1000)
    summary = summarize(ledger, now=now, zone=UTC)
    assert summary.requests_last_hour == 3
    assert summary.tokens_per_s_last_hour == pytest.approx(360 / 3600)
    assert summary.generation_tokens_per_s == pytest.approx(360 / 12.0)


def test_net_of_electricity_needs_a_price_in_the_tariff_currency(ledger: Ledger) -> None:
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    # 1000 adjusted tokens at 1000 nanoTON: 0.001 TON earned; electricity 0.0016 EUR.
    record(ledger, now, adjusted=1000, energy_j=20.0, cost_nano=1_600_000, currency="EUR")
    without = summarize(ledger, now=now, zone=UTC)
    assert without.all_time.net_nanoton is None and without.energy_currency == "EUR"
    assert without.all_time.energy_cost_nano == 1_600_000
    assert without.all_time.energy_j == pytest.approx(20.0)
    # At 3.20 EUR per TON the electricity is 0.0005 TON: net 0.0005 TON.
    price = TonPrice("EUR", 3_200_000_000)
    with_price = summarize(ledger, now=now, zone=UTC, price=price)
    assert with_price.all_time.net_nanoton == 1_000_000 - 500_000
    with pytest.raises(ValueError, match="tariff's currency"):
        summarize(ledger, now=now, zone=UTC, price=TonPrice("USD", 3_000_000_000))


def test_price_conversion_rounds_the_cost_up() -> None:
    assert TonPrice("EUR", 3_000_000_000).to_nanoton(1) == 1  # 0.33 nanoTON -> 1


def test_per_model_and_per_proxy_breakdowns(ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    record(ledger, now, proxy=proxy.key_hex, model="big", adjusted=300)
    record(ledger, now, proxy=proxy.key_hex, model="small", adjusted=100)
    record(ledger, now, proxy="cc" * 32, model="small", adjusted=50)
    summary = summarize(ledger, now=now, zone=UTC)
    assert [(g.key, g.figures.adjusted_tokens) for g in summary.by_model] == [
        ("big", 300), ("small", 150)]
    assert [(g.label, g.figures.requests) for g in summary.by_proxy] == [
        (proxy.proxy_sc.to_str(False), 2), ("cc" * 32, 1)]


def test_an_empty_ledger_gives_zeros(ledger: Ledger) -> None:
    summary = summarize(ledger, now=datetime(2025, 1, 1, tzinfo=UTC), zone=UTC)
    assert summary.all_time.requests == 0 and summary.pending_nanoton == 0
    assert summary.generation_tokens_per_s == 0.0 and summary.by_model == ()


def test_local_zone_follows_tz(monkeypatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert local_zone().utcoffset(datetime(2025, 1, 1)) == timedelta(hours=5, minutes=30)
