"""Wizard pages of the wallet step: link, create (show words, ask three back), import, and the
node wallet with its funding QR code and live balance."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.ui.wallet.qr import QrLabel, ton_transfer_link
from cocoon_desktop.ui.widgets import AddressLine, StateLabel, muted
from cocoon_desktop.ui.wizard.base import WizardPage
from cocoon_desktop.ui_logic.wizard import WizardError
from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.errors import WalletError

BALANCE_POLL_S = 10.0


class LinkAddressPage(WizardPage):
    title = "Link your payout address"
    subtitle = "Paste the address from your wallet app. No key ever leaves that wallet."

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.address = QLineEdit()
        self.address.setPlaceholderText("UQ…, EQ…, 0Q…, kQ… or 0:…")
        self.link = QPushButton("Link this address")
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(self.link)
        self.layout_.addLayout(row)
        self.link.clicked.connect(lambda: spawn(self.submit(), name="wizard.link"))
        self.finish_layout()

    async def submit(self) -> bool:
        text = self.address.text()
        try:
            self.machine.parse_owner_address(text)
            await self.services.wallet.link_owner(text)  # kept as given, shown back as given
        except (WalletError, ValueError) as exc:
            self.error.set_state(str(exc), "bad")
            return False
        return self.act(lambda: self.machine.link_owner_address(text))


class ShowWordsPage(WizardPage):
    title = "Write down your 24 secret words"
    subtitle = ("On paper, in order. They are shown once; anyone who has them owns the wallet. "
                "Never type them into a website.")

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.grid = QGridLayout()
        self.cells: list[QLabel] = []
        for i in range(24):
            cell = QLabel()
            cell.setObjectName("title")
            self.cells.append(cell)
            self.grid.addWidget(cell, i % 8, i // 8)
        self.layout_.addLayout(self.grid)
        self.done = QPushButton("I have written them down")
        self.done.clicked.connect(lambda: self.act(self.machine.words_written_down))
        self.layout_.addWidget(self.done, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish_layout()

    def enter(self) -> None:
        if not self.machine.words_to_show:
            self.done.setEnabled(False)
            spawn(self._generate(), name="wizard.new_words")
        else:
            self._show()

    async def _generate(self) -> None:
        words = await self.services.wallet.new_mnemonic()
        self.machine.mnemonic_generated(words)
        words.clear()
        self._show()

    def _show(self) -> None:
        for i, (cell, word) in enumerate(zip(self.cells, self.machine.words_to_show,
                                             strict=True)):
            cell.setText(f"{i + 1:2d}. {word}")
        self.done.setEnabled(True)

    def leave(self) -> None:
        for cell in self.cells:
            cell.clear()


class ConfirmWordsPage(WizardPage):
    title = "Check your copy"
    subtitle = "Type the words asked for, from your written copy."

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.form = QFormLayout()
        self.inputs: dict[int, QLineEdit] = {}
        self.layout_.addLayout(self.form)
        self.confirm = QPushButton("Confirm and keep the wallet")
        self.confirm.clicked.connect(lambda: spawn(self.submit(), name="wizard.confirm"))
        self.layout_.addWidget(self.confirm, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish_layout()

    def enter(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.inputs = {}
        for position in self.machine.asked_positions:
            line = QLineEdit()
            self.inputs[position] = line
            self.form.addRow(f"Word #{position}", line)

    async def submit(self) -> bool:
        answers = {p: line.text() for p, line in self.inputs.items()}
        try:
            words = self.machine.confirm_words(answers)
            info = await self.services.wallet.save_words(words, origin="created")
        except (WizardError, WalletError) as exc:
            self.error.set_state(str(exc), "bad")
            return False
        finally:
            for line in self.inputs.values():
                line.clear()
        owner = info.addresses[info.preferred_version]
        return self.act(lambda: self.machine.wallet_stored(owner))


class ImportWordsPage(WizardPage):
    title = "Import your wallet"
    subtitle = "Type or paste the 24 secret words of a TON wallet, in order."

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.words = QPlainTextEdit()
        self.words.setPlaceholderText("word1 word2 … word24")
        self.words.setFixedHeight(90)
        self.layout_.addWidget(self.words)
        self.submit_button = QPushButton("Import")
        self.submit_button.clicked.connect(lambda: spawn(self.submit(), name="wizard.import"))
        self.layout_.addWidget(self.submit_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish_layout()

    async def submit(self) -> bool:
        try:
            words = self.machine.parse_import(self.words.toPlainText())
            info = await self.services.wallet.save_words(words, origin="imported")
        except WizardError as exc:
            self.error.set_state(exc.shown_text, "bad")
            return False
        except WalletError as exc:
            self.error.set_state(str(exc), "bad")
            return False
        self.words.clear()
        owner = info.addresses[info.preferred_version]
        return self.act(lambda: self.machine.wallet_stored(owner))

    def leave(self) -> None:
        self.words.clear()


class NodeWalletPage(WizardPage):
    title = "Your node wallet"
    subtitle = ("The worker's own wallet. It pays the network fees of your payouts; the "
                "payouts themselves go to your owner address.")

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.address = AddressLine("Creating…")
        self.payouts = muted("")
        self.qr = QrLabel(170)
        self.balance = StateLabel()
        self.fund_later = QCheckBox("I will fund it later")
        self.fund_later.toggled.connect(
            lambda on: self.act(lambda: self.machine.set_fund_later(on)))
        text = QHBoxLayout()
        column = QGridLayout()
        column.addWidget(self.address, 0, 0)
        column.addWidget(self.payouts, 1, 0)
        column.addWidget(self.balance, 2, 0)
        column.addWidget(self.fund_later, 3, 0)
        text.addLayout(column, 1)
        text.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        self.layout_.addLayout(text)
        self.scan_hint = muted("Scan the code with your wallet app: it fills in the address "
                               "and the amount.")
        self.layout_.addWidget(self.scan_hint)
        self.finish_layout()
        self._poll: asyncio.Task[None] | None = None

    def enter(self) -> None:
        funding = self.machine.needs_funding
        self.fund_later.setVisible(funding)
        self.qr.setVisible(funding)  # nothing to send on the devnet: no code to scan
        self.scan_hint.setVisible(funding)
        owner = self.machine.owner_address_shown
        self.payouts.setText(f"Payouts go to your owner address {owner}." if owner else
                             "No owner address: the local devnet pays nobody.")
        spawn(self._prepare(), name="wizard.node_wallet")

    def leave(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    async def _prepare(self) -> None:
        try:
            info = await self.services.wallet.ensure_node_wallet()
        except WalletError as exc:
            self.error.set_state(str(exc), "bad")
            return
        address = info.address or ""
        self.machine.node_wallet_ready(address)
        self.address.set_text(address or "The node wallet is ready; link an owner address to "
                              "see its address.", address)
        need = self.machine.min_node_balance_nanoton
        self.qr.set_payload(ton_transfer_link(address, need) if address else "")
        if not self.machine.needs_funding:
            self.balance.set_state("No funding needed on the local devnet.", "good")
        else:
            self.balance.set_state(f"Send {format_ton(need)} to start serving. Waiting for "
                                   "the balance…")
            self._poll = spawn(self._watch_balance(address), name="wizard.node_balance")
        self.changed.emit()

    async def _watch_balance(self, address: str) -> None:
        while True:
            reading = await self.services.wallet.read_balance(address, WalletVersion.NODE)
            if reading is not None and reading.snapshot is not None:
                self.machine.node_balance_updated(reading.snapshot.balance_nano)
                note = "" if reading.fresh else f" (last known: {reading.state.message})"
                level = "good" if self.machine.funded else ""
                self.balance.set_state(
                    f"Balance: {format_ton(reading.snapshot.balance_nano)}{note}", level)
                self.changed.emit()
            elif reading is not None:
                self.balance.set_state(f"Balance not known yet: {reading.state.message}", "warn")
            await asyncio.sleep(BALANCE_POLL_S)
