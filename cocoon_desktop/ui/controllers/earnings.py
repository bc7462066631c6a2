"""EarningsController: the ledger's figures, chart series and recent requests, as signals.

The node records every served request in the ledger of the network it serves (one ledger per
network); this adapter reads that ledger for the pages: figures are SQL aggregates (fast),
refreshed after each served request and on a slow timer. Every view names its network, and a
switch to another network's ledger clears the pages at once (`cleared`), so devnet figures
never stand under a testnet or mainnet label. Every ledger call runs on the blocking pool.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import cancel_and_wait, run_blocking, spawn
from cocoon_desktop.earnings.export import export_csv
from cocoon_desktop.earnings.figures import EarningsSummary, TonPrice, summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.periods import local_zone
from cocoon_desktop.earnings.records import ServedRequest
from cocoon_desktop.earnings.series import SeriesPoint, daily_series, hourly_series
from cocoon_desktop.settings import NetworkKind

log = logging.getLogger(__name__)
REFRESH_INTERVAL_S = 60.0
RECENT_REQUESTS = 200
PERIODS = {"day": (hourly_series, 24), "week": (daily_series, 7), "month": (daily_series, 30)}


@dataclass(frozen=True)
class EarningsView:
    network: NetworkKind  # whose ledger these figures come from
    summary: EarningsSummary
    series: dict[str, list[SeriesPoint]]
    recent: list[ServedRequest]  # newest first


class EarningsController(QObject):
    earnings_updated = Signal(object)  # EarningsView
    cleared = Signal(object)  # NetworkKind: another network's ledger, not read yet (or none)
    export_finished = Signal(str)

    def __init__(self, ledger: Ledger | None = None, price: TonPrice | None = None,
                 network: NetworkKind = NetworkKind.DEVNET,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ledger = ledger
        self.network = network
        self.price = price
        self.view: EarningsView | None = None
        self._timer: asyncio.Task[None] | None = None
        self._burst: asyncio.Task[None] | None = None
        self._stopped = False  # quitting: the ledger is about to close
        self._refreshing = False
        self._summary_seen: object = None

    def set_price(self, price: TonPrice | None) -> None:
        self.price = price

    def attach(self, ledger: Ledger | None, network: NetworkKind) -> None:
        """Read `network`'s ledger from now on (None: it could not be opened)."""
        if ledger is self.ledger and network is self.network:
            return
        self.ledger, self.network, self.view = ledger, network, None
        self.cleared.emit(network)
        self.refresh_soon()

    async def refresh(self) -> EarningsView | None:
        """Read the figures again; None (and nothing emitted) when there is no ledger. A view
        read from a ledger that was switched meanwhile is dropped for the new one's."""
        ledger, network = self.ledger, self.network
        if ledger is None:
            return None
        view = await run_blocking(self._read, ledger, network)
        if ledger is not self.ledger or network is not self.network:
            return await self.refresh()
        self.view = view
        self.earnings_updated.emit(view)
        return view

    def on_summary_changed(self, summary: object) -> None:
        """The node refreshed its summary (after committing new rows): read the pages' view."""
        if summary is not None and summary is not self._summary_seen:
            self._summary_seen = summary
            self.refresh_soon()

    def refresh_soon(self) -> None:
        """Coalesce bursts of requests into one refresh."""
        if self.ledger is not None and not self._refreshing and not self._stopped:
            self._refreshing = True
            self._burst = spawn(self._refresh_after_burst(), name="earnings.refresh")

    async def _refresh_after_burst(self) -> None:
        await asyncio.sleep(0.2)
        self._refreshing = False
        await self.refresh()

    def _read(self, ledger: Ledger, network: NetworkKind) -> EarningsView:
        now = datetime.now(UTC)
        zone = local_zone()
        try:
            summary = summarize(ledger, now, zone, self.price)
        except ValueError as exc:  # the TON price is in another currency than the tariff
            log.warning("net earnings not shown: %s", exc)
            summary = summarize(ledger, now, zone, None)
        series = {name: build(ledger, now, count, zone)
                  for name, (build, count) in PERIODS.items()}
        recent = ledger.requests(since=now - timedelta(days=30))[-RECENT_REQUESTS:]
        return EarningsView(network, summary, series, list(reversed(recent)))

    def start(self, interval_s: float = REFRESH_INTERVAL_S) -> None:
        if self._timer is None or self._timer.done():
            self._timer = spawn(self._every(interval_s), name="earnings.timer")

    async def stop(self) -> None:
        """No more reads (quitting: the node closes the ledger next)."""
        self._stopped = True
        await cancel_and_wait([t for t in (self._timer, self._burst) if t is not None],
                              "earnings refresh", timeout_s=3.0)

    async def _every(self, interval_s: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(interval_s)

    async def export(self, path: Path) -> int:
        if self.ledger is None:
            raise OSError("no earnings ledger is open (see the problem shown on this page)")
        count = await run_blocking(export_csv, self.ledger, path, local_zone())
        self.export_finished.emit(f"Exported {count} rows to {path}")
        return count
