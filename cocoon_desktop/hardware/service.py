"""The health service: one 1 Hz loop that reads the GPUs and the host, records the history, and
feeds protection and the energy meter.

    service = HealthService(open_gpu_monitor(), SystemSampler(paths.data_dir),
                            protection=ProtectionController(ProtectionPolicy(), control, notify),
                            energy=meter)
    service.set_engine_pid(engine_pid)        # whenever the engine (re)starts
    service.add_tick_listener(on_tick)         # called on the event loop's thread
    task = spawn(service.run())                # until cancelled; then service.close()

`run()` does the blocking reads on the blocking pool (`core.tasks.run_blocking`; on the loop
itself when nothing in them can block: no GPU driver, engine or game list) and everything
else on the loop's thread, so listeners, the policy and `ServingControl` all run on the app's
one loop.
GPU error events arrive from the Xid thread through `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable

import psutil

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.hardware.energy import EnergyMeter, EnergyReading
from cocoon_desktop.hardware.gpu.monitor import GpuMonitor
from cocoon_desktop.hardware.history import MetricHistory, metrics_of
from cocoon_desktop.hardware.protection.control import ProtectionController
from cocoon_desktop.hardware.snapshots import GpuEvent, GpuSample, HealthTick
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler

log = logging.getLogger(__name__)
TickListener = Callable[[HealthTick], None]
EventListener = Callable[[GpuEvent], None]


class HealthService:
    def __init__(
        self,
        gpu: GpuMonitor,
        system: SystemSampler,
        *,
        history: MetricHistory | None = None,
        games: ProcessNameWatch | None = None,
        protection: ProtectionController | None = None,
        energy: EnergyMeter | None = None,
        interval_s: float = 1.0,
    ) -> None:
        self.gpu = gpu
        self.system = system
        self.history = history or MetricHistory()
        self.games = games or ProcessNameWatch()
        self.protection = protection
        self.energy = energy
        self.interval_s = interval_s
        self.latest: HealthTick | None = None
        self.events: list[GpuEvent] = []  # every GPU error event seen, for the dashboard
        self.events_unavailable: str | None = None  # why GPU error events are not watched
        self._ticks: Listeners[HealthTick] = Listeners("health ticks")
        self._gpu_events: Listeners[GpuEvent] = Listeners("GPU error events")
        self._names: dict[int, str | None] = {}
        self._failures = 0

    def set_engine_pid(self, pid: int | None) -> None:
        self.system.set_engine_pid(pid)

    def add_tick_listener(self, listener: TickListener) -> Callable[[], None]:
        """Call `listener` with every tick; returns the function that unsubscribes it."""
        return self._ticks.add(listener)

    def add_event_listener(self, listener: EventListener) -> Callable[[], None]:
        """Call `listener` with every GPU error event; returns its unsubscribe function."""
        return self._gpu_events.add(listener)

    def tick(self) -> HealthTick:
        """Read everything once (blocking: NVML and /proc, a few milliseconds)."""
        gpus = tuple(self._with_names(g) for g in self.gpu.sample())
        listed = {p.pid for g in gpus for p in g.processes or ()}
        self._names = {pid: name for pid, name in self._names.items() if pid in listed}
        now = time.monotonic()
        engine = self.system.sample_engine(now)
        return HealthTick(
            monotonic_s=now,
            wall_time_s=time.time(),
            gpus=gpus,
            system=self.system.sample_system(),
            engine=engine,
            own_pids=frozenset({os.getpid()}) | self.system.engine_pids(),
            game_processes=self.games.running(now),
        )

    def publish(self, tick: HealthTick) -> None:
        """Record and act on a tick (on the loop's thread)."""
        self.latest = tick
        self.history.record(tick.wall_time_s, metrics_of(tick))
        if self.energy is not None:
            self.energy.observe(energy_reading(tick))
        if self.protection is not None:
            self.protection.on_tick(tick)
        self._ticks.emit(tick)

    def handle_event(self, event: GpuEvent) -> None:
        """A GPU error event (on the loop's thread)."""
        self.events.append(event)
        del self.events[:-100]
        if self.protection is not None:
            self.protection.on_gpu_event(event)
        self._gpu_events.emit(event)

    async def run(self) -> None:
        """Tick every `interval_s` until cancelled. A slow tick skips, never bursts."""
        loop = asyncio.get_running_loop()

        def from_thread(event: GpuEvent) -> None:
            loop.call_soon_threadsafe(self.handle_event, event)

        self.events_unavailable = await run_blocking(self.gpu.start_events, from_thread)
        next_at = loop.time()
        while True:
            try:
                self.publish(await run_blocking(self.tick) if self._tick_blocks() else self.tick())
            except Exception:
                # Protection must outlive one bad reading: log (sparingly) and tick again.
                self._failures += 1
                if self._failures == 1 or self._failures % 300 == 0:
                    log.exception("Health tick failed (%d so far); monitoring goes on",
                                  self._failures)
            next_at += self.interval_s
            delay = next_at - loop.time()
            if delay < 0:
                next_at, delay = loop.time(), 0.0
            await asyncio.sleep(delay)

    def _tick_blocks(self) -> bool:
        """Whether a tick may take long: a GPU driver to ask, an engine process tree or a game
        list to look for in /proc. Without them a tick is ~80 µs of /proc reads and a statvfs,
        and running it on the loop spares the idle app the thread pool's round trip each
        second (a tenth of its CPU: issue 17's < 0.3 % of a core)."""
        return self.gpu.reads_block or bool(self.games.names or self.system.engine_pids())

    def close(self) -> None:
        """Stop the GPU event thread and release NVML (after `run()` was cancelled)."""
        self.gpu.close()

    def _with_names(self, sample: GpuSample) -> GpuSample:
        if not sample.processes:
            return sample
        named = tuple(dataclasses.replace(p, name=self._name_of(p.pid)) for p in sample.processes)
        return dataclasses.replace(sample, processes=named)

    def _name_of(self, pid: int) -> str | None:
        if pid not in self._names:
            try:
                self._names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                self._names[pid] = None
        return self._names[pid]


def energy_reading(tick: HealthTick) -> EnergyReading:
    """The GPUs' summed energy counter and power in a tick (None where any GPU lacks it)."""
    energies = [g.energy_total_j for g in tick.gpus]
    powers = [g.power_w for g in tick.gpus]
    return EnergyReading(
        tick.monotonic_s,
        None if not energies or None in energies else sum(e for e in energies if e is not None),
        None if not powers or None in powers else sum(p for p in powers if p is not None),
    )
