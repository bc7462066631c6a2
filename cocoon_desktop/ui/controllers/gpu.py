"""GpuController: the health service (GPU and host monitoring at 1 Hz) as signals.

The service does its blocking reads off the GUI thread itself; this adapter starts it with
`spawn()`, forwards each tick and GPU error event, and answers the dashboard's chart queries
from the in-memory history.
"""

from __future__ import annotations

import asyncio
import logging
import time

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.hardware.history import Series
from cocoon_desktop.hardware.protection import ProtectionStatus
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.snapshots import GpuAvailability, GpuEvent, GpuStatic, HealthTick
from cocoon_desktop.ui.aio import run_blocking, spawn

log = logging.getLogger(__name__)


class GpuController(QObject):
    snapshot_updated = Signal(object)  # HealthTick
    gpu_event_received = Signal(object)  # GpuEvent
    availability_changed = Signal(object)  # GpuAvailability

    def __init__(self, service: HealthService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.availability: GpuAvailability | None = None
        self.static: tuple[GpuStatic, ...] = ()
        self._task: asyncio.Task[None] | None = None
        service.add_tick_listener(self.snapshot_updated.emit)
        service.add_event_listener(self.gpu_event_received.emit)

    @property
    def latest(self) -> HealthTick | None:
        return self.service.latest

    @property
    def protection(self) -> ProtectionStatus | None:
        control = self.service.protection
        return control.policy.status if control is not None else None

    async def start(self) -> None:
        """Read what does not change, then tick until stopped."""
        self.availability = await run_blocking(self.service.gpu.availability)
        self.static = await run_blocking(self.service.gpu.static)
        self.availability_changed.emit(self.availability)
        if self._task is None or self._task.done():
            self._task = spawn(self.service.run(), name="health.run")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await run_blocking(self.service.close)

    def set_engine_pid(self, pid: int | None) -> None:
        """Follow the engine process's CPU and memory (a new pid after each restart)."""
        self.service.set_engine_pid(pid)

    def set_interval(self, interval_s: float) -> None:
        self.service.interval_s = interval_s

    def series(self, metric: str, window_s: float, max_points: int = 300) -> Series | None:
        """A metric's recent points for a chart; None until it has been recorded."""
        try:
            return self.service.history.series(metric, window_s, time.time(), max_points)
        except KeyError:
            return None

    def recent_events(self) -> list[GpuEvent]:
        return list(self.service.events)
