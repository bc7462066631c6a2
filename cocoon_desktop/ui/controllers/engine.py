"""EngineController: the node's engine as a signal; start, stop, model change, chat access.

The engine runs when the user serves or chats, and only then: the app itself holds no model.
`chat_backend()` is what the chat calls before each answer; it starts the engine if needed and
waits (the chat shows "Waiting for the engine…") until the model is in memory.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.engine.api import Lane
from cocoon_desktop.engine.host.client import EngineClient, EngineError
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.types import EngineEndpoint, EngineState
from cocoon_desktop.node.engine_host import EngineHost
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.ui.controllers.chat import ChatBackendError
from cocoon_desktop.ui.controllers.node import NodeController

log = logging.getLogger(__name__)
STOPPED = EngineStatus(EngineState.STOPPED, "The engine is stopped. It starts when you serve "
                       "or send a chat message.")


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

    def __init__(self, node: NodeController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._node = node
        self._last: EngineStatus | None = None
        node.status_changed.connect(self._on_node_status_changed)

    @property
    def host(self) -> EngineHost | None:
        return self._node.node.engine

    @property
    def status(self) -> EngineStatus:
        return self.host.status if self.host is not None else STOPPED

    @property
    def ready(self) -> bool:
        return self.host is not None and self.host.ready

    def _require(self) -> EngineHost:
        if self.host is None:
            raise EngineStartError(str(self._node.node.blocked or "The app is still starting."))
        return self.host

    async def start(self) -> None:
        await self._require().start()

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        if self.host is not None:
            await self.host.stop(drain_timeout_s)

    async def ensure_running(self) -> EngineEndpoint:
        return await self._node.ensure_engine()

    async def reconfigure(self) -> None:
        """Apply a new model or engine setting: restart the engine if it was running."""
        await self._require().reconfigure()

    async def chat_backend(self) -> EngineChatBackend:
        try:
            endpoint = await self.ensure_running()
        except EngineStartError as exc:
            raise ChatBackendError(str(exc)) from None
        stats = self.status.stats
        return EngineChatBackend(endpoint, stats.model_name if stats is not None else "")

    def _on_node_status_changed(self, _status: NodeStatus) -> None:
        status = self.status
        if status is not self._last:
            self._last = status
            self.status_changed.emit(status)
