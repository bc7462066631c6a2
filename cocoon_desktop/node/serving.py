"""The Serve toggle's life: bring serving up, retry a passing failure, drain and disconnect.

Bringing up: the wallet made ready (owner linked; on paying networks the node wallet key
read), the engine running (unless game mode unloaded it), the worker for the chosen network
connected with what the engine can really take, the earnings recorder attached, payouts enabled
(networks with a chain), the stats surface and the run file. A passing failure (the chain
unreachable) is tried again after 15 s, doubling to 5 min; any other becomes `failure`, a state
with what to do. Stopping lets running jobs finish (bounded; `hurry()` stops waiting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from cocoon_desktop.core.tasks import TaskSet, run_blocking
from cocoon_desktop.engine.host.supervisor import EngineStartError
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.earnings_host import EarningsHost
from cocoon_desktop.node.engine_host import EngineHost
from cocoon_desktop.node.engine_plan import network_jobs_for
from cocoon_desktop.node.serving_control import ServingFlags
from cocoon_desktop.node.status import NodeProblem, NodeStatus
from cocoon_desktop.node.vm_host import VmHost
from cocoon_desktop.node.wallet_host import WalletHost
from cocoon_desktop.node.wallet_prep import WalletNotReady, WalletReady, prepare_wallet
from cocoon_desktop.node.worker_host import WorkerHost, WorkerListener
from cocoon_desktop.wallet.chain import ChainService

if TYPE_CHECKING:
    from cocoon_desktop.node.worker_open import OpenedWorker, WorkerOpener

log = logging.getLogger(__name__)
RETRY_FIRST_S = 15.0
RETRY_MAX_S = 300.0


class Serving:
    def __init__(self, *, flags: ServingFlags, engine: EngineHost, worker: WorkerHost,
                 wallets: WalletHost, earnings: Callable[[], EarningsHost | None],
                 config: Callable[[], NodeConfig], keyring_service: str, opener: WorkerOpener,
                 tasks: TaskSet, publish: Callable[[], NodeStatus],
                 status: Callable[[], NodeStatus], on_worker_event: WorkerListener,
                 vm: Callable[[], VmHost | None] = lambda: None) -> None:
        """`vm`: the confidential VM when the node serves from it (None: the sandbox)."""
        self._flags = flags
        self._engine = engine
        self._worker = worker
        self._wallets = wallets
        self._earnings = earnings
        self._config = config
        self._keyring_service = keyring_service
        self._opener = opener
        self._tasks = tasks
        self._publish = publish
        self._status = status  # the node's latest, for the stats surface
        self._on_worker_event = on_worker_event
        self._vm = vm
        self.failure: NodeProblem | None = None  # needs the user; cleared by the next start
        self.retrying: NodeProblem | None = None  # a passing failure, tried again soon
        self._retry_at: float | None = None
        self._bringup: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._tried = asyncio.Event()  # the first bring-up attempt is over (start)

    def retry_in_s(self) -> float | None:
        if self.retrying is None or self._retry_at is None:
            return None
        return max(0.0, self._retry_at - _now())

    async def start(self) -> None:
        """Serve: returns after the first attempt; a passing failure is retried in the
        background."""
        self._flags.wanted = True
        self.failure = None
        self._publish()
        if self._bringup is None or self._bringup.done():
            self._tried.clear()
            self._bringup = self._tasks.spawn(self._bring_up(), "node.bring-up")
        tried = asyncio.ensure_future(self._tried.wait())
        await asyncio.wait({self._bringup, tried}, return_when=asyncio.FIRST_COMPLETED)
        tried.cancel()

    async def stop(self, drain_timeout_s: float | None = None) -> bool:
        """Refuse new jobs, let running ones finish (bounded), disconnect. True when every
        running job finished in time."""
        self._flags.wanted = False
        self.retrying = None
        if self._bringup is not None and not self._bringup.done():
            self._bringup.cancel()
            await asyncio.gather(self._bringup, return_exceptions=True)
        opened = self._worker.take()
        finished = True
        if opened is not None:
            self._flags.stopping = True
            self._publish()
            timeout = (self._config().drain_timeout_s if drain_timeout_s is None
                       else drain_timeout_s)
            finished = await self._drain(opened, timeout)
            if not finished:
                log.warning("%d job(s) did not finish within %.0f s and were cut off",
                            opened.worker.active_requests, timeout)
            await self._close(opened)
            self._flags.stopping = False
        self._publish()
        return finished

    def hurry(self) -> None:
        """Stop waiting for running jobs (e.g. a second Ctrl-C while stopping)."""
        self._hurry.set()

    async def fail(self, problem: NodeProblem) -> None:
        """Stop serving on a failure that needs the user (`failure` says what to do)."""
        log.error("%s %s", problem.what, problem.what_to_do)
        self.failure = problem
        self._flags.wanted = False
        self.retrying = None
        opened = self._worker.take()
        if opened is not None:
            await self._close(opened)
        self._publish()

    async def _drain(self, opened: OpenedWorker, timeout_s: float) -> bool:
        drain = asyncio.ensure_future(opened.worker.drain(timeout_s))
        hurry = asyncio.ensure_future(self._hurry.wait())
        await asyncio.wait({drain, hurry}, return_when=asyncio.FIRST_COMPLETED)
        hurry.cancel()
        if not drain.done():
            drain.cancel()
            return False
        return drain.result()

    async def _close(self, opened: OpenedWorker) -> None:
        """Close the worker, then detach the recorder: what the worker reports while it stops
        (a job cut off, a last statement, the guest's final events) still reaches the ledger."""
        await self._worker.close_worker(opened, self._on_worker_event)
        earnings = self._earnings()
        if earnings is not None:
            earnings.detach(opened.worker)

    async def _bring_up(self) -> None:
        from cocoon_desktop.node.worker_open import WorkerSetupError

        delay = RETRY_FIRST_S
        while self._flags.wanted:
            try:
                await self._bring_up_once()
                self.retrying = None
                self._publish()
                return
            except WorkerSetupError as exc:
                if not exc.transient:
                    return await self.fail(exc.problem)
                log.warning("%s (trying again in %.0f s)", exc.problem, delay)
                self.retrying, self._retry_at = exc.problem, _now() + delay
                self._publish()
                self._tried.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except WalletNotReady as exc:
                return await self.fail(exc.problem)
            except EngineStartError as exc:
                if self._flags.gpu_fault is None and self._flags.wanted:
                    await self.fail(NodeProblem(f"The engine could not start: {exc}",
                                                "Fix the model settings, then serve again."))
                return
            except (ValueError, OSError) as exc:
                return await self.fail(NodeProblem(f"Serving could not start: {exc}",
                                                   "Check the rig file or the settings."))

    async def _bring_up_once(self) -> None:
        wallet = self._wallets.current
        assert wallet is not None
        c = self._config()
        ready = await run_blocking(prepare_wallet, wallet.wallet, c.owner_address,
                                   not c.is_devnet, c.headless, self._keyring_service)
        vm = self._vm()
        if vm is None and not self._flags.unloaded:
            await self._engine.ensure_running()
        if self._worker.opened is not None:
            return
        if vm is not None:  # the engine and the worker boot together, in the VM
            opened = await vm.open_worker(c, ready.owner_address, wallet.chain)
        else:
            opened = await self._open_here(c, ready.owner_address, wallet.chain)
        earnings = self._earnings()
        if earnings is not None and opened.devnet is None:  # a devnet's proxy is new each run
            await earnings.restore_accounts(opened.worker)
        engine = self._engine
        await self._worker.connect(opened, self._on_worker_event, engine.ready,
                                   self._flags.take_jobs)
        self._attach_earnings(opened, ready)
        await self._worker.start_stats(earnings.payout_hook if earnings else None, self._status)
        self._worker.write_run_file()
        log.info("serving on %s as owner %s", opened.label, ready.owner_address)

    async def _open_here(self, c: NodeConfig, owner_address: str, chain: ChainService | None
                         ) -> OpenedWorker:
        """The worker for the network, beside the engine in this computer's sandbox."""
        engine = self._engine
        settings = engine.settings
        assert settings is not None
        # announce what the engine can really take, not just what was asked for
        worker_config = replace(c, max_active_requests=network_jobs_for(
            settings.parallel_sequences))
        return await self._opener(worker_config, settings.model_name, owner_address,
                                  lambda: engine.endpoint, chain)

    def _attach_earnings(self, opened: OpenedWorker, ready: WalletReady) -> None:
        earnings, wallet = self._earnings(), self._wallets.current
        if earnings is None:
            return
        earnings.attach(opened.worker)
        if wallet is not None and wallet.chain is not None and ready.node_wallet_address:
            earnings.enable_payouts(wallet.wallet, wallet.chain, ready.owner_address)


def _now() -> float:
    return asyncio.get_running_loop().time()
