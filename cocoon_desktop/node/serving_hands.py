"""How GPU protection acts on a node: the hardware area's `ServingControl`, implemented.

Each method returns at once (the slow part runs as a node task) and may be called again in the
same state. Pausing drains: the worker takes no new jobs, jobs in flight finish. Game mode
drains, then stops the engine process so its VRAM is really free, and starts it again after.
A GPU fault stops the engine now and nothing restarts it until the user serves again.
"""

from __future__ import annotations

import asyncio
import logging

from cocoon_desktop.hardware.gpu.monitor import GpuMonitor
from cocoon_desktop.node.config import NodeConfig, NodeHome
from cocoon_desktop.node.engine_host import SupervisorFactory
from cocoon_desktop.node.node_parts import NodeParts
from cocoon_desktop.node.worker_open import OpenedWorker
from cocoon_desktop.wallet.secret_store import SecretStore

log = logging.getLogger(__name__)


class ServingHands(NodeParts):
    def __init__(self, config: NodeConfig, home: NodeHome, monitor: GpuMonitor | None,
                 secret_store: SecretStore | None, supervisor_factory: SupervisorFactory
                 ) -> None:
        super().__init__(config, home, monitor, secret_store, supervisor_factory)
        self.opened: OpenedWorker | None = None
        self._wanted = False  # the Serve toggle
        self._stopping = False
        self._paused: dict[str, str] = {}  # "protection" / "game" -> the latest reason
        self._unloaded = False  # game mode took the model out of memory
        self._gpu_fault: str | None = None
        self._engine_lock = asyncio.Lock()

    # -- ServingControl (GPU protection acts through these) -----------------------------------
    def pause_network_jobs(self, reason: str) -> None:
        self._paused["protection"] = reason
        self._apply_pause()
        self.publish()

    def resume_network_jobs(self) -> None:
        self._paused.pop("protection", None)
        self._paused.pop("game", None)
        self._apply_pause()
        self.publish()

    def unload_model(self, reason: str) -> None:
        self._paused["game"] = reason
        self._unloaded = True
        self._apply_pause()
        self.publish()
        self.spawn(self._unload(), "node.unload")

    def reload_model(self) -> None:
        self._unloaded = False
        self.publish()
        self.spawn(self._reload(), "node.reload")

    def stop_engine(self, reason: str) -> None:
        self._gpu_fault = reason
        self._apply_pause()
        self.publish()
        if self.engine is not None:
            self.spawn(self.engine.stop(0), "node.stop-engine")

    async def _unload(self) -> None:
        async with self._engine_lock:
            if self.opened is not None:
                await self.opened.worker.drain(self.config.drain_timeout_s)
            if self._unloaded and self.engine is not None:
                await self.engine.stop()
                log.info("game mode: the model is unloaded, its GPU memory is free")

    async def _reload(self) -> None:
        async with self._engine_lock:
            if self._wanted and not self._unloaded and self._gpu_fault is None and self.engine:
                await self.engine.start()
                log.info("game mode over: reloading the model")

    def _apply_pause(self) -> None:
        if self.opened is None:
            return
        worker = self.opened.worker
        state = worker.status()
        take_jobs = (self._wanted and not self._paused and self._gpu_fault is None
                     and not self._stopping)
        if take_jobs and (not state.enabled or state.draining):
            worker.enable()
        elif not take_jobs and state.enabled:
            worker.disable()
