"""Figures for the dashboard and the tray: earned per period, pending and paid, rates, net of
electricity, per model and per proxy. `summarize()` returns one frozen `EarningsSummary`.

Sums come from `totals` (hourly rollups plus the partial edge hours, exact in any time zone);
money stays integer nanoTON; electricity cost is kept in billionths of its currency and is
converted to TON only with a price the caller supplies (the app never guesses a rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from cocoon_desktop.earnings import totals
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.periods import day_start, local_zone
from cocoon_desktop.earnings.records import to_ms
from cocoon_desktop.protocol.money import NANOTON_PER_TON

PAID_STATUSES = ("confirmed", "received")
IN_FLIGHT_STATUSES = ("prepared", "submitted")


@dataclass(frozen=True)
class TonPrice:
    """What one TON is worth in `currency`, in billionths of it (e.g. 3.2 EUR: 3_200_000_000)."""

    currency: str
    nano_per_ton: int

    def to_nanoton(self, cost_nano: int) -> int:
        """A cost in billionths of `currency` as nanoTON, rounded up (never flatters the net)."""
        return -(-cost_nano * NANOTON_PER_TON // self.nano_per_ton)


@dataclass(frozen=True)
class PeriodFigures:
    """Sums over the requests finished in one period."""

    requests: int
    adjusted_tokens: int
    completion_tokens: int
    earned_nanoton: int
    energy_j: float
    energy_cost_nano: int  # in the summary's `energy_currency`
    busy_ms: int  # sum of request durations (overlapping requests add up)
    net_nanoton: int | None  # earned minus electricity; None without a TON price


@dataclass(frozen=True)
class GroupFigures:
    """One model's or one proxy's all-time figures."""

    key: str  # the model name, or the proxy's key (64 hex digits)
    label: str  # what to show: the model, or the proxy's contract address
    figures: PeriodFigures


@dataclass(frozen=True)
class EarningsSummary:
    """A snapshot for the UI and the tray. Money in nanoTON, times aware."""

    as_of: datetime
    today: PeriodFigures
    last_7_days: PeriodFigures
    last_30_days: PeriodFigures
    all_time: PeriodFigures
    paid_nanoton: int  # payouts the worker contract carried out
    in_flight_nanoton: int  # payouts sent, not yet seen done on chain
    pending_nanoton: int  # earned (by this ledger) and not yet paid or in flight
    last_hour: PeriodFigures  # the last 60 minutes: the pace a front end leads with
    requests_last_hour: int
    tokens_per_s_last_hour: float  # completion tokens over the last hour's 3600 s
    generation_tokens_per_s: float  # completion tokens per second of request time, last hour
    energy_currency: str | None
    by_model: tuple[GroupFigures, ...]
    by_proxy: tuple[GroupFigures, ...]


def _figures(row: tuple, price: TonPrice | None) -> PeriodFigures:
    requests, adjusted, completion, earned, energy_j, cost_nano, busy_ms = row
    net = earned - price.to_nanoton(cost_nano) if price is not None else None
    return PeriodFigures(requests, adjusted, completion, earned, float(energy_j), cost_nano,
                         busy_ms, net)


def energy_currency(ledger: Ledger) -> str | None:
    """The currency of the most recent request that has an electricity cost."""
    rows = ledger.query("SELECT energy_currency FROM served_requests WHERE energy_currency IS "
                        "NOT NULL ORDER BY finished_at_ms DESC, id DESC LIMIT 1")
    return rows[0][0] if rows else None


def period_figures(ledger: Ledger, since: datetime | None, until: datetime | None,
                   price: TonPrice | None = None, currency: str | None = None) -> PeriodFigures:
    """Sums over requests finished in [since, until) (None: unbounded)."""
    sums = totals.window(ledger, to_ms(since) if since else None,
                         to_ms(until) if until else None, currency)
    return _figures(sums, price)


def _groups(ledger: Ledger, price: TonPrice | None, currency: str | None
            ) -> tuple[PeriodFigures, tuple[GroupFigures, ...], tuple[GroupFigures, ...]]:
    """All time, per model and per proxy, from the hourly totals."""
    rows = totals.groups(ledger, currency)
    labels = {p.proxy_key: p.proxy_sc_address for p in ledger.proxies()}

    def by(index: int, label: dict[str, str]) -> tuple[GroupFigures, ...]:
        keys = {r[index] for r in rows}
        found = [GroupFigures(k, label.get(k, k), _figures(
            totals.add(*(r[2] for r in rows if r[index] == k)), price)) for k in keys]
        return tuple(sorted(found, key=lambda g: (-g.figures.earned_nanoton, g.key)))

    return _figures(totals.add(*(r[2] for r in rows)), price), by(0, {}), by(1, labels)


def payout_totals(ledger: Ledger) -> tuple[int, int]:
    """(paid, in flight) nanoTON over all payouts."""
    row = ledger.query(
        "SELECT coalesce(sum(CASE WHEN status IN (?, ?) THEN amount_nanoton END), 0), "
        "coalesce(sum(CASE WHEN status IN (?, ?) THEN amount_nanoton END), 0) FROM payouts",
        (*PAID_STATUSES, *IN_FLIGHT_STATUSES))[0]
    return int(row[0]), int(row[1])


def summarize(ledger: Ledger, now: datetime | None = None, zone: tzinfo | None = None,
              price: TonPrice | None = None) -> EarningsSummary:
    """Everything the dashboard and the tray show, in one consistent snapshot."""
    now = (now or datetime.now(UTC)).astimezone(UTC)  # arithmetic below in absolute time
    zone = zone or local_zone()
    currency = energy_currency(ledger)
    if price is not None and currency not in (None, price.currency):
        raise ValueError(f"the TON price must be in the electricity tariff's currency "
                         f"({currency}); ask the price source for TON in {currency}")
    until = now + timedelta(microseconds=1000)  # include requests finished this millisecond

    def since(start: datetime) -> PeriodFigures:
        return period_figures(ledger, start, until, price, currency)

    last_hour = since(now - timedelta(hours=1))
    all_time, by_model, by_proxy = _groups(ledger, price, currency)
    paid, in_flight = payout_totals(ledger)
    busy_s = last_hour.busy_ms / 1000
    return EarningsSummary(
        as_of=now, today=since(day_start(now, zone)), last_7_days=since(day_start(now, zone, 6)),
        last_30_days=since(day_start(now, zone, 29)), all_time=all_time,
        paid_nanoton=paid, in_flight_nanoton=in_flight,
        pending_nanoton=max(0, all_time.earned_nanoton - paid - in_flight), last_hour=last_hour,
        requests_last_hour=last_hour.requests,
        tokens_per_s_last_hour=last_hour.completion_tokens / 3600,
        generation_tokens_per_s=last_hour.completion_tokens / busy_s if busy_s > 0 else 0.0,
        energy_currency=currency, by_model=by_model, by_proxy=by_proxy,
    )
