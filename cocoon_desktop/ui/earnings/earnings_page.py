"""The Earnings screen: figures, a chart over day/week/month, pending vs paid, gross vs net,
per model and per proxy, the per-request table, and CSV export.

The figures are one network's (its own ledger): the card's note names it and says plainly when
the amounts are test tokens; the CSV's suggested name carries the network too. Unmeasured
energy shows "—" and leaves the net unknown."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.earnings.export import ExportError
from cocoon_desktop.earnings.labels import (
    energy_text,
    export_file_name,
    is_test_money,
    money_note,
    net_figure,
)
from cocoon_desktop.earnings.series import SeriesPoint
from cocoon_desktop.protocol.money import NANOTON_PER_TON, format_ton
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.charts import BarChart
from cocoon_desktop.ui.controllers.earnings import EarningsController, EarningsView
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import Card, Figure, StateLabel
from cocoon_desktop.ui_logic.format import model_display_name

COLUMNS = ("Finished", "Model", "Proxy", "Prompt", "Cached", "Completion", "Adjusted",
           "Earned", "Energy")
NUMBER_COLUMNS = frozenset(range(3, len(COLUMNS)))  # right-aligned, so digits line up
MODEL_COLUMN = 1


def bar_labels(period: str, points: list[SeriesPoint]) -> list[str]:
    fmt = "%H" if period == "day" else "%a %d" if period == "week" else "%d %b"
    return [p.start.strftime(fmt) for p in points]


class EarningsPage(QWidget):
    def __init__(self, controller: EarningsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.period = "week"
        self.figures: dict[str, Figure] = {}
        figures_card = Card("Earned")
        self.network_note = StateLabel()
        self.network_note.setWordWrap(False)
        figures_card.header.addWidget(self.network_note)
        grid = QGridLayout()
        names = ("Today", "Last 7 days", "Last 30 days", "All time", "Pending payout",
                 "Paid out", "Net today", "Tokens/s (last hour)")
        for i, name in enumerate(names):
            self.figures[name] = Figure(name.lower())
            grid.addWidget(self.figures[name], i // 4, i % 4)
        figures_card.body.addLayout(grid)
        chart_card = Card("Earnings over time")
        self.period_buttons: dict[str, QPushButton] = {}
        group = QButtonGroup(self)
        for period in ("day", "week", "month"):
            button = QPushButton(period.capitalize())
            button.setCheckable(True)
            group.addButton(button)
            button.clicked.connect(lambda _=False, p=period: self.show_period(p))
            chart_card.header.addWidget(button)
            self.period_buttons[period] = button
        self.period_buttons[self.period].setChecked(True)
        self.chart = BarChart("TON", lambda ton: format_ton(round(ton * NANOTON_PER_TON)))
        chart_card.body.addWidget(self.chart)
        self.breakdown = StateLabel()
        chart_card.body.addWidget(self.breakdown)
        table_card = Card("Served requests")
        self.export_button = QPushButton("Export CSV…")
        table_card.header.addWidget(self.export_button)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)  # the model's name takes the room, not the energy
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(MODEL_COLUMN, QHeaderView.ResizeMode.Stretch)
        table_card.body.addWidget(self.table)
        self.status = StateLabel()
        top = QHBoxLayout()
        top.addWidget(figures_card, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        layout.setSpacing(Space.M)
        layout.addLayout(top)
        layout.addWidget(chart_card)
        layout.addWidget(table_card, 1)
        layout.addWidget(self.status)
        self.export_button.clicked.connect(self._on_export_clicked)
        controller.earnings_updated.connect(self.show_view)
        controller.cleared.connect(self.show_cleared)
        self.show_cleared(controller.network)
        if controller.view is not None:
            self.show_view(controller.view)

    def show_network(self, network: NetworkKind) -> None:
        self.network_note.set_state(money_note(network),
                                    "warn" if is_test_money(network) else "good")

    def show_cleared(self, network: NetworkKind) -> None:
        """Another network's ledger: nothing of the previous one stays on screen."""
        self.show_network(network)
        for figure in self.figures.values():
            figure.set_value("—")
        self.breakdown.set_state("")
        self.table.setRowCount(0)
        self.chart.set_bars([], [])
        self.status.set_state("")

    def show_view(self, view: EarningsView) -> None:
        self.show_network(view.network)
        s = view.summary
        f = self.figures
        f["Today"].set_value(format_ton(s.today.earned_nanoton),
                             f"{s.today.requests} requests")
        f["Last 7 days"].set_value(format_ton(s.last_7_days.earned_nanoton))
        f["Last 30 days"].set_value(format_ton(s.last_30_days.earned_nanoton))
        f["All time"].set_value(format_ton(s.all_time.earned_nanoton),
                                f"{s.all_time.requests} requests")
        f["Pending payout"].set_value(
            format_ton(s.pending_nanoton),
            f"{format_ton(s.in_flight_nanoton)} on its way" if s.in_flight_nanoton else "")
        f["Paid out"].set_value(format_ton(s.paid_nanoton))
        value, why = net_figure(s.today, s.energy_currency)
        f["Net today"].set_value(value, why, note=why if value == "—" else "")
        f["Tokens/s (last hour)"].set_value(f"{s.generation_tokens_per_s:.1f}",
                                            f"{s.requests_last_hour} requests in the last hour")
        models = ", ".join(f"{model_display_name(g.label)}: "
                           f"{format_ton(g.figures.earned_nanoton)}"
                           for g in s.by_model[:3])
        self.breakdown.set_state(f"By model: {models}" if models else "No requests served yet.")
        self._fill_table(view)
        self.show_period(self.period)

    def show_period(self, period: str) -> None:
        self.period = period
        self.period_buttons[period].setChecked(True)
        view = self.controller.view
        if view is None:
            return
        points = view.series[period]
        self.chart.set_bars(bar_labels(period, points),
                            [p.earned_nanoton / NANOTON_PER_TON for p in points])

    def _fill_table(self, view: EarningsView) -> None:
        self.table.setRowCount(len(view.recent))
        for row, r in enumerate(view.recent):
            cells = (r.finished_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                     model_display_name(r.model),
                     r.proxy_key[:12] + "…", r.tokens.prompt_tokens, r.tokens.cached_tokens,
                     r.tokens.completion_tokens, r.adjusted_tokens, format_ton(r.earned_nanoton),
                     energy_text(r.energy_j))
            for column, value in enumerate(cells):
                item = QTableWidgetItem(str(value))
                if column == 1:
                    item.setToolTip(r.model)
                if column in NUMBER_COLUMNS:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)

    def _on_export_clicked(self) -> None:
        network = self.controller.network
        name, _ = QFileDialog.getSaveFileName(
            self, f"Export {money_note(network)}", export_file_name(network, date.today()),
            "CSV files (*.csv)")
        if name:
            spawn(self.export_to(Path(name)), name="earnings.export")

    async def export_to(self, path: Path) -> None:
        try:
            count = await self.controller.export(path)
        except (ExportError, OSError) as exc:
            self.status.set_state(f"Export failed: {exc}", "bad")
            return
        self.status.set_state(f"Exported {count} rows to {path} (timestamps and amounts, for "
                              "your records).", "good")
