"""The services a node owns, opened and closed in one place (the `Node` drives them).

Opening never raises: a folder in use, a GPU that is not there or an unreadable stats token
becomes `blocked` (the node cannot serve; the problem says what to do), a ledger that cannot
be opened a problem that does not stop serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, cast

from cocoon_desktop.engine.host.gateway import GatewayError, UpstreamGateway
from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.models.model_library import ModelLibrary
from cocoon_desktop.engine.models.offload import gpu_offload_support
from cocoon_desktop.engine.types import EngineSettings
from cocoon_desktop.hardware.energy import EnergyMeter, MonitorEnergySource
from cocoon_desktop.hardware.gpu.monitor import GpuMonitor, open_gpu_monitor
from cocoon_desktop.hardware.protection.control import ProtectionController, ServingControl
from cocoon_desktop.hardware.protection.policy import Notification, ProtectionPolicy
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from cocoon_desktop.network.worker.types import WorkerEvent
from cocoon_desktop.network.worker.worker import Worker
from cocoon_desktop.node.config import NodeConfig, NodeHome
from cocoon_desktop.node.earnings_host import EarningsHost
from cocoon_desktop.node.engine_host import EngineHost, SupervisorFactory, plan_engine
from cocoon_desktop.node.gpu_select import GpuSelectError, SelectedGpuMonitor, choose_gpu
from cocoon_desktop.node.metrics import node_metrics, status_json
from cocoon_desktop.node.request_energy import RequestEnergyMeter
from cocoon_desktop.node.runtime import HomeInUse, HomeLock, write_run_file
from cocoon_desktop.node.stats_surface import StatsSurface, StatsTokenError, load_stats_token
from cocoon_desktop.node.status import NodeProblem, NodeStatus
from cocoon_desktop.node.wallet_prep import WalletReady
from cocoon_desktop.node.worker_open import OpenedWorker
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import ton_network_for
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore

log = logging.getLogger(__name__)
StatusListener = Callable[[NodeStatus], None]


class NodeParts(ABC):
    status: NodeStatus

    def __init__(self, config: NodeConfig, home: NodeHome, monitor: GpuMonitor | None,
                 secret_store: SecretStore | None, supervisor_factory: SupervisorFactory
                 ) -> None:
        self.config = config
        self.home = home
        self._monitor_given = monitor
        self._store_given = secret_store
        self._factory = supervisor_factory
        self.blocked: NodeProblem | None = None
        self.monitor: GpuMonitor | None = None
        self.policy: ProtectionPolicy | None = None
        self.protection: ProtectionController | None = None
        self.health: HealthService | None = None
        self.energy: EnergyMeter | None = None
        self.engine: EngineHost | None = None
        self.earnings: EarningsHost | None = None
        self.wallet: WalletManager | None = None
        self.chain: ChainService | None = None
        self.stats: StatsSurface | None = None
        self.gateway: UpstreamGateway | None = None  # upstream's runner's door (opt-in)
        self._stats_token: str | None = None
        self._problems: dict[str, str] = {}
        self._lock = HomeLock(home.lock_file, leftovers=(home.run_file,))
        self._library: ModelLibrary | None = None
        self._offload_supported: bool | None = None
        self.engine_capacity_note = ""  # why the engine serves this many at once
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listeners: list[StatusListener] = []
        self._notification_listeners: list[Callable[[Notification], None]] = []
        self._worker_listeners: list[Callable[[WorkerEvent], None]] = []

    # -- listeners ---------------------------------------------------------------------------
    def add_listener(self, listener: StatusListener) -> Callable[[], None]:
        """Call `listener` with every new status; returns a function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def add_notification_listener(self, listener: Callable[[Notification], None]) -> None:
        """Protection's and the engine's notices (for a tray, or the log)."""
        self._notification_listeners.append(listener)

    def add_worker_listener(self, listener: Callable[[WorkerEvent], None]) -> None:
        """Every worker event, whichever worker serves now."""
        self._worker_listeners.append(listener)

    def emit(self, status: NodeStatus) -> None:
        for listener in list(self._listeners):
            call_listener(listener, status)

    @abstractmethod
    def on_engine_status(self, status: EngineStatus) -> None: ...

    @abstractmethod
    def on_notification(self, notification: Notification) -> None: ...

    @abstractmethod
    def publish(self) -> NodeStatus: ...

    # -- opening and closing -----------------------------------------------------------------
    async def open_parts(self) -> None:
        try:
            await asyncio.to_thread(self.home.paths.ensure)
            self._lock.acquire()
        except HomeInUse as exc:
            self.blocked = NodeProblem(str(exc), "Give each worker its own --instance number "
                                       "(or home folder), or stop the other one first.")
            return
        except OSError as exc:
            self.blocked = NodeProblem(f"The node's folder cannot be used: {exc}",
                                       "Check the `home` setting and its permissions.")
            return
        env = await self._open_monitoring()
        self.engine = EngineHost(self._engine_settings, self.on_engine_status, env=env,
                                 factory=self._factory)
        await self._open_gateway()
        self._library = await asyncio.to_thread(ModelLibrary, self.home.paths)
        assert self.energy is not None
        self.earnings = EarningsHost(self.home.paths.data_dir, self.config, self.energy,
                                     self.publish)
        await asyncio.to_thread(self.earnings.open)
        self.earnings.start()
        self._open_wallet()
        try:
            self._stats_token = await asyncio.to_thread(load_stats_token,
                                                        self.config.stats_token_file)
        except StatsTokenError as exc:
            self.blocked = exc.problem
        self.write_run_file(None)

    async def _open_monitoring(self) -> dict[str, str] | None:
        """GPU monitoring and protection, restricted to this node's GPU; the engine's
        environment when it must see only that GPU."""
        c = self.config
        monitor = self._monitor_given or await asyncio.to_thread(open_gpu_monitor)
        env = None
        try:
            choice = await asyncio.to_thread(choose_gpu, monitor, c.gpu, c.instance)
        except GpuSelectError as exc:
            self.blocked = NodeProblem(str(exc), "Fix `gpu` in the rig file.")
            choice = None
        if choice is not None:
            monitor = SelectedGpuMonitor(monitor, choice)
            env = {**os.environ, **choice.engine_environment}
            log.info("instance %d serves on %s", c.instance, choice)
        self.monitor = monitor
        self.policy = ProtectionPolicy(c.protection)
        self.protection = ProtectionController(self.policy, cast(ServingControl, self),
                                               self.on_notification)
        self.energy = RequestEnergyMeter(MonitorEnergySource(monitor), self._gpu_runs_model)
        self.health = HealthService(
            monitor, SystemSampler(self.home.paths.data_dir),
            games=ProcessNameWatch(c.game_mode_processes), protection=self.protection,
            energy=self.energy, interval_s=c.monitoring_interval_s)
        self.spawn(self.health.run(), "node.health")
        return env

    def _open_wallet(self) -> None:
        paths = self.home.paths
        network = ton_network_for(self.config.network)
        store = self._store_given or SecretStore(service=self.home.keyring_service,
                                                 prompt_to_unlock=not self.config.headless)
        self.wallet = WalletManager(WalletRegistry(paths.data_dir), store, network)
        if network is not None:
            self.chain = ChainService(network, cache_dir=paths.cache_dir,
                                      config_file=self.config.ton_config_file)

    async def reopen_for_config(self) -> None:
        """After a settings change (serving stopped): the network's ledger, the wallet's
        network, the chain and the stats token anew."""
        if self.earnings is not None:
            await self.earnings.switch_network(self.config.network)
        if self.chain is not None:
            await self.chain.close()
            self.chain = None
        self._open_wallet()
        try:
            self._stats_token = await asyncio.to_thread(load_stats_token,
                                                        self.config.stats_token_file)
        except StatsTokenError as exc:
            self._problems["stats"] = str(exc.problem)

    async def _open_gateway(self) -> None:
        """The loopback gateway for upstream's worker runner, when the config asks for it; a
        port in use is a problem shown beside the status (serving goes on without it)."""
        port = self.config.upstream_gateway_port
        if not port:
            return
        engine = self.engine
        gateway = UpstreamGateway(lambda: engine.endpoint if engine else None, port=port,
                                  why_not_ready=lambda: engine.status.detail if engine else "")
        try:
            await gateway.start()
        except GatewayError as exc:
            self._problems["gateway"] = str(exc)
            log.error("%s", exc)
            return
        self.gateway = gateway

    async def close_parts(self, engine_drain_s: float) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
            self.gateway = None
        if self.engine is not None:
            await self.engine.stop(engine_drain_s)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.health is not None:
            await asyncio.to_thread(self.health.close)
        if self.earnings is not None:
            await self.earnings.close()
        if self.chain is not None:
            await self.chain.close()
        with contextlib.suppress(OSError):
            self.home.run_file.unlink(missing_ok=True)
        self._lock.release()

    # -- engine ------------------------------------------------------------------------------
    def _gpu_runs_model(self) -> bool:
        """Whether the engine's model has layers on the GPU (its energy is then the work's)."""
        stats = self.engine.status.stats if self.engine is not None else None
        return stats is not None and stats.gpu_layers_offloaded > 0

    async def _engine_settings(self) -> EngineSettings:
        assert self._library is not None
        tick = self.health.latest if self.health is not None else None
        free = [g.memory_free_bytes for g in tick.gpus if g.memory_free_bytes] if tick else []
        if free and self._offload_supported is None:
            self._offload_supported = (await asyncio.to_thread(gpu_offload_support)).supported
        plan = await asyncio.to_thread(plan_engine, self.config, self._library,
                                       max(free) if free else None,
                                       bool(self._offload_supported))
        self.engine_capacity_note = plan.capacity_note
        log.info("engine capacity: %s", plan.capacity_note)
        return plan.settings

    # -- earnings and stats ------------------------------------------------------------------
    def earnings_attach(self, opened: OpenedWorker, ready: WalletReady) -> None:
        if self.earnings is None:
            return
        self.earnings.attach(opened.worker, opened.worker_fee_per_token)
        if self.chain is not None and self.wallet is not None and ready.node_wallet_address:
            self.earnings.enable_payouts(self.wallet, self.chain, ready.owner_address)

    async def start_stats(self, worker: Worker) -> None:
        if self._stats_token is None or self.stats is not None:
            return
        c = self.config
        tls = ((c.stats_tls_certificate, c.stats_tls_key)
               if c.stats_tls_certificate and c.stats_tls_key else None)
        surface = StatsSurface(c.stats_listen, c.resolved_stats_port, self._stats_token,
                               tls=tls, accept_plain_http_risk=c.stats_accept_plain_http_risk)
        hook = self.earnings.payout_hook if self.earnings is not None else None
        try:
            url = await surface.start(worker, hook, lambda: node_metrics(self.status),
                                      lambda: status_json(self.status))
        except PermissionError as exc:
            self._problems["stats"] = f"The stats page is off: {exc}."
            log.error("%s", self._problems["stats"])
            return
        except OSError as exc:
            self._problems["stats"] = (
                f"The stats page cannot listen on {c.stats_listen}:{c.resolved_stats_port} "
                f"({exc.strerror or exc}): is another worker using instance number "
                f"{c.instance}? Give each worker its own --instance.")
            log.error("%s", self._problems["stats"])
            return
        self._problems.pop("stats", None)
        self.stats = surface
        log.info("stats and /metrics on %s (token in %s)", url, self.home.run_file)

    async def stop_stats(self) -> None:
        if self.stats is not None:
            await self.stats.stop()
            self.stats = None

    def problems(self) -> tuple[str, ...]:
        found = dict(self._problems)
        if self.earnings is not None:
            found.update(self.earnings.problems)
        return tuple(found.values())

    def write_run_file(self, opened: OpenedWorker | None) -> None:
        """Where this instance answers, for the operator and local tools (0600)."""
        data: dict[str, Any] = {
            "pid": os.getpid(), "instance": self.config.instance,
            "network": self.config.network.value, "data_dir": str(self.home.paths.data_dir),
            "stats_url": self.stats.url if self.stats else None,
            "stats_token": self._stats_token if self.stats else None,
            "upstream_gateway_url": self.gateway.url if self.gateway else None,
        }
        devnet = opened.devnet if opened is not None else None
        if devnet is not None:
            data["devnet_client_url"] = devnet.http_url
            data["devnet_client_token"] = devnet.settings.http_token
        try:
            write_run_file(self.home.run_file, data)
        except OSError as exc:
            log.warning("the run file %s could not be written: %s", self.home.run_file, exc)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task kept alive until it ends; its failure is logged."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("node task %s failed", task.get_name(), exc_info=task.exception())


def call_listener(listener: Callable[[Any], None], value: object) -> None:
    """Call one listener; its failure is logged and never reaches the node."""
    try:
        listener(value)
    except Exception:
        log.exception("a node listener failed")
