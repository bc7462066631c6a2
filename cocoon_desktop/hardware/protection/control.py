"""How protection acts on the app: a small `ServingControl` the app implements, and the
controller that feeds the policy and applies its actions.

The app wires its worker and engine supervisor behind `ServingControl`. Each method is a request
that must return promptly (schedule the slow part, e.g. with the app's `spawn()`), and may be
called again while already in that state (idempotent):

- `pause_network_jobs(reason)`: drain. Take no new network jobs; jobs in flight finish.
  Called again with a new reason when another one comes up while paused.
- `resume_network_jobs()`: take network jobs again.
- `unload_model(reason)`: once jobs in flight have finished, unload the model so its GPU memory
  is really free (game mode). Always preceded by `pause_network_jobs`.
- `reload_model()`: load it again; `resume_network_jobs()` follows when nothing else holds the
  pause.
- `stop_engine(reason)`: a GPU fault: stop the engine now; do not restart it by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cocoon_desktop.hardware.protection.policy import (
    Action,
    Notification,
    Notify,
    PauseJobs,
    ProtectionPolicy,
    ReloadModel,
    ResumeJobs,
    StopEngine,
    UnloadModel,
)
from cocoon_desktop.hardware.snapshots import GpuEvent, HealthTick

log = logging.getLogger(__name__)


class ServingControl(Protocol):
    def pause_network_jobs(self, reason: str) -> None: ...

    def resume_network_jobs(self) -> None: ...

    def unload_model(self, reason: str) -> None: ...

    def reload_model(self) -> None: ...

    def stop_engine(self, reason: str) -> None: ...


NotificationSink = Callable[[Notification], None]


class ProtectionController:
    """Feeds ticks and GPU events to the policy and carries out what it decides."""

    def __init__(self, policy: ProtectionPolicy, control: ServingControl,
                 notify: NotificationSink) -> None:
        self.policy = policy
        self._control = control
        self._notify = notify

    def on_tick(self, tick: HealthTick) -> list[Action]:
        return self._apply(self.policy.observe(tick))

    def on_gpu_event(self, event: GpuEvent) -> list[Action]:
        return self._apply(self.policy.observe_event(event))

    def clear_stop(self) -> None:
        """Call when the user starts serving again after a GPU error stopped it."""
        self.policy.clear_stop()

    def _apply(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            try:
                self._apply_one(action)
            except Exception:
                # One failing step must not keep the others (above all the user's notice) from
                # happening; the failure is logged for the support bundle.
                log.exception("Protection step %s failed", type(action).__name__)
        return actions

    def _apply_one(self, action: Action) -> None:
        control = self._control
        if isinstance(action, PauseJobs):
            log.warning("Protection: pausing network jobs (%s)", action.reason)
            control.pause_network_jobs(action.message)
        elif isinstance(action, ResumeJobs):
            log.info("Protection: resuming network jobs")
            control.resume_network_jobs()
        elif isinstance(action, UnloadModel):
            log.info("Protection: unloading the model (game mode)")
            control.unload_model(action.message)
        elif isinstance(action, ReloadModel):
            log.info("Protection: reloading the model")
            control.reload_model()
        elif isinstance(action, StopEngine):
            log.error("Protection: stopping the engine: %s", action.message)
            control.stop_engine(action.message)
        elif isinstance(action, Notify):
            self._notify(action.notification)
