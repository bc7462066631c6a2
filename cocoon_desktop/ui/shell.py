"""The app shell: builds the node, the adapters and the windows, and runs the app's life.

Start: settings, theme, the node (monitoring, ledger, wallet), pages; the wizard on first run.
Close the window: keep serving in the tray (or quit when the desktop has no tray). Quit: drain
network jobs (bounded), stop the engine, close everything, end the event loop. The shell builds
the `Node` and hands it to its adapter; from then on everything reaches it through adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from cocoon_desktop.core import tasks
from cocoon_desktop.core.paths import AppPaths, app_paths
from cocoon_desktop.engine.models.model_library import ModelLibrary
from cocoon_desktop.hardware.gpu.monitor import GpuMonitor
from cocoon_desktop.node.config import from_app_settings, node_home
from cocoon_desktop.node.events import LedgerSwitched
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.node.wallet_host import NodeWallet
from cocoon_desktop.platform.autostart import Autostart, system_autostart
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import AppSettings, SettingsError
from cocoon_desktop.ui.adapters import Adapters
from cocoon_desktop.ui.charts import after_first_paint
from cocoon_desktop.ui.controllers.chat import ChatController
from cocoon_desktop.ui.controllers.devnet_load import DevnetLoadController
from cocoon_desktop.ui.controllers.doctor import DoctorController
from cocoon_desktop.ui.controllers.earnings import EarningsController
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.gpu import GpuController
from cocoon_desktop.ui.controllers.logs import LogController
from cocoon_desktop.ui.controllers.models import ModelController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.glance_feed import GlanceFeed
from cocoon_desktop.ui.gpu_consent import ask_gpu_passthrough
from cocoon_desktop.ui.theme import ThemeManager
from cocoon_desktop.ui.tray import Tray
from cocoon_desktop.ui.windows import Windows
from cocoon_desktop.ui_logic.chat import GenerationParams
from cocoon_desktop.ui_logic.chat_store import ChatStore
from cocoon_desktop.ui_logic.glance import close_notice
from cocoon_desktop.vm.gpu import PassthroughRequest
from cocoon_desktop.wallet.secret_store import SecretStore
from cocoon_desktop.wallet.transactions import TransactionRecord

log = logging.getLogger(__name__)
QUIT_DRAIN_S = 30.0
CLOSE_GRACE_S = 60.0  # beyond the drain: engine stop, ledger close
START_WAIT_S = 20.0  # how long a quit waits for a start-up under way (the node opening)
CHAT_SETTINGS_SAVE_MS = 500  # typing in the system prompt saves once, not per key


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
        # The app's own profile is the node's instance 0; other folders (tests) their own home.
        home = node_home(0, None if paths == app_paths() else paths.config_dir.parent)
        self.node = NodeController(Node(from_app_settings(s), home, monitor=monitor,
                                        secret_store=secret_store,
                                        gpu_consent=self._ask_gpu_passthrough), self)
        self.models = ModelController(ModelLibrary(paths), self)
        self.engine = EngineController(self.node, self)
        self.gpu = GpuController(self)
        self.earnings = EarningsController(price=from_app_settings(s).ton_price,
                                           network=s.network, parent=self)
        self.wallet = WalletController(None, s.network, self)  # the node's, once it is open
        self.doctor = DoctorController(self)
        self.chat = ChatController(self.engine.chat_backend, s.chat_system_prompt,
                                   GenerationParams(s.chat_temperature, s.chat_top_p,
                                                    s.chat_max_tokens), self,
                                   store=ChatStore(paths.data_dir / "chats"))
        self._chat_settings_timer = QTimer(self)
        self._chat_settings_timer.setSingleShot(True)
        self._chat_settings_timer.setInterval(CHAT_SETTINGS_SAVE_MS)
        self._chat_settings_timer.timeout.connect(
            lambda: tasks.spawn(self._save_chat_settings(), name="chat.settings"))
        self.devnet = DevnetLoadController(self.node, self)
        self.tray = Tray(self)
        self.glance = GlanceFeed(self)
        self.adapters = Adapters(
            settings=self.settings, node=self.node, engine=self.engine, gpu=self.gpu,
            earnings=self.earnings, wallet=self.wallet, models=self.models, doctor=self.doctor,
            chat=self.chat, logs=self.logs, devnet=self.devnet)
        self.windows = Windows(self.adapters, app.windowIcon())
        self._quitting = False
        self._quit_done = asyncio.Event()
        self._start_done = asyncio.Event()  # clear while `start` runs: a quit waits for it
        self._start_done.set()
        self._told_about_tray = False
        self._connect()

    def _connect(self) -> None:
        g = self.glance
        self.node.status_changed.connect(g.on_node_status_changed)
        self.node.status_changed.connect(self._on_node_status_changed)
        self.node.ledger_switched.connect(self._on_node_ledger_switched)
        self.node.wallet_reopened.connect(self._on_node_wallet_reopened)
        self.node.notification_raised.connect(self.notify)
        self.engine.status_changed.connect(g.on_engine_status_changed)
        self.gpu.snapshot_updated.connect(g.on_snapshot_updated)
        self.wallet.wallet_changed.connect(g.on_wallet_changed)
        self.wallet.balance_updated.connect(g.on_balance_updated)
        self.wallet.payout_received.connect(self._on_wallet_payout_received)
        g.facts_changed.connect(self.tray.update_facts)
        self.settings.settings_changed.connect(self._on_settings_changed)
        self.tray.stop_requested.connect(
            lambda: tasks.spawn(self.node.stop_serving(), name="tray.pause"))
        self.tray.start_requested.connect(
            lambda: tasks.spawn(self.node.start_serving(), name="tray.resume"))
        self.tray.chat_requested.connect(self.windows.show_chat)
        self.tray.dashboard_requested.connect(self.windows.show_main)
        self.tray.quit_requested.connect(self.request_quit)
        self.windows.main.close_requested.connect(self._on_main_close_requested)
        self.chat.params_changed.connect(self._chat_settings_timer.start)

    # -- life cycle ----------------------------------------------------------------------
    @staticmethod
    async def _painted(window: QWidget, timeout_s: float = 1.0) -> None:
        """Until `window` is first painted (at most `timeout_s`): the window shows before the
        node opens, whose imports (the network stack) and files take a fraction of a second."""
        painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        after_first_paint(window, lambda: painted.done() or painted.set_result(None))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(painted, timeout_s)

    async def start(self, minimized: bool = False) -> None:
        """Show the window, open the node, then what the settings ask for. A quit asked for
        meanwhile waits for this (`shutdown`) and nothing more is started."""
        self._start_done.clear()
        try:
            await self._start(minimized)
        finally:
            self._start_done.set()

    async def _start(self, minimized: bool) -> None:
        tray_shown = self.tray.show()
        if not minimized or not tray_shown:
            self.windows.show_main()
            await self._painted(self.windows.main)
        await self.node.open()  # the ledger and the wallet arrive as events meanwhile
        if self.node.health is not None:
            await self.gpu.attach(self.node.health)
        await self.earnings.refresh()
        if self._quitting:
            return
        tasks.spawn(self.logs.load_history(), name="logs.history")
        tasks.spawn(self.chat.list_conversations(), name="chat.list")
        s = self.settings.settings
        if not s.wizard_completed:
            self.windows.show_wizard()
        elif s.serve_on_start:
            tasks.spawn(self.node.start_serving(), name="serving.autostart")
        elif s.serving_at_quit and not s.resume_asked:
            self.windows.ask_resume_serving(self._on_resume_answered)

    async def run_until_quit(self, minimized: bool = False) -> None:
        try:
            await self.start(minimized)
        except Exception:
            if not self._quitting:
                raise
            # The quit gave up waiting (START_WAIT_S) and closed the node under its open().
            log.warning("quit: start-up stopped partway", exc_info=True)
        await self._quit_done.wait()

    def request_quit(self) -> None:
        if not self._quitting:
            self._quitting = True
            tasks.spawn(self.shutdown(), name="app.quit")

    async def shutdown(self, drain_timeout_s: float = QUIT_DRAIN_S) -> None:
        """Drain jobs, stop the engine, close the node; then the loop may end."""
        self.windows.show_quitting(self.node.status)
        try:
            # Closing the node under its open() failed the start-up (SIGTERM just after
            # launch); a start-up stuck on a keyring prompt does not hold the quit for long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._start_done.wait(), START_WAIT_S)
            await self._remember_serving(self.node.status.wanted)
            await self.devnet.stop()
            self.chat.stop()
            await self.wallet.stop()
            await self.earnings.stop()
            try:
                finished = await asyncio.wait_for(self.node.close(drain_timeout_s),
                                                  drain_timeout_s + CLOSE_GRACE_S)
            except TimeoutError:
                log.error("quit: the node did not close within %.0f s; exiting anyway (the "
                          "engine process ends with the app)", drain_timeout_s + CLOSE_GRACE_S)
                finished = False
            if not finished:
                log.warning("quit: some network jobs did not finish within %.0f s",
                            drain_timeout_s)
        finally:
            self.logs.detach()
            self.tray.hide()
            self.windows.close_all()
            self._quit_done.set()
            self.quit_finished.emit()

    async def _remember_serving(self, serving: bool) -> None:
        """Whether the app was serving when it quit: the next start asks once to resume."""
        if serving == self.settings.settings.serving_at_quit:
            return
        try:
            await self.settings.update(serving_at_quit=serving)
        except SettingsError as exc:
            log.warning("quit: whether the app was serving could not be saved: %s", exc)

    def _on_resume_answered(self, resume: bool) -> None:
        tasks.spawn(self.settings.update(resume_asked=True, serve_on_start=resume),
                    name="settings.resume")
        if resume:
            tasks.spawn(self.node.start_serving(), name="serving.resume")

    async def _save_chat_settings(self) -> None:
        """The chat's sampling settings and system prompt, kept for the next launch."""
        p = self.chat.params
        try:
            await self.settings.update(
                chat_temperature=p.temperature, chat_top_p=p.top_p,
                chat_max_tokens=p.max_tokens,
                chat_system_prompt=self.chat.conversation.system_prompt)
        except SettingsError as exc:
            log.warning("the chat's settings were not saved: %s", exc)

    async def _ask_gpu_passthrough(self, request: PassthroughRequest) -> bool:
        """Before the node moves the GPU to the VM: the user's answer, never assumed."""
        self.windows.show_main()
        return await ask_gpu_passthrough(self.windows.main, request)

    # -- reactions -----------------------------------------------------------------------
    def notify(self, title: str, message: str, critical: bool = False) -> None:
        log.log(logging.WARNING if critical else logging.INFO, "%s: %s", title, message)
        if self.settings.settings.notifications:
            self.tray.notify(title, message, critical)

    def _on_main_close_requested(self) -> None:
        if self.tray.available and self.tray.icon.isVisible():
            self.windows.main.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.notify(*close_notice(self.node.status.accepting))
            return
        self.request_quit()

    def _on_node_ledger_switched(self, event: LedgerSwitched) -> None:
        """Read the ledger the node records into: one per network, switched with it."""
        self.earnings.attach(event.ledger, event.network)
        if event.ledger is None:
            self.windows.show_earnings_problem(event.problem)
        else:
            self.earnings.start()

    def _on_node_wallet_reopened(self, wallet: NodeWallet) -> None:
        self.wallet.use(wallet)
        self.wallet.follow()

    def _on_node_status_changed(self, status: NodeStatus) -> None:
        self.earnings.on_summary_changed(status.earnings)

    def _on_wallet_payout_received(self, record: TransactionRecord) -> None:
        self.notify("Payout received", f"{format_ton(record.amount_nano)} arrived at your owner "
                    "address.")

    def _on_settings_changed(self, s: AppSettings) -> None:
        self.theme.apply(s.theme)
        self.node.apply_settings(s)
        self.wallet.set_network(s.network)
        self.earnings.set_price(from_app_settings(s).ton_price)

