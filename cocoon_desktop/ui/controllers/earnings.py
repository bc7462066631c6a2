"""EarningsController: the ledger's figures, chart series and recent requests, as signals.

The node records every served request in the ledger; this adapter reads it for the pages:
figures are SQL aggregates (fast), refreshed after each served request and on a slow timer.
Every ledger call runs on the blocking pool.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.earnings.export import export_csv
from cocoon_desktop.earnings.figures import EarningsSummary, TonPrice, summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.periods import local_zone
from cocoon_desktop.earnings.records import ServedRequest
from cocoon_desktop.earnings.series import SeriesPoint, daily_series, hourly_series
from cocoon_desktop.ui.aio import cancel_and_wait, run_blocking, spawn

log = logging.getLogger(__name__)
REFRESH_INTERVAL_S = 60.0
RECENT_REQUESTS = 200
PERIODS = {"day": (hourly_series, 24), "week": (daily_series, 7), "month": (daily_series, 30)}


@dataclass(frozen=True)
class EarningsView:
    summary: EarningsSummary
    series: dict[str, list[SeriesPoint]]
    recent: list[ServedRequest]  # newest first


class EarningsController(QObject):
    earnings_updated = Signal(object)  # EarningsView
    export_finished = Signal(str)

    def __init__(self, ledger: Ledger | None = None, price: TonPrice | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ledger = ledger
        self.price = price
        self.view: EarningsView | None = None
        self._timer: asyncio.Task[None] | None = None
        self._refreshing = False
        self._summary_seen: object = None

    def set_price(self, price: TonPrice | None) -> None:
        self.price = price

    async def refresh(self) -> EarningsView:
        self.view = await run_blocking(self._read)
        self.earnings_updated.emit(self.view)
        return self.view

    def on_summary_changed(self, summary: object) -> None:
        """The node refreshed its summary (after committing new rows): read the pages' view."""
        if summary is not None and summary is not self._summary_seen:
            self._summary_seen = summary
            self.refresh_soon()

    def refresh_soon(self) -> None:
        """Coalesce bursts of requests into one refresh."""
        if self.ledger is not None and not self._refreshing:
            self._refreshing = True
            spawn(self._refresh_after_burst(), name="earnings.refresh")

    async def _refresh_after_burst(self) -> None:
        await asyncio.sleep(0.2)
        self._refreshing = False
        await self.refresh()

    def _read(self) -> EarningsView:
        assert self.ledger is not None, "attach the ledger first"
        now = datetime.now(UTC)
        zone = local_zone()
        try:
            summary = summarize(self.ledger, now, zone, self.price)
        except ValueError as exc:  # the TON price is in another currency than the tariff
            log.warning("net earnings not shown: %s", exc)
            summary = summarize(self.ledger, now, zone, None)
        series = {name: build(self.ledger, now, count, zone)
                  for name, (build, count) in PERIODS.items()}
        recent = self.ledger.requests(since=now - timedelta(days=30))[-RECENT_REQUESTS:]
        return EarningsView(summary, series, list(reversed(recent)))

    def start(self, interval_s: float = REFRESH_INTERVAL_S) -> None:
        if self._timer is None or self._timer.done():
            self._timer = spawn(self._every(interval_s), name="earnings.timer")

    async def stop(self) -> None:
        await cancel_and_wait(self._timer)

    async def _every(self, interval_s: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(interval_s)

    async def export(self, path: Path) -> int:
        count = await run_blocking(export_csv, self.ledger, path, local_zone())
        self.export_finished.emit(f"Exported {count} rows to {path}")
        return count
