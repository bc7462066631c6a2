"""ServingController: the Serve toggle, the worker's life, and GPU protection's hands.

It implements the hardware package's `ServingControl` (pause/resume jobs, unload/reload the
model, stop the engine), so protection acts through the same path as the user's toggle. Worker
events are recorded in the earnings ledger with the energy each request drew.

Rules: the worker runs while the user wants to serve; it takes jobs only when nothing pauses it
(protection, game mode, the engine loading). Pausing drains: jobs in flight finish. Quit drains
with a time limit, then stops the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.engine.types import EngineEndpoint, EngineState
from cocoon_desktop.hardware.energy import EnergyMeter, Tariff
from cocoon_desktop.network.worker.types import (
    PaymentReceived,
    ProxyStateChanged,
    RequestFinished,
    RequestStarted,
    WorkerEvent,
    WorkerStatus,
)
from cocoon_desktop.settings import AppSettings
from cocoon_desktop.ui.aio import run_blocking, spawn
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.worker_sources import (
    OpenedWorker,
    WorkerSetupError,
    open_worker,
)
from cocoon_desktop.ui_logic.recorder import LedgerRecorder, served_request

log = logging.getLogger(__name__)
QUIT_DRAIN_S = 30.0
WorkerOpener = Callable[[AppSettings, str, Callable[[], EngineEndpoint | None]],
                        Awaitable[OpenedWorker]]


@dataclass(frozen=True)
class ServingState:
    wanted: bool  # the user's Serve toggle
    accepting: bool  # taking network jobs right now
    detail: str  # one line for the dashboard and the tray
    paused_reasons: tuple[str, ...] = ()
    stopped_because: str = ""  # a GPU fault stopped the engine
    worker: WorkerStatus | None = None
    where: str = ""


class ServingController(QObject):
    state_changed = Signal(object)  # ServingState
    request_served = Signal(object)  # RequestFinished
    notification_raised = Signal(str, str, bool)  # title, message, critical

    def __init__(self, engine: EngineController, settings: Callable[[], AppSettings],
                 recorder_factory: Callable[[int], LedgerRecorder] | None = None,
                 energy: EnergyMeter | None = None, opener: WorkerOpener = open_worker,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._settings = settings
        self._recorder_factory = recorder_factory
        self._recorder: LedgerRecorder | None = None
        self.energy = energy
        self._opener = opener
        self.opened: OpenedWorker | None = None
        self.wanted = False
        self._paused: dict[str, str] = {}
        self._stopped_because = ""
        self._problem = ""
        self.state = ServingState(False, False, "Not serving.")
        engine.status_changed.connect(self._on_engine_status_changed)

    # -- the user's toggle ---------------------------------------------------------------
    async def start(self) -> ServingState:
        """Serve: start the engine if needed, connect the worker, take jobs."""
        self.wanted = True
        self._problem = ""
        self._stopped_because = ""
        self._publish()
        try:
            await self.engine.ensure_running()
            if self.opened is None:
                model = self.engine.status.stats.model_name if self.engine.status.stats else ""
                self.opened = await self._opener(self._settings(), model, self._endpoint)
                self._recorder = (self._recorder_factory(self.opened.worker_fee_per_token)
                                  if self._recorder_factory else None)
                self.opened.worker.add_listener(self._on_worker_event)
                await self.opened.worker.start()
        except (WorkerSetupError, ValueError, OSError) as exc:
            await self._fail(str(exc))
        except Exception as exc:
            await self._fail(f"Serving could not start: {exc}")
            raise
        self._apply_pause()
        return self._publish()

    async def stop(self, drain_timeout_s: float = QUIT_DRAIN_S) -> bool:
        """Stop serving: refuse new jobs, let running ones finish (bounded), disconnect."""
        self.wanted = False
        opened, self.opened = self.opened, None
        finished = True
        if opened is not None:
            self._publish(f"Finishing {opened.worker.active_requests} running job(s)…")
            finished = await opened.worker.drain(drain_timeout_s)
            await opened.close()
        self._publish()
        return finished

    async def _fail(self, message: str) -> None:
        log.error("serving: %s", message)
        self._problem = message
        self.wanted = False
        if self.opened is not None:
            opened, self.opened = self.opened, None
            await opened.close()
        self._publish()

    def _endpoint(self) -> EngineEndpoint | None:
        return self.engine.status.endpoint if self.engine.ready else None

    # -- ServingControl (GPU protection) -------------------------------------------------
    def pause_network_jobs(self, reason: str) -> None:
        self._paused["protection"] = reason
        self._apply_pause()
        self._publish()

    def resume_network_jobs(self) -> None:
        self._paused.pop("protection", None)
        self._paused.pop("game", None)
        self._apply_pause()
        self._publish()

    def unload_model(self, reason: str) -> None:
        self._paused["game"] = reason
        self._apply_pause()
        self._publish()
        spawn(self._unload(), name="serving.unload")

    def reload_model(self) -> None:
        spawn(self.engine.start(), name="serving.reload")

    def stop_engine(self, reason: str) -> None:
        self._stopped_because = reason
        self._apply_pause()
        self._publish()
        self.notification_raised.emit("Serving stopped", reason, True)
        spawn(self.engine.stop(0), name="serving.stop_engine")

    async def _unload(self) -> None:
        if self.opened is not None:
            await self.opened.worker.drain(QUIT_DRAIN_S)
        await self.engine.stop()

    def _apply_pause(self) -> None:
        if self.opened is None:
            return
        worker = self.opened.worker
        if self.wanted and not self._paused and not self._stopped_because:
            if not worker.accepting:
                worker.enable()
        elif worker.accepting:
            worker.disable()

    # -- events ---------------------------------------------------------------------------
    def _on_engine_status_changed(self, status: object) -> None:
        if self.opened is not None:
            self.opened.worker.set_engine_ready(self.engine.ready)
        state = getattr(status, "state", None)
        if state is EngineState.CRASHED and self.wanted:
            self.notification_raised.emit("The engine crashed",
                                          str(getattr(status, "detail", "")), True)
        self._publish()

    def _on_worker_event(self, event: WorkerEvent) -> None:
        if isinstance(event, RequestStarted) and self.energy is not None:
            self.energy.start(event.request_id)
        elif isinstance(event, RequestFinished):
            joules = self.energy.finish(event.request_id) if self.energy is not None else None
            self.request_served.emit(event)
            spawn(self._record(event, joules), name="serving.record")
        elif isinstance(event, PaymentReceived) and self._recorder is not None:
            spawn(run_blocking(self._recorder.payment_received, event), name="serving.payment")
        elif isinstance(event, ProxyStateChanged):
            if self._recorder is not None:
                spawn(run_blocking(self._recorder.proxy_changed, event), name="serving.proxy")
            self._publish()

    async def _record(self, event: RequestFinished, joules: float | None) -> None:
        if self._recorder is None:
            return
        settings = self._settings()
        tariff = (Tariff(Decimal(str(settings.tariff_per_kwh)), settings.tariff_currency)
                  if settings.tariff_per_kwh > 0 else None)
        await run_blocking(self._recorder.request_finished,
                           served_request(event, joules, tariff))

    # -- state ----------------------------------------------------------------------------
    def _publish(self, override: str = "") -> ServingState:
        worker = self.opened.worker if self.opened is not None else None
        status = worker.status() if worker is not None else None
        accepting = bool(worker is not None and worker.accepting and self.engine.ready)
        reasons = tuple(self._paused.values())
        self.state = ServingState(self.wanted, accepting, override or self._detail(status),
                                  reasons, self._stopped_because, status,
                                  self.opened.label if self.opened else "")
        self.state_changed.emit(self.state)
        return self.state

    def _detail(self, status: WorkerStatus | None) -> str:
        if self._stopped_because:
            return f"Stopped: {self._stopped_because}"
        if self._problem:
            return self._problem
        if not self.wanted:
            return "Not serving. Press Serve to take network jobs."
        if self._paused:
            return "Paused: " + "; ".join(self._paused.values())
        if not self.engine.ready:
            return f"Waiting for the engine: {self.engine.status.detail}"
        if status is None:
            return "Connecting…"
        where = self.opened.label if self.opened else ""
        return (f"Serving on {where}: {status.connected_proxies} proxy connected, "
                f"{status.active_requests}/{status.max_active_requests} jobs running.")
