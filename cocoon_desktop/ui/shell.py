"""The app shell: builds services, adapters and windows, and runs the app's life cycle.

Start: settings, theme, monitoring, wallet, earnings; the wizard on first run. Close the
window: keep serving in the tray (or quit when the desktop has no tray). Quit: drain network
jobs (bounded), stop the engine, close everything, end the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from cocoon_desktop.engine.model_library import ModelLibrary
from cocoon_desktop.engine.types import EngineSettings
from cocoon_desktop.hardware.monitor import GpuMonitor
from cocoon_desktop.hardware.protection import Notification
from cocoon_desktop.hardware.serving import ProtectionController
from cocoon_desktop.paths import AppPaths
from cocoon_desktop.platform.autostart import Autostart, system_autostart
from cocoon_desktop.settings import AppSettings
from cocoon_desktop.ui import aio
from cocoon_desktop.ui.controllers.chat import ChatController
from cocoon_desktop.ui.controllers.doctor import DoctorController
from cocoon_desktop.ui.controllers.earnings import EarningsController
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.gpu import GpuController
from cocoon_desktop.ui.controllers.logs import LogController
from cocoon_desktop.ui.controllers.models import (
    ModelController,
    engine_settings,
    parallel_sequences,
)
from cocoon_desktop.ui.controllers.serving import ServingController
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.glance_feed import GlanceFeed
from cocoon_desktop.ui.services import (
    build_core,
    chain_for,
    health_service,
    protection_settings,
    ton_price,
)
from cocoon_desktop.ui.theme import ThemeManager
from cocoon_desktop.ui.tray import Tray
from cocoon_desktop.ui.windows import Windows
from cocoon_desktop.ui_logic.chat import GenerationParams
from cocoon_desktop.ui_logic.format import format_ton
from cocoon_desktop.ui_logic.recorder import LedgerRecorder
from cocoon_desktop.wallet.secret_store import SecretStore
from cocoon_desktop.wallet.transactions import TransactionRecord

log = logging.getLogger(__name__)


class AppShell(QObject):
    quit_finished = Signal()

    def __init__(self, app: QApplication, paths: AppPaths, *, log_file: Path | None = None,
                 monitor: GpuMonitor | None = None, secret_store: SecretStore | None = None,
                 autostart: Autostart | None = None) -> None:
        super().__init__(app)
        self.app = app
        self.paths = paths
        self.settings = SettingsController(paths.settings_file, autostart or system_autostart(),
                                           self)
        s = self.settings.settings
        self.theme = ThemeManager(app, s.theme)
        self.logs = LogController(log_file, self)
        self.logs.attach()
        self.core = build_core(paths, s, monitor, secret_store)
        self.models = ModelController(ModelLibrary(paths), self)
        self.engine = EngineController(self._engine_settings, parent=self)
        recorder = ((lambda fee: LedgerRecorder(self.core.ledger, fee))
                    if self.core.ledger is not None else None)
        self.serving = ServingController(self.engine, lambda: self.settings.settings,
                                         recorder, self.core.energy, parent=self)
        protection = ProtectionController(self.core.policy, self.serving,
                                          self._on_protection_notification)
        self.gpu = GpuController(health_service(self.core, paths, s, protection), self)
        self.earnings = (EarningsController(self.core.ledger, parent=self)
                         if self.core.ledger is not None else None)
        self.wallet = WalletController(self.core.wallet, self.core.chain, s.network, self)
        self.doctor = DoctorController(self)
        self.chat = ChatController(self.engine.chat_backend, s.chat_system_prompt,
                                   GenerationParams(s.chat_temperature, s.chat_top_p,
                                                    s.chat_max_tokens), self)
        self.tray = Tray(self)
        self.glance = GlanceFeed(self)
        self.windows = Windows(self)
        self._quitting = False
        self._quit_done = asyncio.Event()
        self._connect()

    def _connect(self) -> None:
        g = self.glance
        self.serving.state_changed.connect(g.on_serving_state_changed)
        self.engine.status_changed.connect(g.on_engine_status_changed)
        self.engine.status_changed.connect(lambda st: self.gpu.set_engine_pid(st.pid))
        self.gpu.snapshot_updated.connect(g.on_snapshot_updated)
        self.wallet.wallet_changed.connect(g.on_wallet_changed)
        self.wallet.balance_updated.connect(g.on_balance_updated)
        self.wallet.payout_received.connect(self._on_wallet_payout_received)
        if self.earnings is not None:
            self.earnings.earnings_updated.connect(g.on_earnings_updated)
            self.serving.request_served.connect(lambda _e: self.earnings.refresh_soon())
        g.facts_changed.connect(self.tray.update_facts)
        self.serving.notification_raised.connect(self.notify)
        self.settings.settings_changed.connect(self._on_settings_changed)
        self.tray.pause_requested.connect(
            lambda: aio.spawn(self.serving.stop(), name="tray.pause"))
        self.tray.resume_requested.connect(
            lambda: aio.spawn(self.serving.start(), name="tray.resume"))
        self.tray.chat_requested.connect(self.windows.show_chat)
        self.tray.dashboard_requested.connect(self.windows.show_main)
        self.tray.quit_requested.connect(self.request_quit)

    async def _engine_settings(self) -> EngineSettings:
        s = self.settings.settings
        tick = self.gpu.latest
        free = [g.memory_free_bytes for g in tick.gpus if g.memory_free_bytes] if tick else []
        path = Path(s.model_path) if s.model_path else None
        stats = self.engine.status.stats  # the engine's own answer, once it has run
        offload = stats.supports_gpu_offload if stats is not None else bool(free)
        check = await self.models.check(path, s.context_tokens * parallel_sequences(s),
                                        max(free) if free else None, offload)
        return engine_settings(check, s)

    # -- life cycle ----------------------------------------------------------------------
    async def start(self, minimized: bool = False) -> None:
        tray_shown = self.tray.show()
        if not minimized or not tray_shown:
            self.windows.show_main()
        await self.gpu.start()
        await self.wallet.refresh()
        self.wallet.start_polling()
        if self.earnings is not None:
            await self.earnings.refresh()
            self.earnings.start()
        aio.spawn(self.logs.load_history(), name="logs.history")
        s = self.settings.settings
        if not s.wizard_completed:
            self.windows.show_wizard()
        elif s.serve_on_start:
            aio.spawn(self.serving.start(), name="serving.autostart")

    async def run_until_quit(self, minimized: bool = False) -> None:
        await self.start(minimized)
        await self._quit_done.wait()

    def request_quit(self) -> None:
        if not self._quitting:
            self._quitting = True
            aio.spawn(self.shutdown(), name="app.quit")

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        """Drain jobs, stop the engine, close services; then the loop may end."""
        self.windows.show_quitting(self.serving.state)
        try:
            finished = await self.serving.stop(drain_timeout_s)
            if not finished:
                log.warning("quit: some network jobs did not finish within %.0f s",
                            drain_timeout_s)
            self.chat.stop()
            await self.engine.stop()
            await self.gpu.stop()
            await self.wallet.stop()
            if self.earnings is not None:
                await self.earnings.stop()
            if self.core.ledger is not None:
                await aio.run_blocking(self.core.ledger.close)
        finally:
            self.logs.detach()
            self.tray.hide()
            self.windows.close_all()
            self._quit_done.set()
            self.quit_finished.emit()

    # -- reactions -----------------------------------------------------------------------
    def notify(self, title: str, message: str, critical: bool = False) -> None:
        log.log(logging.WARNING if critical else logging.INFO, "%s: %s", title, message)
        if self.settings.settings.notifications:
            self.tray.notify(title, message, critical)

    def _on_protection_notification(self, notification: Notification) -> None:
        self.notify(notification.title, notification.message,
                    notification.severity == "critical")

    def _on_wallet_payout_received(self, record: TransactionRecord) -> None:
        self.notify("Payout received", f"{format_ton(record.amount_nano)} arrived at your owner "
                    "address.")

    def _on_settings_changed(self, s: AppSettings) -> None:
        if s.network is not self.wallet.network:
            self.wallet.set_network(s.network, chain_for(s.network, self.paths,
                                                          s.ton_config_path))
            self.wallet.start_polling()
            aio.spawn(self.wallet.refresh(), name="wallet.refresh")
            if self.serving.wanted:
                self.notify("Network changed", "Stop and start serving to serve on "
                            f"{s.network.value}.")
        self.theme.apply(s.theme)
        self.gpu.set_interval(s.monitoring_interval_s)
        self.core.policy.update_settings(protection_settings(s))
        self.core.games.set_names(s.game_mode_processes)
        if self.earnings is not None:
            self.earnings.set_price(ton_price(s))
