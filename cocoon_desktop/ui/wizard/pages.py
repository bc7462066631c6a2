"""Wizard pages: eligibility, network, wallet choice, finish."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QLabel, QPushButton, QRadioButton

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import AddressLine, StateLabel, muted
from cocoon_desktop.ui.wizard.base import WizardPage
from cocoon_desktop.ui_logic.eligibility import DoctorReportError
from cocoon_desktop.ui_logic.format import model_display_name
from cocoon_desktop.ui_logic.wallet_text import address_note
from cocoon_desktop.ui_logic.wizard import WalletMode

STATUS_MARKS = {"ok": "✔", "info": "•", "warning": "!", "problem": "✖"}
NETWORK_TEXT = {
    NetworkKind.DEVNET: ("Local devnet (on this computer)",
                         "A complete Cocoon network on loopback: see the whole path work. No "
                         "TON is paid."),
    NetworkKind.TESTNET: ("Cocoon test network",
                          "Serve real requests on a Cocoon test network, paid in testnet TON."),
    NetworkKind.MAINNET: ("Cocoon mainnet", "Serve paying users for real TON."),
}
WALLET_TEXT = {
    WalletMode.LINK: "Link an address I already have (watch-only, recommended)",
    WalletMode.CREATE: "Create a new TON wallet in this app",
    WalletMode.IMPORT: "Import my TON wallet's 24 secret words",
    WalletMode.SKIP: "Skip: no payouts on the local devnet",
}


class EligibilityPage(WizardPage):
    title = "What this computer can serve"
    subtitle = "The app checks your GPU, drivers, confidential computing and keyring."

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.headline = StateLabel("Checking…")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.retry = QPushButton("Check again")
        self.retry.clicked.connect(self.enter)
        self.retry.hide()
        for widget in (self.headline, self.details, self.retry):
            self.layout_.addWidget(widget)
        self.finish_layout()
        self._started = False

    def enter(self) -> None:
        if self.machine.eligibility is None and not self._started:
            self._started = True
            spawn(self._check(), name="wizard.doctor")

    async def _check(self) -> None:
        self.retry.hide()
        self.headline.set_state("Checking this computer…")
        try:
            view = await self.services.doctor.run()
        except (DoctorReportError, OSError) as exc:
            self.headline.set_state(str(exc), "bad")
            self.retry.show()
            self._started = False
            return
        self.machine.eligibility_ready(view)
        level = "good" if view.test_networks_eligible else "warn"
        self.headline.set_state(view.headline, level)
        lines = [f"{STATUS_MARKS.get(status, '•')} {title}: {summary}"
                 for title, status, summary in view.checks]
        lines += [""] + [f"Why: {r}" for r in view.reasons]
        lines += [f"Next: {s}" for s in view.next_steps]
        self.details.setText("\n".join(lines))
        self.changed.emit()


class NetworkPage(WizardPage):
    title = "Where to serve"
    subtitle = "You can change this later in Settings."

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.group = QButtonGroup(self)
        self.buttons: dict[NetworkKind, QRadioButton] = {}
        for kind, (label, text) in NETWORK_TEXT.items():
            button = QRadioButton(label)
            self.buttons[kind] = button
            self.group.addButton(button)
            self.layout_.addWidget(button)
            self.layout_.addWidget(muted(text))
            button.toggled.connect(lambda on, k=kind: on and self._on_network_chosen(k))
        self.finish_layout()

    def enter(self) -> None:
        allowed = self.machine.allowed_networks()
        for kind, button in self.buttons.items():
            button.setEnabled(kind in allowed)
            if kind not in allowed:
                button.setToolTip("Not available on this computer (see the previous step).")
        if self.machine.network is None:
            default = NetworkKind.TESTNET if NetworkKind.TESTNET in allowed else NetworkKind.DEVNET
            self.buttons[default].setChecked(True)

    def _on_network_chosen(self, kind: NetworkKind) -> None:
        self.act(lambda: self.machine.choose_network(kind))


class WalletChoicePage(WizardPage):
    title = "Your TON wallet"
    subtitle = ("Payouts go to an owner address. Linking the address of a wallet you already "
                "use (Tonkeeper, MyTonWallet, a hardware wallet) keeps its keys away from this "
                "computer.")

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.buttons: dict[WalletMode, QPushButton] = {}
        for mode, text in WALLET_TEXT.items():
            button = QPushButton(text)
            button.setMinimumHeight(40)
            button.clicked.connect(lambda _=False, m=mode: self._on_mode_chosen(m))
            self.buttons[mode] = button
            self.layout_.addWidget(button)
        self.finish_layout()

    def enter(self) -> None:
        allowed = self.machine.allowed_wallet_modes()
        for mode, button in self.buttons.items():
            button.setVisible(mode in allowed)

    def _on_mode_chosen(self, mode: WalletMode) -> None:
        self.act(lambda: self.machine.choose_wallet_mode(mode))


class FinishPage(WizardPage):
    title = "All set"
    subtitle = "Finish opens the test chat with your model."

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.network = QLabel()
        self.owner = AddressLine()
        self.node = AddressLine()
        self.model = QLabel()
        grid = QGridLayout()
        grid.setHorizontalSpacing(Space.L)
        grid.setVerticalSpacing(Space.S)
        for row, (name, value) in enumerate((("Network", self.network),
                                             ("Owner address", self.owner),
                                             ("Node wallet", self.node), ("Model", self.model))):
            grid.addWidget(muted(name, wrap=False), row, 0, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(value, row, 1)
        grid.setColumnStretch(1, 1)
        self.layout_.addLayout(grid)
        self.owner_note = muted("")
        self.model_note = muted("")
        self.layout_.addWidget(self.owner_note)
        self.layout_.addWidget(self.model_note)
        self.finish_layout()

    def enter(self) -> None:
        m = self.machine
        model = m.model
        funded = ("no funding needed on the local devnet" if not m.needs_funding
                  else "funded" if m.funded else
                  f"not funded yet: send {format_ton(m.min_node_balance_nanoton)} before serving")
        network = m.network
        self.network.setText(NETWORK_TEXT[network][0] if network else "—")
        owner = m.owner_address_shown
        self.owner.set_text(owner or "none (local devnet)", owner)
        node = m.node_wallet_address
        self.node.set_text(f"{node or '—'} ({funded})", node)
        name = model_display_name(model.name) if model is not None and model.name else "—"
        self.model.setText(name)
        self.model.setToolTip(model.name if model is not None else "")
        note = address_note(owner, m.owner_address, network) if network else ""
        self.owner_note.setText(note)
        self.owner_note.setVisible(bool(note))
        self.model_note.setText(model.note if model is not None else "")
