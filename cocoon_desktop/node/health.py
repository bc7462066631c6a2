"""The node's health: GPU monitoring and protection for the one GPU this node serves on.

It owns the GPU monitor (restricted to the chosen card), the protection policy and its
controller (which acts on the node through `ServingControl`), the energy meter the ledger's
joules come from, and the `HealthService` loop that reads them all every interval.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from cocoon_desktop.core.tasks import TaskSet, run_blocking
from cocoon_desktop.hardware.energy import MonitorEnergySource
from cocoon_desktop.hardware.gpu.monitor import GpuMonitor, open_gpu_monitor
from cocoon_desktop.hardware.protection.control import (
    NotificationSink,
    ProtectionController,
    ServingControl,
)
from cocoon_desktop.hardware.protection.policy import ProtectionPolicy
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.snapshots import HealthTick
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.gpu_select import (
    GpuChoice,
    GpuSelectError,
    SelectedGpuMonitor,
    choose_gpu,
)
from cocoon_desktop.node.request_energy import RequestEnergyMeter
from cocoon_desktop.node.status import NodeProblem

log = logging.getLogger(__name__)


class NodeHealth:
    def __init__(self, config: NodeConfig, data_dir: Path, monitor: GpuMonitor | None,
                 control: ServingControl, notify: NotificationSink, tasks: TaskSet) -> None:
        self._config = config
        self._data_dir = data_dir
        self._monitor_given = monitor
        self._tasks = tasks
        self.policy = ProtectionPolicy(config.protection)
        self.protection = ProtectionController(self.policy, control, notify)
        self.monitor: GpuMonitor | None = None
        self.choice: GpuChoice | None = None  # the card this node serves on, once open
        self.energy: RequestEnergyMeter | None = None
        self.service: HealthService | None = None  # running once open

    @property
    def latest(self) -> HealthTick | None:
        return self.service.latest if self.service is not None else None

    def free_vram_bytes(self) -> int | None:
        """The largest free GPU memory in the last reading; None without one."""
        tick = self.latest
        free = [g.memory_free_bytes for g in tick.gpus if g.memory_free_bytes] if tick else []
        return max(free) if free else None

    async def open(self, gpu_runs_model: Callable[[], bool]
                   ) -> tuple[Mapping[str, str] | None, NodeProblem | None]:
        """Choose this node's GPU and start monitoring it. Returns the engine's environment
        (None: the app's own) and, when the configured GPU cannot be used, the problem."""
        c = self._config
        monitor = self._monitor_given or await run_blocking(open_gpu_monitor)
        env, problem = None, None
        try:
            choice = await run_blocking(choose_gpu, monitor, c.gpu, c.instance)
        except GpuSelectError as exc:
            problem = NodeProblem(str(exc), "Fix `gpu` in the rig file.")
            choice = None
        self.choice = choice
        if choice is not None:
            monitor = SelectedGpuMonitor(monitor, choice)
            env = {**os.environ, **choice.engine_environment}
            log.info("instance %d serves on %s", c.instance, choice)
        self.monitor = monitor
        self.energy = RequestEnergyMeter(MonitorEnergySource(monitor), gpu_runs_model)
        self.service = HealthService(
            monitor, SystemSampler(self._data_dir),
            games=ProcessNameWatch(c.game_mode_processes), protection=self.protection,
            energy=self.energy, interval_s=c.monitoring_interval_s)
        self._tasks.spawn(self.service.run(), "node.health")
        return env, problem

    def apply(self, config: NodeConfig) -> None:
        """New protection limits, game list and interval, at once."""
        self._config = config
        self.policy.update_settings(config.protection)
        if self.service is not None:
            self.service.games.set_names(config.game_mode_processes)
            self.service.interval_s = config.monitoring_interval_s

    def set_engine_pid(self, pid: int | None) -> None:
        if self.service is not None:
            self.service.set_engine_pid(pid)

    async def close(self) -> None:
        """After the node's tasks (the service's loop among them) were cancelled."""
        if self.service is not None:
            await run_blocking(self.service.close)
