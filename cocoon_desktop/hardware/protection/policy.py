"""The protection policy: when to stop taking network jobs, unload the model, or stop the engine.

A pure state machine: `observe(tick)` and `observe_event(event)` return the actions to take and
never touch the engine themselves (`serving.ProtectionController` applies them). Rules:

- temperature: pause new jobs at `pause_temperature_c`, resume at `resume_temperature_c` or below
  (hysteresis, so a card at the limit does not flap);
- slowdown: pause while the GPU slows itself down (hardware slowdown, thermal or power-brake
  clock events); resume after `slowdown_clear_s` without one;
- VRAM headroom: the engine loads the model so that `vram_headroom_bytes` stay free; when other
  programs eat more than half of that, pause, and resume once the whole headroom is free again;
- game mode: a listed program runs (`HealthTick.game_processes`, from the user's list), or other
  programs take GPU memory (over a sliding baseline,
  so the desktop's own steady use does not count) or GPU load -> pause, unload the model so its
  memory is really free, and after `game_end_quiet_s` of quiet reload and resume;
- a critical GPU error (Xid, double-bit ECC, GPU lost) -> stop the engine and tell the user;
  nothing restarts by itself after that (`clear_stop()` when the user starts serving again).

Pausing drains: the worker takes no new jobs and lets jobs in flight finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cocoon_desktop.hardware.protection.activity import OtherGpuUse
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.hardware.snapshots import (
    GpuEvent,
    GpuEventSeverity,
    HealthTick,
)
from cocoon_desktop.hardware.units import format_bytes


class PauseReason(StrEnum):
    TEMPERATURE = "temperature"
    SLOWDOWN = "slowdown"
    VRAM_HEADROOM = "vram-headroom"
    GAME_MODE = "game-mode"


@dataclass(frozen=True)
class Notification:
    severity: str  # "info", "warning" or "critical"
    title: str
    message: str  # what happened and what happens or what to do next


@dataclass(frozen=True)
class PauseJobs:
    reason: PauseReason
    message: str


@dataclass(frozen=True)
class ResumeJobs:
    pass


@dataclass(frozen=True)
class UnloadModel:
    message: str


@dataclass(frozen=True)
class ReloadModel:
    pass


@dataclass(frozen=True)
class StopEngine:
    message: str


@dataclass(frozen=True)
class Notify:
    notification: Notification


Action = PauseJobs | ResumeJobs | UnloadModel | ReloadModel | StopEngine | Notify


@dataclass(frozen=True)
class ProtectionStatus:
    """For the dashboard: why serving is paused or stopped, if it is."""

    paused_reasons: dict[PauseReason, str] = field(default_factory=dict)
    game_mode: bool = False
    stopped_because: str | None = None

    @property
    def serving_allowed(self) -> bool:
        return not self.paused_reasons and self.stopped_because is None


class ProtectionPolicy:
    def __init__(self, settings: ProtectionSettings | None = None) -> None:
        self.settings = settings or ProtectionSettings()
        self._reset()

    def _reset(self) -> None:
        self._paused: dict[PauseReason, str] = {}
        self._slowdown_clear_since: float | None = None
        self._other = OtherGpuUse(self.settings)
        self._game_mode = False
        self._quiet_since: float | None = None
        self._stopped: str | None = None

    @property
    def status(self) -> ProtectionStatus:
        return ProtectionStatus(dict(self._paused), self._game_mode, self._stopped)

    def update_settings(self, settings: ProtectionSettings) -> None:
        """New limits apply from the next tick; game-mode baselines are kept."""
        self.settings = settings
        self._other.settings = settings

    def clear_stop(self) -> None:
        """The user starts serving again after a GPU error: start from a clean state."""
        self._reset()

    def observe(self, tick: HealthTick) -> list[Action]:
        if self._stopped is not None:
            return []
        lost = [g.index for g in tick.gpus if g.lost]
        if lost:
            return self._stop(f"GPU {lost[0]} stopped answering (it fell off the bus).")
        actions: list[Action] = []
        actions += self._check_temperature(tick)
        actions += self._check_slowdown(tick)
        actions += self._check_game_mode(tick)
        actions += self._check_vram(tick)
        return actions

    def observe_event(self, event: GpuEvent) -> list[Action]:
        if self._stopped is not None or event.severity is GpuEventSeverity.APPLICATION:
            return []
        number = f" {event.xid}" if event.xid is not None else ""
        what = f"GPU {event.gpu_index} reported {event.kind}{number}: {event.description}."
        if event.severity is GpuEventSeverity.CRITICAL:
            return self._stop(what)
        return [Notify(Notification(
            "warning", "GPU warning",
            f"{what} Serving continues. If it repeats, reboot when convenient and check the "
            "card's cooling.",
        ))]

    def _stop(self, what: str) -> list[Action]:
        self._stopped = what
        message = (
            f"{what} The engine was stopped because the GPU's results can no longer be "
            "trusted. Save your work and reboot; if it happens again, check the card's cooling, "
            "power cables and seating. Then start serving again from the dashboard."
        )
        return [StopEngine(what), Notify(Notification("critical", "GPU error: serving stopped",
                                                      message))]

    def _set_reason(self, reason: PauseReason, active: bool, title: str = "",
                    message: str = "") -> list[Action]:
        if active and reason not in self._paused:
            self._paused[reason] = message
            return [PauseJobs(reason, message), Notify(Notification("warning", title, message))]
        if not active and reason in self._paused:
            del self._paused[reason]
            if not self._paused:
                return [ResumeJobs(), Notify(Notification(
                    "info", "Serving resumed", "The GPU is within your limits again: taking "
                    "new network jobs."))]
        return []

    def _check_temperature(self, tick: HealthTick) -> list[Action]:
        readings = [(g.temperature_c, g.index) for g in tick.gpus if g.temperature_c is not None]
        if not readings:
            return []
        hottest, index = max(readings)
        s = self.settings
        if hottest >= s.pause_temperature_c:
            return self._set_reason(
                PauseReason.TEMPERATURE, True, "Serving paused: GPU is hot",
                f"GPU {index} reached {hottest} °C (your limit is {s.pause_temperature_c} °C). "
                "Jobs already running will finish; new jobs resume by themselves once it cools "
                f"to {s.resume_temperature_c} °C. Better airflow or a lower power limit helps.",
            )
        if hottest <= s.resume_temperature_c:
            return self._set_reason(PauseReason.TEMPERATURE, False)
        return []

    def _check_slowdown(self, tick: HealthTick) -> list[Action]:
        if not self.settings.pause_on_throttle:
            return self._set_reason(PauseReason.SLOWDOWN, False)
        known = [g for g in tick.gpus if g.clocks_event_reasons is not None]
        if not known:
            return []
        slowed = [g for g in known if g.slowdown_reasons]
        if slowed:
            self._slowdown_clear_since = None
            gpu = slowed[0]
            return self._set_reason(
                PauseReason.SLOWDOWN, True, "Serving paused: GPU is slowing itself down",
                f"GPU {gpu.index} is slowing itself down ({', '.join(gpu.clocks_event_words)}). "
                "Jobs already running will finish; new jobs resume once it has run at full "
                f"speed for {self.settings.slowdown_clear_s:.0f} s. Check its cooling and power "
                "cables.",
            )
        if PauseReason.SLOWDOWN not in self._paused:
            return []
        if self._slowdown_clear_since is None:
            self._slowdown_clear_since = tick.monotonic_s
        if tick.monotonic_s - self._slowdown_clear_since >= self.settings.slowdown_clear_s:
            return self._set_reason(PauseReason.SLOWDOWN, False)
        return []

    def _check_vram(self, tick: HealthTick) -> list[Action]:
        free = [g.memory_free_bytes for g in tick.gpus if g.memory_free_bytes is not None]
        if self._game_mode or not free:
            return []
        headroom = self.settings.vram_headroom_bytes
        lowest = min(free)
        if lowest < headroom / 2:
            return self._set_reason(
                PauseReason.VRAM_HEADROOM, True, "Serving paused: GPU memory is nearly full",
                f"Only {format_bytes(lowest)} of GPU memory is free, less than half of the "
                f"{format_bytes(headroom)} you asked to keep free. Jobs already running will "
                f"finish; new jobs resume once {format_bytes(headroom)} is free again. Close "
                "programs that use the GPU, or give the model fewer GPU layers.",
            )
        if lowest >= headroom:
            return self._set_reason(PauseReason.VRAM_HEADROOM, False)
        return []

    def _check_game_mode(self, tick: HealthTick) -> list[Action]:
        if not self.settings.game_mode:
            return self._leave_game_mode() if self._game_mode else []
        causes = self._other.causes(tick, frozen=self._game_mode)
        if not self._game_mode:
            return self._enter_game_mode(causes) if causes else []
        if causes:
            self._quiet_since = None
            return []
        if self._quiet_since is None:
            self._quiet_since = tick.monotonic_s
        if tick.monotonic_s - self._quiet_since < self.settings.game_end_quiet_s:
            return []
        return self._leave_game_mode()

    def _enter_game_mode(self, causes: list[str]) -> list[Action]:
        self._game_mode = True
        self._quiet_since = None
        message = (
            f"Game mode: {'; '.join(causes)}. Jobs already running will finish, then the model "
            "is unloaded so the GPU is all yours. Serving resumes by itself "
            f"{self.settings.game_end_quiet_s:.0f} s after that ends."
        )
        pause, notify = self._set_reason(PauseReason.GAME_MODE, True, "Game mode: serving paused",
                                         message)
        return [pause, UnloadModel(message), notify]

    def _leave_game_mode(self) -> list[Action]:
        self._game_mode = False
        self._quiet_since = None
        return [ReloadModel(), *self._set_reason(PauseReason.GAME_MODE, False)]
