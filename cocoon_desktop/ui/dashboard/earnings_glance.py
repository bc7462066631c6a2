"""The dashboard's lead: what serving earns now (TON per hour at the last hour's pace, per day,
net of electricity when known), beside today's total, the week, all time and what is pending;
of the network being served (its own ledger), with a note saying which and whether the amounts
are real TON."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QWidget

from cocoon_desktop.earnings.labels import is_test_money, money_note
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.controllers.earnings import EarningsView
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import Card, Figure, StateLabel
from cocoon_desktop.ui_logic.rate import EarningRate, per_hour_text, rate_detail


class EarningsGlance(Card):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Earning now", parent)
        self.network_note = StateLabel()
        self.network_note.setWordWrap(False)
        self.header.addWidget(self.network_note)
        self.rate = Figure("at the last hour's pace", size="hero")
        grid = QGridLayout()
        grid.setHorizontalSpacing(Space.XL)
        grid.setVerticalSpacing(Space.S)
        grid.addWidget(self.rate, 0, 0, 2, 1)
        self.figures = {name: Figure(name) for name in ("today", "last 7 days", "all time",
                                                        "pending payout")}
        for i, figure in enumerate(self.figures.values()):
            grid.addWidget(figure, i // 2, 1 + i % 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(2, 2)
        self.body.addLayout(grid)

    def show_cleared(self, network: NetworkKind) -> None:
        self.network_note.set_state(money_note(network),
                                    "warn" if is_test_money(network) else "good")
        self.rate.set_value("—", note=rate_detail(None))
        for figure in self.figures.values():
            figure.set_value("—")

    def show_view(self, view: EarningsView) -> None:
        self.show_cleared(view.network)
        s = view.summary
        rate = EarningRate.of(s)
        self.rate.set_value(per_hour_text(rate.per_hour_nanoton), note=rate_detail(rate))
        self.figures["today"].set_value(format_ton(s.today.earned_nanoton),
                                        f"{s.today.requests} requests")
        self.figures["last 7 days"].set_value(format_ton(s.last_7_days.earned_nanoton))
        self.figures["all time"].set_value(format_ton(s.all_time.earned_nanoton))
        self.figures["pending payout"].set_value(format_ton(s.pending_nanoton))
