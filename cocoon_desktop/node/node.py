"""The node: one worker on one GPU with everything around it, in asyncio, without Qt.

It owns the engine (`EngineHost`), GPU monitoring and protection (it IS the hardware area's
`ServingControl`), the energy meter, the worker for the chosen network, the ledger with its
recorder, payouts and chain sync, and the worker's stats surface. The GUI adapter and the
headless service both drive a `Node` and show its one frozen `NodeStatus`.

    node = Node(config)                     # NodeConfig; the instance's folders from node_home
    node.add_listener(on_status)            # every NodeStatus, on the event loop's thread
    await node.open()                       # monitoring, ledger, wallet: never raises
    await node.start_serving()              # the Serve toggle: engine, worker, stats
    await node.stop_serving()               # drain (bounded), disconnect; the engine stays
    await node.cancel_engine_load()         # Cancel while the model loads (serving stops)
    await node.close()                      # drain, stop the engine, close everything

Rules: the worker takes jobs only while serving is wanted and nothing pauses it; pausing
drains (jobs in flight finish). Game mode unloads the model (the engine process exits, so its
VRAM is free) and reloads it after. A critical GPU error stops the engine and nothing restarts
by itself until the user starts serving again. Every failure is a state with what to do.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from cocoon_desktop.engine.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.types import EngineEndpoint, EngineState
from cocoon_desktop.hardware.monitor import GpuMonitor
from cocoon_desktop.hardware.protection import Notification
from cocoon_desktop.hardware.snapshots import GpuSample, HealthTick
from cocoon_desktop.network.worker.types import ProxyStateChanged, RequestFinished, WorkerEvent
from cocoon_desktop.node.config import NodeConfig, NodeHome, node_home
from cocoon_desktop.node.engine_host import (
    SupervisorFactory,
    default_supervisor,
    network_jobs_for,
)
from cocoon_desktop.node.node_parts import call_listener
from cocoon_desktop.node.serving_hands import ServingHands
from cocoon_desktop.node.status import (
    NodeFacts,
    NodeProblem,
    NodeState,
    NodeStatus,
    ProtectionView,
    describe,
)
from cocoon_desktop.node.wallet_prep import WalletNotReady, prepare_wallet
from cocoon_desktop.node.worker_open import (
    OpenedWorker,
    WorkerOpener,
    WorkerSetupError,
    open_worker,
)
from cocoon_desktop.wallet.secret_store import SecretStore

log = logging.getLogger(__name__)
ENGINE_FIELDS = ("model_path", "model_name", "context_tokens", "gpu_layers", "threads",
                 "max_active_requests", "speculative", "draft_model_path")
WORKER_FIELDS = ("network", "root_config_file", "root_contract_address", "ton_config_file",
                 "proxies", "attestation", "owner_address", "stats_port", "stats_listen",
                 "stats_token_file")
RETRY_FIRST_S = 15.0
RETRY_MAX_S = 300.0
ENGINE_STOP_DRAIN_S = 5.0


class Node(ServingHands):
    def __init__(self, config: NodeConfig, home: NodeHome | None = None, *,
                 monitor: GpuMonitor | None = None, secret_store: SecretStore | None = None,
                 supervisor_factory: SupervisorFactory = default_supervisor,
                 opener: WorkerOpener = open_worker) -> None:
        super().__init__(config, home or node_home(config.instance, config.home), monitor,
                         secret_store, supervisor_factory)
        self._opener = opener
        self._closed = False
        self._failure: NodeProblem | None = None
        self._retrying: NodeProblem | None = None
        self._retry_at: float | None = None
        self._gpus: tuple[GpuSample, ...] = ()
        self._bringup: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._tried = asyncio.Event()  # the first bring-up attempt is over (start_serving)
        self.status = NodeStatus(NodeState.STOPPED, "Not open yet.", instance=config.instance,
                                 network=config.network)

    # -- life cycle --------------------------------------------------------------------------
    async def open(self) -> NodeStatus:
        """Start monitoring, open the ledger and the wallet (failures become states)."""
        await self.open_parts()
        if self.health is not None:
            self.health.add_tick_listener(self._on_tick)
        return self._publish()

    async def start_serving(self) -> NodeStatus:
        """The Serve toggle on: start the engine, connect the worker, take jobs. Returns after
        the first attempt; a passing failure (the chain unreachable) is retried in the
        background."""
        if self.blocked is not None or self._closed:
            return self._publish()
        self._wanted = True
        self._failure = None
        if self._gpu_fault is not None:
            self._gpu_fault = None
            self._paused.clear()
            if self.protection is not None:
                self.protection.clear_stop()
        self._publish()
        if self._bringup is None or self._bringup.done():
            self._tried.clear()
            self._bringup = asyncio.get_running_loop().create_task(self._bring_up(),
                                                                    name="node.bring-up")
        tried = asyncio.ensure_future(self._tried.wait())
        await asyncio.wait({self._bringup, tried}, return_when=asyncio.FIRST_COMPLETED)
        tried.cancel()
        return self.status

    async def stop_serving(self, drain_timeout_s: float | None = None) -> bool:
        """The Serve toggle off: refuse new jobs, let running ones finish (bounded), disconnect.
        True when every running job finished in time."""
        self._wanted = False
        self._retrying = None
        if self._bringup is not None and not self._bringup.done():
            self._bringup.cancel()
            await asyncio.gather(self._bringup, return_exceptions=True)
        opened, self.opened = self.opened, None
        finished = True
        if opened is not None:
            self._stopping = True
            self._publish()
            timeout = self.config.drain_timeout_s if drain_timeout_s is None else drain_timeout_s
            finished = await self._drain(opened, timeout)
            if not finished:
                log.warning("%d job(s) did not finish within %.0f s and were cut off",
                            opened.worker.active_requests, timeout)
            await self._close_opened(opened)
            self._stopping = False
        self._publish()
        return finished

    def hurry(self) -> None:
        """Stop waiting for running jobs (e.g. a second Ctrl-C while stopping)."""
        self._hurry.set()

    async def _drain(self, opened: OpenedWorker, timeout_s: float) -> bool:
        drain = asyncio.ensure_future(opened.worker.drain(timeout_s))
        hurry = asyncio.ensure_future(self._hurry.wait())
        await asyncio.wait({drain, hurry}, return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        if not drain.done():
            drain.cancel()
            return False
        return drain.result()

    async def close(self, drain_timeout_s: float | None = None) -> bool:
        """Drain, stop the engine, close everything; the node cannot be used after."""
        if self._closed:
            return True
        finished = await self.stop_serving(drain_timeout_s)
        self._closed = True
        await self.close_parts(ENGINE_STOP_DRAIN_S)
        self.status = NodeStatus(NodeState.STOPPED, "Closed.", instance=self.config.instance,
                                 network=self.config.network)
        self.emit(self.status)
        return finished

    def apply_live_settings(self, config: NodeConfig) -> None:
        """New settings from the user. Protection limits, the game list, the monitoring
        interval, tariff, TON price and coefficient apply at once; a changed network, owner or
        stats setting reconnects the worker (jobs in flight finish first), a changed model or
        engine setting also restarts the engine. The instance and its folder need a new node."""
        old, self.config = self.config, config
        if self.policy is not None:
            self.policy.update_settings(config.protection)
        if self.health is not None:
            self.health.games.set_names(config.game_mode_processes)
            self.health.interval_s = config.monitoring_interval_s
        if self.earnings is not None:
            self.earnings.config = config
        if self.opened is not None and self.opened.worker.coefficient != config.coefficient:
            self.opened.worker.set_coefficient(config.coefficient)
        engine, worker = (_changed(old, config, fields) for fields in (ENGINE_FIELDS,
                                                                        WORKER_FIELDS))
        if engine or worker:
            self.spawn(self._restart_serving(engine), "node.apply-settings")
        self._publish()

    async def _restart_serving(self, engine_too: bool) -> None:
        wanted = self._wanted
        await self.stop_serving()
        if engine_too and self.engine is not None:
            await self.engine.reconfigure()
        await self.reopen_for_config()
        if wanted:
            await self.start_serving()

    async def cancel_engine_load(self) -> bool:
        """The Cancel beside the engine's load progress: stop loading the model. Serving waits
        for that engine, so serving stops too (the Serve toggle goes off); a chat waiting for it
        is told the load was cancelled. False when the engine was not loading."""
        if self.engine is None or self.engine.status.state is not EngineState.LOADING:
            return False
        wanted, self._wanted = self._wanted, False  # the bring-up then takes it as the user's
        cancelled = await self.engine.cancel_load()  # stop, not as a failure
        if wanted:
            await self.stop_serving()
        return cancelled

    async def ensure_engine(self) -> EngineEndpoint:
        """The engine for a chat: started if needed (EngineStartError says why not)."""
        if self._gpu_fault is not None:
            raise EngineStartError(f"The engine was stopped after a GPU error: {self._gpu_fault}")
        if self.engine is None:
            raise EngineStartError(str(self.blocked or "The node is not open."))
        return await self.engine.ensure_running()

    # -- bringing serving up ----------------------------------------------------------------
    async def _bring_up(self) -> None:
        delay = RETRY_FIRST_S
        while self._wanted and not self._closed:
            try:
                await self._bring_up_once()
                self._retrying = None
                self._publish()
                return
            except WorkerSetupError as exc:
                if not exc.transient:
                    return await self._fail(exc.problem)
                log.warning("%s (trying again in %.0f s)", exc.problem, delay)
                self._retrying, self._retry_at = exc.problem, self._now() + delay
                self._publish()
                self._tried.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except WalletNotReady as exc:
                return await self._fail(exc.problem)
            except EngineStartError as exc:
                if self._gpu_fault is None and self._wanted:
                    await self._fail(NodeProblem(f"The engine could not start: {exc}",
                                                 "Fix the model settings, then serve again."))
                return
            except (ValueError, OSError) as exc:
                return await self._fail(NodeProblem(f"Serving could not start: {exc}",
                                                    "Check the rig file or the settings."))

    async def _bring_up_once(self) -> None:
        assert self.engine is not None and self.wallet is not None
        c = self.config
        ready = await asyncio.to_thread(prepare_wallet, self.wallet, c.owner_address,
                                        not c.is_devnet, c.headless, self.home.keyring_service)
        if not self._unloaded:
            await self.engine.ensure_running()
        if self.opened is not None:
            return
        settings = self.engine.settings
        assert settings is not None
        # announce what the engine can really take, not just what was asked for
        worker_config = replace(c, max_active_requests=network_jobs_for(
            settings.parallel_sequences))
        opened = await self._opener(worker_config, settings.model_name, ready.owner_address,
                                    lambda: self.engine.endpoint if self.engine else None,
                                    self.chain)
        self.opened = opened
        opened.worker.add_listener(self._on_worker_event)
        opened.worker.set_engine_ready(self.engine.ready)
        self._apply_pause()
        try:
            await opened.worker.start()
        except ValueError:
            self.opened = None
            await opened.close()
            raise
        self.earnings_attach(opened, ready)
        await self.start_stats(opened.worker)
        self.write_run_file(opened)
        log.info("serving on %s as owner %s", opened.label, ready.owner_address)

    async def _fail(self, problem: NodeProblem) -> None:
        log.error("%s %s", problem.what, problem.what_to_do)
        self._failure = problem
        self._wanted = False
        self._retrying = None
        opened, self.opened = self.opened, None
        if opened is not None:
            await self._close_opened(opened)
        self._publish()

    async def _close_opened(self, opened: OpenedWorker) -> None:
        await self.stop_stats()
        if self.earnings is not None:
            self.earnings.detach(opened.worker)
        opened.worker.remove_listener(self._on_worker_event)
        await opened.close()
        self.write_run_file(None)

    # -- events ------------------------------------------------------------------------------
    def on_engine_status(self, status: EngineStatus) -> None:
        if self.health is not None:
            self.health.set_engine_pid(status.pid)
        if self.opened is not None and self.engine is not None:
            self.opened.worker.set_engine_ready(self.engine.ready)
        if status.state is EngineState.CRASHED and self._wanted and self._gpu_fault is None:
            if status.gave_up:
                self.spawn(self._fail(NodeProblem("The engine stopped and was not restarted.",
                                                  status.detail)), "node.engine-gave-up")
            self.on_notification(Notification("critical", "The engine crashed", status.detail))
        self._publish()

    def on_notification(self, notification: Notification) -> None:
        level = {"critical": logging.ERROR, "warning": logging.WARNING}.get(
            notification.severity, logging.INFO)
        log.log(level, "%s: %s", notification.title, notification.message)
        for listener in list(self._notification_listeners):
            call_listener(listener, notification)

    def _on_tick(self, tick: HealthTick) -> None:
        self._gpus = tick.gpus
        self._publish()

    def _on_worker_event(self, event: WorkerEvent) -> None:
        if isinstance(event, RequestFinished) and not event.succeeded:
            log.warning("request %s failed: %s", event.request_id[:12], event.error)
        elif isinstance(event, ProxyStateChanged):
            log.info("proxy %s: %s %s", event.endpoint, event.state, event.detail)
        for listener in list(self._worker_listeners):
            call_listener(listener, event)
        self._publish()

    # -- status ------------------------------------------------------------------------------
    def publish(self) -> NodeStatus:
        return self._publish()

    def _publish(self) -> NodeStatus:
        worker = self.opened.worker if self.opened is not None else None
        worker_status = worker.status() if worker is not None else None
        engine = self.engine.status if self.engine is not None else None
        engine_ready = self.engine.ready if self.engine is not None else False
        reasons = self._paused_reasons()
        retry_in = (max(0.0, self._retry_at - self._now())
                    if self._retrying is not None and self._retry_at is not None else None)
        facts = NodeFacts(
            wanted=self._wanted, stopping=self._stopping,
            engine_state=engine.state if engine else EngineState.STOPPED,
            engine_ready=engine_ready, engine_detail=engine.detail if engine else "",
            worker=worker_status, where=self.opened.label if self.opened else "",
            paused_reasons=reasons, failure=self.blocked or self._failure,
            gpu_fault=self._gpu_fault, retrying=self._retrying, retry_in_s=retry_in)
        state, headline, what_to_do = describe(facts)
        policy = self.policy.status if self.policy is not None else None
        summary = self.earnings.summary if self.earnings is not None else None
        self.status = NodeStatus(
            state, headline, what_to_do, self.config.instance, self.config.network,
            facts.where, self._wanted,
            bool(worker is not None and worker.accepting and engine_ready), reasons,
            facts.engine_state, facts.engine_detail, engine.warnings if engine else (),
            worker_status,
            ProtectionView(tuple(policy.paused_reasons.values()) if policy else (),
                           policy.game_mode if policy else False, self._unloaded,
                           self._gpu_fault),
            self._gpus, summary, self.problems(), self.stats.url if self.stats else "", retry_in,
            engine_load_fraction=engine.load_fraction if engine else None,
            engine_capacity_note=self.engine_capacity_note,
            engine_stats=engine.stats if engine else None,
            earnings_network=self.earnings.network if summary is not None and self.earnings
            else None)
        self.emit(self.status)
        return self.status

    def _paused_reasons(self) -> tuple[str, ...]:
        if not self._paused:
            return ()
        from_policy = tuple(self.policy.status.paused_reasons.values()) if self.policy else ()
        return from_policy or tuple(self._paused.values())

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


def _changed(old: NodeConfig, new: NodeConfig, fields: tuple[str, ...]) -> bool:
    return any(getattr(old, name) != getattr(new, name) for name in fields)
