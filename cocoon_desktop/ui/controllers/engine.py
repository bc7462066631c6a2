"""EngineController: the engine supervisor's status as a signal; start, stop, chat access.

The engine runs when the user serves or chats, and only then: the app itself holds no model.
`ensure_running()` is what the chat calls before its first message; it starts the engine if
needed and waits (showing "Loading …") until the model is in memory.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.engine.client import EngineClient, EngineError
from cocoon_desktop.engine.queue import Lane
from cocoon_desktop.engine.supervisor import EngineStartError, EngineStatus, EngineSupervisor
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings, EngineState
from cocoon_desktop.ui.controllers.chat import ChatBackendError

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 600.0
SettingsProvider = Callable[[], Awaitable[EngineSettings]]
SupervisorFactory = Callable[[EngineSettings], EngineSupervisor]


class EngineChatBackend:
    """The chat's view of a ready engine: streamed completions in the chat lane."""

    def __init__(self, endpoint: EngineEndpoint, model: str) -> None:
        self.endpoint = endpoint
        self.model = model

    async def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async with EngineClient(self.endpoint, lane=Lane.CHAT) as client:
            try:
                async for chunk in client.stream_chat(body):
                    yield chunk
            except EngineError as exc:
                raise ChatBackendError(str(exc)) from None


class EngineController(QObject):
    status_changed = Signal(object)  # EngineStatus

    def __init__(
        self,
        settings_provider: SettingsProvider,
        supervisor_factory: SupervisorFactory = EngineSupervisor,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings_provider = settings_provider
        self._factory = supervisor_factory
        self.supervisor: EngineSupervisor | None = None
        self.status = EngineStatus(EngineState.STOPPED, "The engine is stopped. It starts when "
                                   "you serve or send a chat message.")
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def ready(self) -> bool:
        return self.status.state is EngineState.READY and self.status.endpoint is not None

    @property
    def wanted(self) -> bool:
        return self.status.state in (EngineState.LOADING, EngineState.READY) or (
            self.status.state is EngineState.CRASHED and not self.status.gave_up)

    async def start(self) -> None:
        """Start the engine with the current settings (returns once it is launching)."""
        if self.supervisor is None:
            try:
                settings = await self._settings_provider()
            except Exception as exc:
                self._on_supervisor_status(EngineStatus(
                    EngineState.CRASHED, f"The engine cannot start: {exc}", gave_up=True))
                raise EngineStartError(str(exc)) from exc
            self.supervisor = self._factory(settings)
            self._unsubscribe = self.supervisor.on_status(self._on_supervisor_status)
        await self.supervisor.start()

    async def ensure_running(self, timeout_s: float = READY_TIMEOUT_S) -> EngineEndpoint:
        """The endpoint of a ready engine, starting it first if needed (EngineStartError)."""
        if self.ready and self.status.endpoint is not None:
            return self.status.endpoint
        await self.start()
        assert self.supervisor is not None
        return await self.supervisor.wait_ready(timeout_s)

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        if self.supervisor is not None:
            await self.supervisor.stop(drain_timeout_s)

    async def reconfigure(self) -> None:
        """Apply new engine settings (another model, GPU layers): restart if it was running."""
        was_running = self.wanted
        await self.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.supervisor = None
        if was_running:
            await self.start()

    async def chat_backend(self) -> EngineChatBackend:
        try:
            endpoint = await self.ensure_running()
        except EngineStartError as exc:
            raise ChatBackendError(str(exc)) from None
        stats = self.status.stats
        model = stats.model_name if stats is not None else ""
        return EngineChatBackend(endpoint, model)

    def _on_supervisor_status(self, status: EngineStatus) -> None:
        if status.state is EngineState.CRASHED:
            log.warning("engine: %s", status.detail)
        self.status = status
        self.status_changed.emit(status)
