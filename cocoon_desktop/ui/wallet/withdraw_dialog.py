"""Withdraw: enter, review (signed offline, fee estimated), confirm, send.

Nothing leaves the wallet before the user presses Send on the review page; Cancel works at
every step, including while the transfer is being prepared.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.widgets import StateLabel
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.withdraw import SEND_ALL, TransferConfirmation


class WithdrawDialog(QDialog):
    def __init__(self, controller: WalletController, sources: list[tuple[str, str]],
                 default_to: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Withdraw TON")
        self.resize(560, 360)
        self.controller = controller
        self.confirmation: TransferConfirmation | None = None
        self.task: asyncio.Task[None] | None = None
        self.source = QComboBox()
        for key, label in sources:
            self.source.addItem(label, key)
        self.to = QLineEdit(default_to)
        self.to.setPlaceholderText("Destination TON address")
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("Amount in TON, e.g. 1.5")
        self.send_all = QCheckBox("Send everything")
        self.send_all.toggled.connect(lambda on: self.amount.setEnabled(not on))
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Optional comment")
        form = QFormLayout()
        form.addRow("From", self.source)
        form.addRow("To", self.to)
        form.addRow("Amount", self.amount)
        form.addRow("", self.send_all)
        form.addRow("Comment", self.comment)
        entry = QWidget()
        entry.setLayout(form)
        self.pages = QStackedWidget()
        self.pages.addWidget(entry)
        self.pages.addWidget(self._review_page())
        self.status = StateLabel()
        self.cancel_button = QPushButton("Cancel")
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Review")
        self.next_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for button in (self.cancel_button, self.back_button, self.next_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.back_button.clicked.connect(self._on_back_clicked)
        self.next_button.clicked.connect(self._on_next_clicked)
        self.back_button.hide()

    def _review_page(self) -> QWidget:
        self.review_rows = QFormLayout()
        self.review_warnings = StateLabel()
        review = QWidget()
        layout = QVBoxLayout(review)
        layout.addLayout(self.review_rows)
        layout.addWidget(self.review_warnings)
        layout.addStretch(1)
        return review

    def _on_cancel_clicked(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.reject()

    def _on_back_clicked(self) -> None:
        self.confirmation = None
        self.pages.setCurrentIndex(0)
        self.back_button.hide()
        self.next_button.setText("Review")
        self.status.set_state("")

    def _on_next_clicked(self) -> None:
        step = self.review() if self.pages.currentIndex() == 0 else self.send()
        self.task = spawn(step, name="wallet.withdraw")

    async def review(self) -> None:
        amount = SEND_ALL if self.send_all.isChecked() else self.amount.text()
        self._busy("Preparing and signing the transfer (nothing is sent yet)…")
        try:
            confirmation = await self.controller.plan_withdraw(
                str(self.source.currentData()), self.to.text(), amount, self.comment.text())
        except (WalletError, ValueError) as exc:
            self._idle(str(exc), "bad")
            return
        self.confirmation = confirmation
        while self.review_rows.rowCount():
            self.review_rows.removeRow(0)
        for label, value in confirmation.summary_lines():
            row_value = QLabel(value)
            row_value.setWordWrap(True)
            self.review_rows.addRow(label, row_value)
        warnings = "\n".join(confirmation.warnings)
        self.review_warnings.set_state(warnings, "warn" if warnings else "")
        self.pages.setCurrentIndex(1)
        self.back_button.show()
        self.next_button.setText("Send")
        self._idle("Check every line, then press Send.")

    async def send(self) -> None:
        if self.confirmation is None:
            return
        self._busy("Sending…")
        outcome = await self.controller.send(self.confirmation)
        if not outcome.sent:
            self._idle(outcome.message, "bad")
            return
        self._idle(outcome.message, "good")
        self.next_button.hide()
        self.back_button.hide()
        self.cancel_button.setText("Close")

    def _busy(self, text: str) -> None:
        self.next_button.setEnabled(False)
        self.back_button.setEnabled(False)
        self.status.set_state(text)

    def _idle(self, text: str, level: str = "") -> None:
        self.next_button.setEnabled(True)
        self.back_button.setEnabled(True)
        self.status.set_state(text, level)
