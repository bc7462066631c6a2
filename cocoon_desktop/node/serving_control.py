"""How GPU protection acts on a node: the hardware area's `ServingControl`, for one node.

Each method returns at once (the slow part runs as a node task) and may be called again in the
same state. Pausing drains: the worker takes no new jobs, jobs in flight finish. Game mode
drains, then stops the engine process so its VRAM is really free, and starts it again after.
A GPU fault stops the engine now and nothing restarts it until the user serves again.

`ServingFlags` is what decides whether the worker takes jobs: the user's Serve toggle (the
node sets it) and protection's holds (this adapter sets them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.node.engine_host import EngineHost
from cocoon_desktop.node.worker_host import WorkerHost

log = logging.getLogger(__name__)


@dataclass
class ServingFlags:
    wanted: bool = False  # the Serve toggle
    stopping: bool = False  # draining before the worker disconnects
    paused: dict[str, str] = field(default_factory=dict)  # "protection"/"game" -> the reason
    unloaded: bool = False  # game mode took the model out of memory
    gpu_fault: str | None = None  # a critical GPU error stopped the engine: why

    @property
    def take_jobs(self) -> bool:
        return (self.wanted and not self.paused and self.gpu_fault is None
                and not self.stopping)

    def clear_fault(self) -> None:
        """The user serves again after a GPU fault."""
        self.gpu_fault = None
        self.paused.clear()


class NodeServingControl:
    """Protection's hands on the node's worker and engine. `engine_lock` keeps an unload and a
    reload (and the user's own engine start and stop) from overlapping."""

    def __init__(self, flags: ServingFlags, engine: EngineHost, worker: WorkerHost,
                 engine_lock: asyncio.Lock, tasks: TaskSet,
                 drain_timeout_s: Callable[[], float], on_change: Callable[[], None]) -> None:
        self._flags = flags
        self._engine = engine
        self._worker = worker
        self._engine_lock = engine_lock
        self._tasks = tasks
        self._drain_timeout_s = drain_timeout_s
        self._on_change = on_change  # re-apply the pause rule and publish the node's status

    def pause_network_jobs(self, reason: str) -> None:
        self._flags.paused["protection"] = reason
        self._on_change()

    def resume_network_jobs(self) -> None:
        self._flags.paused.pop("protection", None)
        self._flags.paused.pop("game", None)
        self._on_change()

    def unload_model(self, reason: str) -> None:
        self._flags.paused["game"] = reason
        self._flags.unloaded = True
        self._on_change()
        self._tasks.spawn(self._unload(), "node.unload")

    def reload_model(self) -> None:
        self._flags.unloaded = False
        self._on_change()
        self._tasks.spawn(self._reload(), "node.reload")

    def stop_engine(self, reason: str) -> None:
        self._flags.gpu_fault = reason
        self._on_change()
        self._tasks.spawn(self._engine.stop(0), "node.stop-engine")

    async def _unload(self) -> None:
        async with self._engine_lock:
            opened = self._worker.opened
            if opened is not None:
                await opened.worker.drain(self._drain_timeout_s())
            if self._flags.unloaded:
                await self._engine.stop()
                log.info("game mode: the model is unloaded, its GPU memory is free")

    async def _reload(self) -> None:
        async with self._engine_lock:
            f = self._flags
            if f.wanted and not f.unloaded and f.gpu_fault is None:
                await self._engine.start()
                log.info("game mode over: reloading the model")
