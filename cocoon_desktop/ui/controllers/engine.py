"""EngineController: the node's engine as a signal; start, stop, chat access.

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
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.types import EngineEndpoint, EngineState
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.ui.controllers.chat import ChatBackendError
from cocoon_desktop.ui.controllers.node import NodeController

log = logging.getLogger(__name__)


class EngineChatBackend:
    """The chat's view of a ready engine: streamed completions in the chat lane."""

    def __init__(self, endpoint: EngineEndpoint, model: str) -> None:
        self.endpoint = endpoint
        self.model = model

    async def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        # The client (aiohttp) loads with the first chat message, not with the app's window.
        from cocoon_desktop.engine.host.client import EngineClient, EngineError

        async with EngineClient(self.endpoint, lane=Lane.CHAT) as client:
            try:
                async for chunk in client.stream_chat(body):
                    yield chunk
            except EngineError as exc:
                raise ChatBackendError(str(exc)) from None


class EngineController(QObject):
    """The engine as the node reports it in each status; start and stop go through the node
    (its GPU-fault check and its engine lock), never around it."""

    status_changed = Signal(object)  # EngineStatus

    def __init__(self, node: NodeController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._node = node
        self.status: EngineStatus = node.status.engine
        node.status_changed.connect(self._on_node_status_changed)

    @property
    def ready(self) -> bool:
        return self.status.state is EngineState.READY and self.status.endpoint is not None

    async def start(self) -> None:
        """EngineStartError when the node refuses (after a GPU fault) or it cannot start."""
        await self._node.start_engine()

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        await self._node.stop_engine(drain_timeout_s)

    async def ensure_running(self) -> EngineEndpoint:
        return await self._node.ensure_engine()

    async def chat_backend(self) -> EngineChatBackend:
        try:
            endpoint = await self.ensure_running()
        except EngineStartError as exc:
            raise ChatBackendError(str(exc)) from None
        stats = self.status.stats
        return EngineChatBackend(endpoint, stats.model_name if stats is not None else "")

    def _on_node_status_changed(self, status: NodeStatus) -> None:
        if status.engine != self.status:
            self.status = status.engine
            self.status_changed.emit(status.engine)
