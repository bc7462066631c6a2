"""The Wallet screen: where payouts go (the address as the user gave it, with Copy), the node
wallet to fund, balances, withdraw (or why not)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.ui.controllers.wallet import WalletController, WalletView
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.wallet.qr import QrLabel, ton_transfer_link
from cocoon_desktop.ui.wallet.withdraw_dialog import WithdrawDialog
from cocoon_desktop.ui.widgets import AddressLine, Card, StateLabel, muted
from cocoon_desktop.ui_logic.format import format_age
from cocoon_desktop.ui_logic.wallet_text import address_note, withdraw_reason
from cocoon_desktop.wallet.chain_types import AccountReading, ChainState, ChainStatus
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.withdraw import NODE_WALLET_WORKING_NANO


def balance_text(reading: AccountReading | None) -> tuple[str, str]:
    """("1.2000 TON", "read 5 min ago, offline") for a balance reading."""
    if reading is None or reading.snapshot is None:
        return "—", "not read yet"
    amount = format_ton(reading.snapshot.balance_nano)
    if reading.fresh:
        return amount, "up to date"
    age = format_age(time.time() - reading.snapshot.fetched_at)
    return amount, f"last known, read {age}: {reading.state.message}"


class WalletPage(QWidget):
    def __init__(self, controller: WalletController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.keyring = StateLabel()
        self.chain = StateLabel()
        self.retry_button = QPushButton("Retry now")
        self.retry_button.clicked.connect(self._on_retry_clicked)
        self.owner_card = Card("Owner address: where your payouts go")
        self.owner_address = AddressLine("—")
        self.owner_note = muted("")
        self.owner_qr = QrLabel(150)
        self.owner_input = QLineEdit()
        self.owner_input.setPlaceholderText("Paste a TON address (UQ…, EQ…, 0Q…, kQ… or 0:…)")
        self.link_button = QPushButton("Link address")
        self.owner_status = StateLabel()
        self.node_card = Card("Node wallet: pays the network fees of your payouts")
        self.node_address = AddressLine("—")
        self.node_qr = QrLabel(150)
        self.node_balance = QLabel("—")
        self.node_balance.setObjectName("figure")
        self.node_balance_note = muted("")
        self.create_node_button = QPushButton("Create node wallet")
        self.export_button = QPushButton("Export key…")
        self.withdraw_button = QPushButton("Withdraw…")
        self.withdraw_reason = muted("")
        self.full_card = Card("Your full wallet (kept in this app)")
        self.full_rows = QGridLayout()
        self.forget_button = QPushButton("Forget this wallet…")
        self.status = StateLabel()
        self._build()
        controller.wallet_changed.connect(self.show_view)
        controller.balance_updated.connect(self._on_controller_balance_updated)
        controller.chain_state_changed.connect(self.show_chain_state)

    def _build(self) -> None:
        owner_text = QVBoxLayout()
        owner_text.setSpacing(Space.S)
        owner_text.addWidget(self.owner_address)
        owner_text.addWidget(self.owner_note)
        link_row = QHBoxLayout()
        link_row.addWidget(self.owner_input, 1)
        link_row.addWidget(self.link_button)
        owner_text.addLayout(link_row)
        owner_text.addWidget(self.owner_status)
        owner_text.addStretch(1)
        owner_row = QHBoxLayout()
        owner_row.addLayout(owner_text, 1)
        owner_row.addWidget(self.owner_qr)
        self.owner_card.body.addLayout(owner_row)
        node_text = QVBoxLayout()
        node_text.setSpacing(Space.S)
        node_text.addWidget(self.node_address)
        node_text.addWidget(self.node_balance)
        node_text.addWidget(self.node_balance_note)
        node_buttons = QHBoxLayout()
        for button in (self.create_node_button, self.export_button, self.withdraw_button):
            node_buttons.addWidget(button)
        node_buttons.addWidget(self.withdraw_reason, 1)
        node_text.addLayout(node_buttons)
        node_text.addStretch(1)
        node_row = QHBoxLayout()
        node_row.addLayout(node_text, 1)
        node_row.addWidget(self.node_qr)
        self.node_card.body.addLayout(node_row)
        self.full_card.body.addLayout(self.full_rows)
        self.full_card.body.addWidget(self.forget_button, 0, Qt.AlignmentFlag.AlignLeft)
        chain_row = QHBoxLayout()
        chain_row.addWidget(self.chain, 1)
        chain_row.addWidget(self.retry_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        layout.setSpacing(Space.M)
        layout.addWidget(self.keyring)
        layout.addLayout(chain_row)
        layout.addWidget(self.owner_card)
        layout.addWidget(self.node_card)
        layout.addWidget(self.full_card)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.link_button.clicked.connect(self._on_link_clicked)
        self.create_node_button.clicked.connect(
            lambda: spawn(self._create_node_wallet(), name="wallet.create_node"))
        self.export_button.clicked.connect(self._on_export_clicked)
        self.withdraw_button.clicked.connect(self.open_withdraw)
        self.forget_button.clicked.connect(self._on_forget_clicked)

    # -- showing state -------------------------------------------------------------------
    def show_view(self, view: WalletView) -> None:
        if view.keyring.usable:
            backend = view.keyring.backend_name
            self.keyring.set_state(f"Secrets are kept in the OS keyring ({backend}).")
        else:
            self.keyring.set_state(f"The OS keyring cannot be used: {view.keyring.problem}",
                                   "bad")
        self.owner_address.set_text(view.owner_address or "No owner address linked yet.",
                                    view.owner_address or "")
        self.owner_qr.set_payload(view.owner_address or "")
        note = address_note(view.owner_address or "", view.owner_network_form or "",
                            view.network)
        self.owner_note.setText(note)
        self.owner_note.setVisible(bool(note))
        node = view.node_wallet
        self.create_node_button.setVisible(node is None)
        self.export_button.setVisible(node is not None)
        reason = withdraw_reason(view.on_chain, node is not None,
                                 node is not None and bool(node.address))
        self.withdraw_button.setEnabled(not reason)
        self.withdraw_button.setToolTip(reason)
        self.withdraw_reason.setText(reason)
        if node is None:
            self.node_address.set_text("No node wallet yet: create it to serve.", "")
            self.node_qr.set_payload("")
        elif node.address is None:
            self.node_address.set_text("Link an owner address first: the node wallet's "
                                       "address depends on it.", "")
            self.node_qr.set_payload("")
        else:
            self.node_address.set_text(node.address)
            self.node_qr.set_payload(ton_transfer_link(node.address, NODE_WALLET_WORKING_NANO))
            self._show_node_balance(self.controller.balances.get(node.address))
        self.node_qr.setVisible(view.on_chain)  # nothing to send it on the devnet
        self.node_balance.setVisible(view.on_chain)
        if not view.on_chain:
            self.node_balance_note.setText("The local devnet settles nothing on a chain: "
                                           "this wallet needs no funding.")
            self.chain.set_state("Local devnet: no TON chain is used.")
            self.retry_button.hide()
        self._show_full_wallet(view)

    def _show_node_balance(self, reading: AccountReading | None) -> None:
        amount, note = balance_text(reading)
        self.node_balance.setText(amount)
        snapshot = reading.snapshot if reading is not None else None
        if snapshot is not None and snapshot.balance_nano < NODE_WALLET_WORKING_NANO:
            need = format_ton(NODE_WALLET_WORKING_NANO - snapshot.balance_nano)
            note += (f". Send at least {need} more (scan the QR code with your wallet app): "
                     "the worker needs about 2.1 TON here to start.")
        self.node_balance_note.setText(note)

    def _show_full_wallet(self, view: WalletView) -> None:
        while self.full_rows.count():
            item = self.full_rows.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        full = view.full_wallet
        self.full_card.setVisible(full is not None)
        if full is None:
            return
        for row, (version, address) in enumerate(full.addresses.items()):
            preferred = " (payouts)" if version is full.preferred_version else ""
            amount, note = balance_text(self.controller.balances.get(address))
            self.full_rows.addWidget(QLabel(f"{version.value}{preferred}"), row, 0)
            self.full_rows.addWidget(AddressLine(address), row, 1)
            self.full_rows.addWidget(QLabel(f"{amount} · {note}"), row, 2)

    def show_chain_state(self, state: ChainState) -> None:
        level = {ChainStatus.ONLINE: "good", ChainStatus.UNREACHABLE: "warn",
                 ChainStatus.OFFLINE: "bad"}.get(state.status, "")
        text = f"TON {state.network.value}: {state.status.value}"
        self.chain.set_state(f"{text}. {state.message}" if state.message else text, level)
        self.retry_button.setVisible(state.status in (ChainStatus.UNREACHABLE,
                                                      ChainStatus.OFFLINE))

    def _on_controller_balance_updated(self, address: str, reading: AccountReading) -> None:
        view = self.controller.view
        if view is None:
            return
        if view.node_wallet is not None and address == view.node_wallet.address:
            self._show_node_balance(reading)
        else:
            self._show_full_wallet(view)

    # -- actions -------------------------------------------------------------------------
    def _on_link_clicked(self) -> None:
        spawn(self.link_owner(self.owner_input.text()), name="wallet.link_owner")

    async def link_owner(self, text: str) -> bool:
        try:
            link = await self.controller.link_owner(text)
        except (WalletError, ValueError) as exc:
            self.owner_status.set_state(str(exc), "bad")
            return False
        self.owner_input.clear()
        self.owner_status.set_state(" ".join(link.warnings) or "Linked.",
                                    "warn" if link.warnings else "good")
        return True

    async def _create_node_wallet(self) -> None:
        try:
            await self.controller.ensure_node_wallet()
        except WalletError as exc:
            self.status.set_state(str(exc), "bad")

    def _on_retry_clicked(self) -> None:
        if self.controller.chain is not None:
            self.controller.chain.retry_now()
            spawn(self.controller.read_all_balances(), name="wallet.retry")

    def _on_export_clicked(self) -> None:
        answer = QMessageBox.warning(
            self, "Export the node wallet key",
            "Anyone with this key can spend the node wallet's TON. Show it only to copy it "
            "into your backup or the upstream worker's configuration. Show it now?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            spawn(self._export_key(), name="wallet.export_key")

    async def _export_key(self) -> None:
        try:
            key = await self.controller.export_node_key()
        except WalletError as exc:
            self.status.set_state(str(exc), "bad")
            return
        # Shown with open(), never exec(): no nested event loop inside a coroutine.
        box = QMessageBox(QMessageBox.Icon.Information, "Node wallet key",
                          "Your node wallet key (upstream base64 form):", parent=self)
        box.setInformativeText(key)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = box.addButton("Copy", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.buttonClicked.connect(
            lambda button: QGuiApplication.clipboard().setText(key) if button is copy else None)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def open_withdraw(self) -> WithdrawDialog:
        view = self.controller.view
        sources = [("node", "Node wallet")]
        if view is not None and view.full_wallet is not None:
            sources.append(("full", "Full wallet"))
        dialog = WithdrawDialog(self.controller, sources,
                                view.owner_address or "" if view else "", self)
        dialog.open()
        return dialog

    def _on_forget_clicked(self) -> None:
        answer = QMessageBox.warning(
            self, "Forget the full wallet",
            "This removes the wallet's 24 secret words from this computer's keyring. Without "
            "your written copy its TON is lost. Forget it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            spawn(self.controller.forget_full_wallet(), name="wallet.forget")
