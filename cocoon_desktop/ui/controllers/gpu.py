"""GpuController: the node's health service (GPU and host monitoring at 1 Hz) as signals.

The node runs the service (its blocking reads happen off the GUI thread); this adapter forwards
each tick and GPU error event, and answers the dashboard's chart queries from the history.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.hardware.history import Series
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.snapshots import GpuAvailability, GpuEvent, GpuStatic, HealthTick

log = logging.getLogger(__name__)


class GpuController(QObject):
    snapshot_updated = Signal(object)  # HealthTick
    gpu_event_received = Signal(object)  # GpuEvent
    availability_changed = Signal(object)  # GpuAvailability

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service: HealthService | None = None
        self.availability: GpuAvailability | None = None
        self.static: tuple[GpuStatic, ...] = ()

    @property
    def latest(self) -> HealthTick | None:
        return self.service.latest if self.service is not None else None

    async def attach(self, service: HealthService) -> None:
        """Follow a running health service: read what does not change, then every tick."""
        self.service = service
        self.availability = await run_blocking(service.gpu.availability)
        self.static = await run_blocking(service.gpu.static)
        service.add_tick_listener(self.snapshot_updated.emit)
        service.add_event_listener(self.gpu_event_received.emit)
        self.availability_changed.emit(self.availability)

    def series(self, metric: str, window_s: float, max_points: int = 300) -> Series | None:
        """A metric's recent points for a chart; None until it has been recorded."""
        if self.service is None:
            return None
        try:
            return self.service.history.series(metric, window_s, time.time(), max_points)
        except KeyError:
            return None

    def recent_events(self) -> list[GpuEvent]:
        return list(self.service.events) if self.service is not None else []
