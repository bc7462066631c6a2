"""What other programs do on the GPU: the reasons for game mode, in words.

"Other" means any GPU process that is neither this app nor its engine (`HealthTick.own_pids`).
Their GPU memory is compared with a sliding-window minimum (the baseline), so the desktop's
steady use and slow drift do not count while a game or another AI tool loading gigabytes does.
While game mode is on the baseline is frozen and the memory trigger is halved (hysteresis).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from cocoon_desktop.hardware.snapshots import GpuProcess, HealthTick
from cocoon_desktop.hardware.units import format_bytes

if TYPE_CHECKING:
    from cocoon_desktop.hardware.protection.settings import ProtectionSettings


class OtherGpuUse:
    def __init__(self, settings: ProtectionSettings) -> None:
        self.settings = settings
        self._window: deque[tuple[float, int]] = deque()  # increasing values: front is the min
        self._load_since: float | None = None

    def causes(self, tick: HealthTick, frozen: bool) -> list[str]:
        """Why game mode should be on now; empty when nothing calls for it."""
        causes = [f"{name} is running" for name in tick.game_processes]
        others = _other_processes(tick)
        if others is not None:
            memory_cause = self._memory_cause(tick.monotonic_s, others, frozen)
            if memory_cause:
                causes.append(memory_cause)
        load_cause = self._load_cause(tick.monotonic_s, others, frozen)
        if load_cause:
            causes.append(load_cause)
        return causes

    def baseline_bytes(self) -> int | None:
        return self._window[0][1] if self._window else None

    def _memory_cause(self, now_s: float, others: list[GpuProcess], frozen: bool) -> str | None:
        memory = sum(p.memory_used_bytes or 0 for p in others)
        if not frozen:
            self._push(now_s, memory)
        baseline = self.baseline_bytes()
        if baseline is None:
            return None
        grown = memory - baseline
        trigger = self.settings.other_vram_trigger_bytes
        if grown < (trigger / 2 if frozen else trigger):
            return None
        heaviest = max(others, key=lambda p: p.memory_used_bytes or 0)
        return (
            f"other programs took {format_bytes(grown)} more GPU memory (the most: "
            f"{_who(heaviest)}, {format_bytes(heaviest.memory_used_bytes)})"
        )

    def _push(self, now_s: float, memory: int) -> None:
        window = self._window
        while window and window[-1][1] >= memory:
            window.pop()
        window.append((now_s, memory))
        while window[0][0] < now_s - self.settings.other_baseline_window_s:
            window.popleft()

    def _load_cause(self, now_s: float, others: list[GpuProcess] | None,
                    frozen: bool) -> str | None:
        loads = [p.sm_utilization_percent for p in others or () if
                 p.sm_utilization_percent is not None]
        load = sum(loads)
        if not loads or load < self.settings.other_load_trigger_percent:
            self._load_since = None
            return None
        if self._load_since is None:
            self._load_since = now_s
        if not frozen and now_s - self._load_since < self.settings.other_load_after_s:
            return None
        busiest = max(
            (p for p in others or () if p.sm_utilization_percent is not None),
            key=lambda p: p.sm_utilization_percent or 0,
        )
        return f"other programs keep the GPU {min(load, 100)} % busy (the most: {_who(busiest)})"


def _other_processes(tick: HealthTick) -> list[GpuProcess] | None:
    """GPU processes that are not ours, over all GPUs; None when no GPU lists its processes."""
    listed = [g.processes for g in tick.gpus if g.processes is not None]
    if not listed:
        return None
    return [p for processes in listed for p in processes if p.pid not in tick.own_pids]


def _who(process: GpuProcess) -> str:
    return process.name or f"process {process.pid}"
