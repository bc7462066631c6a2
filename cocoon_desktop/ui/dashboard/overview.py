"""The Dashboard page: serving and engine, the earnings glance, GPU cards, host, events."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from cocoon_desktop.earnings.labels import is_test_money, money_note
from cocoon_desktop.hardware.snapshots import GpuAvailability, GpuEvent, HealthTick
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.controllers.earnings import EarningsController, EarningsView
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.gpu import GpuController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.dashboard.engine_panel import EnginePanel
from cocoon_desktop.ui.dashboard.gpu_card import GpuCard
from cocoon_desktop.ui.dashboard.host_card import HostCard, NoGpuCard
from cocoon_desktop.ui.widgets import Card, Figure, StateLabel

CHART_WINDOW_S = 300.0


class EarningsGlance(Card):
    """Today, 7 days, all time and pending, of the network being served (its own ledger),
    with a note saying which network and whether the amounts are real TON."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Earnings", parent)
        self.network_note = StateLabel()
        self.header.addWidget(self.network_note)
        grid = QGridLayout()
        self.figures = {name: Figure(name) for name in ("today", "last 7 days", "all time",
                                                        "pending payout")}
        for i, figure in enumerate(self.figures.values()):
            grid.addWidget(figure, i // 2, i % 2)
        self.body.addLayout(grid)

    def show_cleared(self, network: NetworkKind) -> None:
        self.network_note.set_state(money_note(network),
                                    "warn" if is_test_money(network) else "good")
        for figure in self.figures.values():
            figure.set_value("—")

    def show_view(self, view: EarningsView) -> None:
        self.show_cleared(view.network)
        s = view.summary
        self.figures["today"].set_value(format_ton(s.today.earned_nanoton))
        self.figures["last 7 days"].set_value(format_ton(s.last_7_days.earned_nanoton))
        self.figures["all time"].set_value(format_ton(s.all_time.earned_nanoton))
        self.figures["pending payout"].set_value(format_ton(s.pending_nanoton))


class DashboardPage(QWidget):
    def __init__(self, engine: EngineController, node: NodeController,
                 gpu: GpuController, earnings: EarningsController | None,
                 pause_temperature_c: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gpu = gpu
        self.pause_temperature_c = pause_temperature_c
        self.engine_panel = EnginePanel(engine, node)
        self.glance = EarningsGlance()
        self.host = HostCard()
        self.events = Card("GPU events")
        self.events_text = StateLabel("No GPU errors seen.")
        self.events.body.addWidget(self.events_text)
        self.gpu_cards: dict[int, GpuCard] = {}
        self.no_gpu: NoGpuCard | None = None
        self.gpu_column = QVBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self.engine_panel)
        left.addWidget(self.glance)
        left.addWidget(self.host)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addLayout(self.gpu_column)
        right.addWidget(self.events)
        right.addStretch(1)
        content = QWidget()
        row = QHBoxLayout(content)
        row.addLayout(left, 2)
        row.addLayout(right, 3)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        QVBoxLayout(self).addWidget(scroll)
        gpu.availability_changed.connect(self.show_availability)
        gpu.snapshot_updated.connect(self.show_tick)
        gpu.gpu_event_received.connect(self.show_event)
        if earnings is not None:
            earnings.earnings_updated.connect(self.glance.show_view)
            earnings.cleared.connect(self.glance.show_cleared)
            self.glance.show_cleared(earnings.network)
            if earnings.view is not None:
                self.glance.show_view(earnings.view)
        if gpu.availability is not None:
            self.show_availability(gpu.availability)

    def show_availability(self, availability: GpuAvailability) -> None:
        for card in self.gpu_cards.values():
            card.deleteLater()
        self.gpu_cards.clear()
        if self.no_gpu is not None:
            self.no_gpu.deleteLater()
            self.no_gpu = None
        if not availability.available or not self.gpu.static:
            self.no_gpu = NoGpuCard(availability)
            self.gpu_column.addWidget(self.no_gpu)
            return
        for static in self.gpu.static:
            card = GpuCard(static, self.pause_temperature_c)
            prefix = f"gpu{static.index}."
            card.seed(*(self.gpu.series(prefix + m, CHART_WINDOW_S) for m in (
                "temperature_c", "utilization_gpu_percent", "memory_used_bytes", "power_w")))
            self.gpu_cards[static.index] = card
            self.gpu_column.addWidget(card)

    def show_tick(self, tick: HealthTick) -> None:
        self.host.update_tick(tick)
        for sample in tick.gpus:
            card = self.gpu_cards.get(sample.index)
            if card is not None:
                card.update_sample(sample)

    def show_event(self, event: GpuEvent) -> None:
        events = self.gpu.recent_events()[-5:] or [event]
        lines = [f"{time.strftime('%H:%M:%S', time.localtime(e.wall_time_s))} GPU "
                 f"{e.gpu_index}: {e.kind} {e.xid or ''} {e.description} ({e.severity.value})"
                 for e in events]
        worst = "bad" if any(e.severity.value == "critical" for e in events) else "warn"
        self.events_text.set_state("\n".join(lines), worst)
