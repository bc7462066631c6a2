"""The app's windows: the main window and its pages, the chat, the wizard, the quit notice.

They are built on the adapters alone (`Adapters`); what closing the main window means (hide to
the tray, or quit) is the shell's to decide.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from cocoon_desktop.core import tasks
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.adapters import Adapters
from cocoon_desktop.ui.chat.chat_window import ChatWindow
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.dashboard.engine_panel import STATE_LEVEL
from cocoon_desktop.ui.dashboard.model_dialog import ModelDialog
from cocoon_desktop.ui.dashboard.overview import DashboardPage
from cocoon_desktop.ui.earnings.earnings_page import EarningsPage
from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.logs_view import LogsPage
from cocoon_desktop.ui.main_window import MainWindow
from cocoon_desktop.ui.settings_page import SettingsPage
from cocoon_desktop.ui.wallet.wallet_page import WalletPage
from cocoon_desktop.ui.wizard.base import WizardServices
from cocoon_desktop.ui.wizard.wizard_window import WizardWindow
from cocoon_desktop.ui_logic.status_text import engine_line
from cocoon_desktop.ui_logic.wizard import WizardMachine, WizardResult
from cocoon_desktop.wallet.address import canonical_owner_address
from cocoon_desktop.wallet.mnemonic import check_mnemonic, normalize_words


class Windows:
    def __init__(self, adapters: Adapters, app_icon: QIcon) -> None:
        self.adapters = a = adapters
        s = a.settings.settings
        self.main = MainWindow()
        self.main.setWindowIcon(app_icon)
        self.dashboard = DashboardPage(a.engine, a.node, a.gpu, a.earnings,
                                       s.pause_temperature_c, a.devnet)
        self.main.add_page("Dashboard", self.dashboard, "dashboard")
        self.dashboard.engine_panel.model_button.clicked.connect(self.show_model_dialog)
        self.earnings = EarningsPage(a.earnings)
        self.main.add_page("Earnings", self.earnings, "earnings")
        self.wallet = WalletPage(a.wallet)
        self.main.add_page("Wallet", self.wallet, "wallet")
        self.logs = LogsPage(a.logs)
        self.main.add_page("Logs", self.logs, "logs")
        self.settings = SettingsPage(a.settings)
        self.main.add_page("Settings", self.settings, "settings")
        self.main.add_action(icon("chat"), "Open chat", self.show_chat)
        self.main.add_action(icon("wizard"), "Set-up wizard", self.show_wizard)
        self.chat = ChatWindow(a.chat)
        self.chat.setWindowIcon(app_icon)
        a.engine.status_changed.connect(
            lambda st: self.chat.set_engine_status(engine_line(st.state, st.detail),
                                                   STATE_LEVEL[st.state]))
        self.wizard: WizardWindow | None = None
        self._wizard_wallet: WalletController | None = None
        self._quitting: QProgressDialog | None = None
        self.resume_question: QMessageBox | None = None

    def show_model_dialog(self) -> ModelDialog:
        a = self.adapters
        dialog = ModelDialog(a.models, a.settings, self.main)
        dialog.open()
        return dialog

    def show_earnings_problem(self, problem: str) -> None:
        text = problem or "The earnings ledger could not be opened."
        self.earnings.status.set_state(text, "bad")

    def show_main(self) -> None:
        self.main.bring_to_front()

    def show_chat(self) -> None:
        self.chat.showNormal()
        self.chat.raise_()
        self.chat.activateWindow()

    def show_wizard(self) -> WizardWindow:
        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            return self.wizard
        a = self.adapters
        tick = a.gpu.latest
        free = [g.memory_free_bytes for g in tick.gpus if g.memory_free_bytes] if tick else []
        s = a.settings.settings
        # The wizard's wallet follows the network chosen in it; the node's follows the settings.
        wallet = WalletController(a.node.wallet, s.network, self.main)
        services = WizardServices(a.doctor, wallet, a.models,
                                  max(free) if free else None, bool(free), s.context_tokens)
        machine = WizardMachine(canonical_owner_address, check_mnemonic, split=normalize_words)
        self.wizard = WizardWindow(machine, services)
        self._wizard_wallet = services.wallet
        self.wizard.network_chosen.connect(self._on_wizard_network_chosen)
        self.wizard.finished_with.connect(self._on_wizard_finished)
        self.wizard.show()
        return self.wizard

    def _on_wizard_network_chosen(self, network: NetworkKind) -> None:
        wallet = self._wizard_wallet
        if wallet is None or network is wallet.network or wallet.source is None:
            return  # no wallet before the node opened its own (nor its keyring)
        wallet.use(self.adapters.node.wallet_for(network))
        wallet.set_network(network)

    def _on_wizard_finished(self, result: WizardResult) -> None:
        tasks.spawn(self.adapters.settings.update(**result.settings_changes()),
                    name="wizard.save")
        self.show_chat()

    def ask_resume_serving(self, answered: Callable[[bool], None]) -> QMessageBox:
        """Asked once, when the app was serving when it quit (never blocks the loop)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Resume serving?",
                          "Resume serving when the app starts?", parent=self.main)
        box.setInformativeText("Cocoon Desktop was serving when it quit. Yes serves again now "
                               "and at every start (Settings: Serve when the app starts).")
        yes = box.addButton("Yes, resume serving", QMessageBox.ButtonRole.YesRole)
        box.addButton("No", QMessageBox.ButtonRole.NoRole)
        box.buttonClicked.connect(lambda button: answered(button is yes))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resume_question = box
        box.open()
        return box

    def show_quitting(self, status: NodeStatus) -> None:
        running = status.worker.active_requests if status.worker is not None else 0
        text = (f"Finishing {running} network job(s), then stopping the engine…" if running
                else "Stopping the engine…")
        dialog = QProgressDialog(text, "", 0, 0)
        dialog.setCancelButton(None)
        dialog.setWindowTitle("Quitting Cocoon Desktop")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(500)
        self._quitting = dialog

    def close_all(self) -> None:
        for window in (self.wizard, self.chat, self._quitting):
            if window is not None:
                window.close()
        self.main.allow_close = True
        self.main.close()
