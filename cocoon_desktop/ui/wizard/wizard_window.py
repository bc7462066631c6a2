"""The first-run wizard window: renders `WizardMachine.step`, forwards Next and Back."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout

from cocoon_desktop.ui.wizard.base import WizardPage, WizardServices
from cocoon_desktop.ui.wizard.model_page import ModelPage
from cocoon_desktop.ui.wizard.pages import (
    EligibilityPage,
    FinishPage,
    NetworkPage,
    WalletChoicePage,
)
from cocoon_desktop.ui.wizard.wallet_pages import (
    ConfirmWordsPage,
    ImportWordsPage,
    LinkAddressPage,
    NodeWalletPage,
    ShowWordsPage,
)
from cocoon_desktop.ui_logic.wizard import Step, WizardError, WizardMachine, WizardResult

PAGES: dict[Step, type[WizardPage]] = {
    Step.ELIGIBILITY: EligibilityPage, Step.NETWORK: NetworkPage,
    Step.WALLET_CHOICE: WalletChoicePage, Step.LINK_ADDRESS: LinkAddressPage,
    Step.SHOW_WORDS: ShowWordsPage, Step.CONFIRM_WORDS: ConfirmWordsPage,
    Step.IMPORT_WORDS: ImportWordsPage, Step.NODE_WALLET: NodeWalletPage,
    Step.MODEL: ModelPage, Step.FINISH: FinishPage,
}
PLAIN_NEXT = {Step.ELIGIBILITY, Step.NETWORK, Step.NODE_WALLET, Step.MODEL}


class WizardWindow(QDialog):
    finished_with = Signal(object)  # WizardResult
    network_chosen = Signal(object)  # NetworkKind, when leaving the network step

    def __init__(self, machine: WizardMachine, services: WizardServices) -> None:
        super().__init__()
        self.setWindowTitle("Set up Cocoon Desktop")
        self.resize(760, 600)
        self.machine = machine
        self.stack = QStackedWidget()
        self.pages: dict[Step, WizardPage] = {}
        for step, page_type in PAGES.items():
            page = page_type(machine, services)
            page.changed.connect(self.sync)
            self.pages[step] = page
            self.stack.addWidget(page)
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self.back_button.clicked.connect(self._on_back_clicked)
        self.next_button.clicked.connect(self._on_next_clicked)
        self.cancel_button.clicked.connect(self.reject)
        self._shown: Step | None = None
        self.sync()

    @property
    def page(self) -> WizardPage:
        return self.pages[self.machine.step]

    def sync(self) -> None:
        """Show the machine's step; enable what the machine allows."""
        step = self.machine.step
        if step is not self._shown:
            if self._shown is not None:
                self.pages[self._shown].leave()
            if self._shown is Step.NETWORK and self.machine.network is not None:
                self.network_chosen.emit(self.machine.network)
            self._shown = step
            self.stack.setCurrentWidget(self.pages[step])
            self.pages[step].enter()
        self.back_button.setEnabled(self.machine.can_go_back)
        finishing = step is Step.FINISH
        self.next_button.setVisible(step in PLAIN_NEXT or finishing)
        self.next_button.setText("Finish and open the chat" if finishing else "Next")
        self.next_button.setEnabled(self.machine.can_advance())

    def _on_back_clicked(self) -> None:
        self.page.act(self.machine.back)

    def _on_next_clicked(self) -> None:
        if self.machine.step is Step.FINISH:
            result: WizardResult = self.machine.finish()
            self.finished_with.emit(result)
            self.accept()
            return
        try:
            self.machine.next()
        except WizardError as exc:
            self.page.error.set_state(str(exc), "bad")
        self.sync()

    def done(self, code: int) -> None:
        for page in self.pages.values():
            page.leave()
        if code != QDialog.DialogCode.Accepted:
            self.machine.cancel()
        super().done(code)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.machine.cancel()
        super().closeEvent(event)
