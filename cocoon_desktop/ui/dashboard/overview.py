"""The Dashboard page: what serving earns now on top; serving and the engine, the local
devnet's test jobs and endpoint, the machine; GPU cards with live charts (or, without an NVIDIA
GPU, one calm line), live CPU, memory and tokens/s charts, GPU events."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from cocoon_desktop.hardware.history import Series
from cocoon_desktop.hardware.snapshots import GpuAvailability, GpuEvent, HealthTick
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.ui.controllers.devnet_load import DevnetLoadController
from cocoon_desktop.ui.controllers.earnings import EarningsController
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.gpu import GpuController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.dashboard.devnet_card import DevnetCard
from cocoon_desktop.ui.dashboard.earnings_glance import EarningsGlance
from cocoon_desktop.ui.dashboard.engine_panel import EnginePanel
from cocoon_desktop.ui.dashboard.gpu_card import GpuCard
from cocoon_desktop.ui.dashboard.host_card import HostCard, MachineCharts, NoGpuCard
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import Card, StateLabel


class DashboardPage(QWidget):
    def __init__(self, engine: EngineController, node: NodeController, gpu: GpuController,
                 earnings: EarningsController | None, pause_temperature_c: int,
                 devnet: DevnetLoadController | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gpu = gpu
        self.pause_temperature_c = pause_temperature_c
        self.glance = EarningsGlance()
        self.engine_panel = EnginePanel(engine, node)
        self.devnet = DevnetCard(devnet, node) if devnet is not None else None
        self.host = HostCard()
        self.machine = MachineCharts(self._history)
        self.events = Card("GPU events")
        self.events_text = StateLabel("No GPU errors seen.")
        self.events.body.addWidget(self.events_text)
        self.gpu_cards: dict[int, GpuCard] = {}
        self.no_gpu: NoGpuCard | None = None
        self.gpu_column = QVBoxLayout()
        self.gpu_column.setSpacing(Space.M)
        self._build()
        gpu.availability_changed.connect(self.show_availability)
        gpu.snapshot_updated.connect(self.show_tick)
        gpu.gpu_event_received.connect(self.show_event)
        node.status_changed.connect(self._on_node_status_changed)
        if earnings is not None:
            earnings.earnings_updated.connect(self.glance.show_view)
            earnings.cleared.connect(self.glance.show_cleared)
            self.glance.show_cleared(earnings.network)
            if earnings.view is not None:
                self.glance.show_view(earnings.view)
        if gpu.availability is not None:
            self.show_availability(gpu.availability)

    def _build(self) -> None:
        left = QVBoxLayout()
        left.setSpacing(Space.M)
        left.addWidget(self.engine_panel)
        if self.devnet is not None:
            left.addWidget(self.devnet)
        left.addWidget(self.host)
        left.addStretch(1)
        right = QVBoxLayout()
        right.setSpacing(Space.M)
        right.addLayout(self.gpu_column)
        right.addWidget(self.machine)
        right.addWidget(self.events)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(Space.M)
        columns.addLayout(left, 2)
        columns.addLayout(right, 3)
        content = QWidget()
        page = QVBoxLayout(content)
        page.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        page.setSpacing(Space.M)
        page.addWidget(self.glance)
        page.addLayout(columns)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _history(self, metric: str, window_s: float, max_points: int) -> Series | None:
        return self.gpu.series(metric, window_s, max_points)

    def _on_node_status_changed(self, status: NodeStatus) -> None:
        stats = status.engine.stats
        self.machine.set_tokens_per_s(stats.tokens_per_second_recent
                                      if stats is not None else None)

    def show_availability(self, availability: GpuAvailability) -> None:
        for card in self.gpu_cards.values():
            card.deleteLater()
        self.gpu_cards.clear()
        if self.no_gpu is not None:
            self.no_gpu.deleteLater()
            self.no_gpu = None
        self.events.setVisible(availability.available)
        if not availability.available or not self.gpu.static:
            self.no_gpu = NoGpuCard(availability)
            self.gpu_column.addWidget(self.no_gpu)
            return
        for static in self.gpu.static:
            card = GpuCard(static, self.pause_temperature_c, self._history)
            self.gpu_cards[static.index] = card
            self.gpu_column.addWidget(card)

    def show_tick(self, tick: HealthTick) -> None:
        self.host.update_tick(tick)
        self.machine.update_tick(tick)
        for sample in tick.gpus:
            card = self.gpu_cards.get(sample.index)
            if card is not None:
                card.update_sample(sample, tick.wall_time_s)

    def show_event(self, event: GpuEvent) -> None:
        events = self.gpu.recent_events()[-5:] or [event]
        lines = [f"{time.strftime('%H:%M:%S', time.localtime(e.wall_time_s))} GPU "
                 f"{e.gpu_index}: {e.kind} {e.xid or ''} {e.description} ({e.severity.value})"
                 for e in events]
        worst = "bad" if any(e.severity.value == "critical" for e in events) else "warn"
        self.events_text.set_state("\n".join(lines), worst)
