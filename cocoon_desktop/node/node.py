"""The node: one worker on one GPU with everything around it, in asyncio, without Qt.

A `Node` owns named parts, each with one job, and wires them once:

- `engine` (`EngineHost`): the engine process and upstream's gateway; `planner` says what it runs;
- `worker` (`WorkerHost`): the worker serving now, its stats surface and the run file;
- `earnings` (`EarningsHost`): the ledger of the network served, payouts, chain sync;
- `health` (`NodeHealth`): GPU monitoring and protection, acting through `control`
  (`NodeServingControl`, the hardware area's `ServingControl`);
- `wallets` (`WalletHost`): the wallet and chain of the network served;
- `serving` (`Serving`): the Serve toggle's life (bring-up, retries, drain);
- `vm` (`VmHost`): the confidential VM the engine and the worker run in when the config says
  `serve_from = vm` (the engine host then runs the VM's engine, the worker host its worker).

Front ends (the GUI's controllers, the headless service) drive it and follow its events:

    node = Node(config)                         # NodeConfig; folders from node_home
    node.status_changed.add(on_status)          # every NodeStatus, on the loop's thread
    node.notification_raised.add(on_notice)     # protection's and the engine's notices
    node.ledger_switched.add(on_ledger)         # the ledger recorded into (at open, per network)
    node.wallet_reopened.add(on_wallet)         # the wallet and chain (at open, per network)
    await node.open()                           # monitoring, ledger, wallet: never raises
    await node.start_serving()                  # the Serve toggle: engine, worker, stats
    await node.stop_serving()                   # drain (bounded), disconnect; the engine stays
    await node.start_engine() / stop_engine()   # the engine alone (refused after a GPU fault)
    await node.close()                          # drain, stop the engine, close everything

Rules: the worker takes jobs only while serving is wanted and nothing pauses it; pausing
drains (jobs in flight finish). Game mode unloads the model and reloads it after. A critical
GPU error stops the engine and nothing starts it again, by itself or by the user's engine
button, until the user serves again. Every failure is a state with what to do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.tasks import TaskSet, run_blocking
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.types import EngineEndpoint, EngineState
from cocoon_desktop.hardware.gpu.monitor import GpuMonitor
from cocoon_desktop.hardware.protection.policy import Notification
from cocoon_desktop.hardware.snapshots import GpuSample, HealthTick
from cocoon_desktop.node.config import NodeConfig, NodeHome, node_home
from cocoon_desktop.node.earnings_host import EarningsHost
from cocoon_desktop.node.engine_host import EngineHost, SupervisorFactory, default_supervisor
from cocoon_desktop.node.engine_plan import EnginePlanner
from cocoon_desktop.node.events import LedgerSwitched
from cocoon_desktop.node.health import NodeHealth
from cocoon_desktop.node.runtime import HomeInUse, HomeLock
from cocoon_desktop.node.serving import Serving
from cocoon_desktop.node.serving_control import NodeServingControl, ServingFlags
from cocoon_desktop.node.status import (
    NodeFacts,
    NodeProblem,
    NodeState,
    NodeStatus,
    ProtectionView,
    describe,
)
from cocoon_desktop.node.vm_host import VmHost
from cocoon_desktop.node.wallet_host import NodeWallet, WalletHost
from cocoon_desktop.node.worker_host import WorkerHost
from cocoon_desktop.vm.gpu import GpuConsent
from cocoon_desktop.wallet.secret_store import SecretStore

if TYPE_CHECKING:  # the worker's stack (aiohttp, cryptography) loads when serving starts
    from cocoon_desktop.network.worker.types import WorkerEvent
    from cocoon_desktop.node.worker_open import OpenedWorker, WorkerOpener

log = logging.getLogger(__name__)
ENGINE_FIELDS = ("model_path", "model_name", "context_tokens", "gpu_layers", "threads",
                 "max_active_requests", "speculative", "draft_model_path", "serve_from",
                 "vm_mode", "vm_memory_mib", "vm_cpus")
WORKER_FIELDS = ("network", "root_config_file", "root_contract_address", "ton_config_file",
                 "proxies", "attestation", "owner_address", "stats_port", "stats_listen",
                 "stats_token_file")
ENGINE_STOP_DRAIN_S = 5.0


class Node:
    def __init__(self, config: NodeConfig, home: NodeHome | None = None, *,
                 monitor: GpuMonitor | None = None, secret_store: SecretStore | None = None,
                 supervisor_factory: SupervisorFactory = default_supervisor,
                 opener: WorkerOpener | None = None,
                 gpu_consent: GpuConsent | None = None) -> None:
        """`opener`: `worker_open.open_worker` unless given (imported when serving starts: the
        worker's network stack is not loaded with the app's first window).
        `gpu_consent`: how the front end asks before the GPU moves to the VM (the desktop
        asks the user); None: the rig file's `vm.gpu_passthrough` answers."""
        self.config = config
        self.home = home or node_home(config.instance, config.home)
        self.status = NodeStatus(state=NodeState.STOPPED, headline="Not open yet.",
                                 instance=config.instance, network=config.network)
        self.status_changed: Listeners[NodeStatus] = Listeners("the node's status")
        self.notification_raised: Listeners[Notification] = Listeners("the node's notices")
        self.ledger_switched: Listeners[LedgerSwitched] = Listeners("the node's ledger")
        self.wallet_reopened: Listeners[NodeWallet] = Listeners("the node's wallet")
        self.blocked: NodeProblem | None = None  # the node cannot serve (the problem says why)
        self._tasks = TaskSet("the node")
        self._flags = ServingFlags()
        self._engine_lock = asyncio.Lock()
        self._home_lock = HomeLock(self.home.lock_file, leftovers=(self.home.run_file,))
        self._open = False
        self._closed = False
        self._gpus: tuple[GpuSample, ...] = ()
        self.planner = EnginePlanner(self.home.paths, lambda: self.config,
                                     lambda: self.health.free_vram_bytes())
        self.vm = VmHost(self.home, lambda: self.config, lambda: self.engine,
                         self.planner.settings, lambda: self.health.choice,
                         lambda: self.earnings, consent=gpu_consent)
        self.engine = EngineHost(self.planner.settings, self._on_engine_status,
                                 factory=self.vm.runner_factory(supervisor_factory))
        self.worker = WorkerHost(self.home, lambda: self.config, lambda: self.engine.gateway_url)
        self.control = NodeServingControl(
            self._flags, self.engine, self.worker, self._engine_lock, self._tasks,
            lambda: self.config.drain_timeout_s, self._on_control_change)
        self.health = NodeHealth(config, self.home.paths.data_dir, monitor, self.control,
                                 self._notify, self._tasks)
        self.wallets = WalletHost(self.home.paths, secret_store or SecretStore(
            service=self.home.keyring_service, prompt_to_unlock=not config.headless))
        self.earnings: EarningsHost | None = None  # from open(), with the energy meter
        self.serving = Serving(
            flags=self._flags, engine=self.engine, worker=self.worker, wallets=self.wallets,
            earnings=lambda: self.earnings, config=lambda: self.config,
            keyring_service=self.home.keyring_service, opener=opener or _open_worker,
            tasks=self._tasks,
            publish=self.publish, status=lambda: self.status,
            on_worker_event=self._on_worker_event,
            vm=lambda: self.vm if self.config.serves_from_vm else None)

    # -- life cycle --------------------------------------------------------------------------
    async def open(self) -> NodeStatus:
        """Start monitoring, open the ledger and the wallet. Never raises: a folder in use, a
        GPU that is not there or an unreadable stats token makes the node `blocked`; a ledger
        that cannot be opened is a problem that does not stop serving."""
        try:
            await run_blocking(self.home.paths.ensure)
            self._home_lock.acquire()
        except HomeInUse as exc:
            self.blocked = NodeProblem(str(exc), "Give each worker its own --instance number "
                                       "(or home folder), or stop the other one first.")
            return self.publish()
        except OSError as exc:
            self.blocked = NodeProblem(f"The node's folder cannot be used: {exc}",
                                       "Check the `home` setting and its permissions.")
            return self.publish()
        self._open = True
        self.engine.env, self.blocked = await self.health.open(self._gpu_runs_model)
        await self.engine.open_gateway(self.config.upstream_gateway_port)
        await self.planner.open()
        assert self.health.energy is not None
        self.earnings = EarningsHost(self.home.paths.data_dir, self.config, self.health.energy,
                                     self.publish)
        await run_blocking(self.earnings.open)
        self.earnings.start()
        self._announce_ledger()
        await self._open_wallet()
        self.blocked = await self.worker.load_stats_token() or self.blocked
        self.worker.write_run_file()
        assert self.health.service is not None
        self.health.service.add_tick_listener(self._on_tick)
        return self.publish()

    async def close(self, drain_timeout_s: float | None = None) -> bool:
        """Drain, stop the engine, close everything; the node cannot be used after."""
        if self._closed:
            return True
        finished = await self.stop_serving(drain_timeout_s)
        self._closed = True
        await self.engine.close(ENGINE_STOP_DRAIN_S)
        await self._tasks.close()
        await self.health.close()
        if self.earnings is not None:
            await self.earnings.close()
        await self.wallets.close()
        if self._open:  # a node refused by the folder lock leaves the other node's files be
            self.worker.remove_run_file()
            self._home_lock.release()
        self.status = NodeStatus(state=NodeState.STOPPED, headline="Closed.",
                                 instance=self.config.instance, network=self.config.network)
        self.status_changed.emit(self.status)
        return finished

    async def start_serving(self) -> NodeStatus:
        """The Serve toggle on: start the engine, connect the worker, take jobs. Returns after
        the first attempt; a passing failure (the chain unreachable) is retried in the
        background. Serving again after a GPU fault is the user's word that the card is fine."""
        if self.blocked is not None or self._closed:
            return self.publish()
        if self._flags.gpu_fault is not None:
            self._flags.clear_fault()
            self.health.protection.clear_stop()
        await self.serving.start()
        return self.status

    async def stop_serving(self, drain_timeout_s: float | None = None) -> bool:
        """The Serve toggle off: refuse new jobs, let running ones finish (bounded), disconnect.
        True when every running job finished in time."""
        return await self.serving.stop(drain_timeout_s)

    def hurry(self) -> None:
        """Stop waiting for running jobs (e.g. a second Ctrl-C while stopping)."""
        self.serving.hurry()

    def apply_live_settings(self, config: NodeConfig) -> None:
        """New settings from the user. Protection limits, the game list, the monitoring
        interval, tariff, TON price and coefficient apply at once; a changed network, owner or
        stats setting reconnects the worker (jobs in flight finish first), a changed model or
        engine setting also restarts the engine. The instance and its folder need a new node."""
        old, self.config = self.config, config
        self.health.apply(config)
        if self.earnings is not None:
            self.earnings.config = config
        opened = self.worker.opened
        if opened is not None and opened.worker.coefficient != config.coefficient:
            opened.worker.set_coefficient(config.coefficient)
        engine, worker = (_changed(old, config, fields) for fields in (ENGINE_FIELDS,
                                                                        WORKER_FIELDS))
        if engine or worker:
            self._tasks.spawn(self._restart_serving(engine), "node.apply-settings")
        self.publish()

    async def _restart_serving(self, engine_too: bool) -> None:
        wanted = self._flags.wanted
        await self.stop_serving()
        if engine_too:
            await self.engine.reconfigure()
        await self._reopen_for_config()
        if wanted:
            await self.start_serving()

    async def _reopen_for_config(self) -> None:
        """After a settings change (serving stopped): the network's ledger, the wallet and
        chain, the stats token anew."""
        if self.earnings is not None and await self.earnings.switch_network(self.config.network):
            self._announce_ledger()
        await self._open_wallet()
        problem = await self.worker.load_stats_token()
        if problem is not None:
            self.worker.problems["stats"] = str(problem)

    async def _open_wallet(self) -> None:
        wallet = await self.wallets.open(self.config.network, self.config.ton_config_file)
        self.wallet_reopened.emit(wallet)

    def _announce_ledger(self) -> None:
        assert self.earnings is not None
        host = self.earnings
        self.ledger_switched.emit(LedgerSwitched(
            network=host.network, ledger=host.ledger, problem=host.problems.get("ledger", "")))

    # -- the engine alone --------------------------------------------------------------------
    async def ensure_engine(self) -> EngineEndpoint:
        """The engine for a chat: started if needed (EngineStartError says why not)."""
        self._check_engine_may_start()
        return await self.engine.ensure_running()

    async def start_engine(self) -> None:
        """The engine button: start the engine without serving (EngineStartError says why
        not: after a GPU fault only serving again, the user's word, lifts the stop)."""
        self._check_engine_may_start()
        async with self._engine_lock:
            await self.engine.start()

    async def stop_engine(self, drain_timeout_s: float = 10.0) -> None:
        """The engine button: stop the engine (serving, if on, waits for it again)."""
        async with self._engine_lock:
            await self.engine.stop(drain_timeout_s)

    async def cancel_engine_load(self) -> bool:
        """The Cancel beside the engine's load progress: stop loading the model. Serving waits
        for that engine, so serving stops too (the Serve toggle goes off); a chat waiting for it
        is told the load was cancelled. False when the engine was not loading."""
        if self.engine.status.state is not EngineState.LOADING:
            return False
        wanted, self._flags.wanted = self._flags.wanted, False  # the bring-up then takes it as
        cancelled = await self.engine.cancel_load()  # the user's stop, not as a failure
        if wanted:
            await self.stop_serving()
        return cancelled

    def _check_engine_may_start(self) -> None:
        if self._flags.gpu_fault is not None:
            raise EngineStartError(f"The engine was stopped after a GPU error: "
                                   f"{self._flags.gpu_fault}")
        if not self._open:
            raise EngineStartError(str(self.blocked or "The node is not open."))

    def _gpu_runs_model(self) -> bool:
        """Whether the engine's model has layers on the GPU (its energy is then the work's)."""
        stats = self.engine.status.stats
        return stats is not None and stats.gpu_layers_offloaded > 0

    # -- events ------------------------------------------------------------------------------
    def _on_engine_status(self, status: EngineStatus) -> None:
        self.health.set_engine_pid(status.pid)
        if self.worker.opened is not None:
            self.worker.opened.worker.set_engine_ready(self.engine.ready)
        f = self._flags
        if status.state is EngineState.CRASHED and f.wanted and f.gpu_fault is None:
            if status.gave_up:
                self._tasks.spawn(self.serving.fail(NodeProblem(
                    "The engine stopped and was not restarted.", status.detail)),
                    "node.engine-gave-up")
            self._notify(Notification("critical", "The engine crashed", status.detail))
        self.publish()

    def _on_control_change(self) -> None:
        """Protection paused, resumed, unloaded or stopped something."""
        self.worker.apply_pause(self._flags.take_jobs)
        self.publish()

    def _notify(self, notification: Notification) -> None:
        level = {"critical": logging.ERROR, "warning": logging.WARNING}.get(
            notification.severity, logging.INFO)
        log.log(level, "%s: %s", notification.title, notification.message)
        self.notification_raised.emit(notification)

    def _on_tick(self, tick: HealthTick) -> None:
        self._gpus = tick.gpus
        self.publish()

    def _on_worker_event(self, event: WorkerEvent) -> None:
        from cocoon_desktop.network.worker.types import ProxyStateChanged, RequestFinished

        if isinstance(event, RequestFinished) and not event.succeeded:
            log.warning("request %s failed: %s", event.request_id[:12], event.error)
        elif isinstance(event, ProxyStateChanged):
            log.info("proxy %s: %s %s", event.endpoint, event.state, event.detail)
        self.publish()

    # -- status ------------------------------------------------------------------------------
    def problems(self) -> tuple[str, ...]:
        """Things that work badly but do not stop serving (gateway, stats, ledger, payouts)."""
        found = {**self.engine.problems, **self.worker.problems}
        if self.earnings is not None:
            found.update(self.earnings.problems)
        return tuple(found.values())

    def publish(self) -> NodeStatus:
        """Build the status from the parts and tell every listener."""
        opened, engine, f = self.worker.opened, self.engine, self._flags
        worker = opened.worker if opened is not None else None
        worker_status = worker.status() if worker is not None else None
        retry_in = self.serving.retry_in_s()
        facts = NodeFacts(
            wanted=f.wanted, stopping=f.stopping, engine_state=engine.status.state,
            engine_ready=engine.ready, engine_detail=engine.status.detail,
            worker=worker_status, where=self.worker.label, paused_reasons=self._paused_reasons(),
            failure=self.blocked or self.serving.failure, gpu_fault=f.gpu_fault,
            retrying=self.serving.retrying, retry_in_s=retry_in)
        state, headline, what_to_do = describe(facts)
        policy = self.health.policy.status
        summary = self.earnings.summary if self.earnings is not None else None
        self.status = NodeStatus(
            state=state, headline=headline, what_to_do=what_to_do,
            instance=self.config.instance, network=self.config.network, where=facts.where,
            wanted=f.wanted, accepting=bool(worker is not None and worker.accepting
                                            and engine.ready),
            paused_reasons=facts.paused_reasons, engine=engine.status, worker=worker_status,
            protection=ProtectionView(
                paused_reasons=tuple(policy.paused_reasons.values()),
                game_mode=policy.game_mode, model_unloaded=f.unloaded,
                stopped_because=f.gpu_fault),
            gpus=self._gpus, earnings=summary, problems=self.problems(),
            stats_url=self.worker.stats_url, retry_in_s=retry_in,
            engine_capacity_note=self.planner.capacity_note,
            earnings_network=self.earnings.network if summary is not None and self.earnings
            else None, vm=self.vm.view())
        self.status_changed.emit(self.status)
        return self.status

    def _paused_reasons(self) -> tuple[str, ...]:
        if not self._flags.paused:
            return ()
        from_policy = tuple(self.health.policy.status.paused_reasons.values())
        return from_policy or tuple(self._flags.paused.values())


def _changed(old: NodeConfig, new: NodeConfig, fields: tuple[str, ...]) -> bool:
    return any(getattr(old, name) != getattr(new, name) for name in fields)


async def _open_worker(*args: object) -> OpenedWorker:
    from cocoon_desktop.node.worker_open import open_worker

    return await open_worker(*args)  # type: ignore[arg-type]
