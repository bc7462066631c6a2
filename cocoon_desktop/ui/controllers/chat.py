"""ChatController: one conversation with the local engine, streamed, stoppable, as signals.

The engine is reached through a `ChatBackend` that the EngineController hands out once the engine
is ready (starting it if needed), so the chat works whether or not the app serves network jobs.
Requests carry `X-Cocoon-Lane: chat`: the engine runs them in a lane of their own, one sequence
wide, so chatting never takes a slot from network jobs and they never starve the chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.ui_logic.chat import (
    ChatInputError,
    ChatMessage,
    Conversation,
    GenerationParams,
    ThroughputMeter,
    build_request_body,
)

log = logging.getLogger(__name__)


class ChatBackendError(Exception):
    """The engine could not answer; the text says why and what to do."""


class ChatBackend(Protocol):
    """An OpenAI-compatible chat endpoint that streams completion chunks."""

    model: str

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Yield each streamed chunk (parsed JSON) of a request sent in the chat lane
        (`X-Cocoon-Lane: chat`); raise ChatBackendError on failure."""
        ...


BackendProvider = Callable[[], Awaitable[ChatBackend]]


class ChatController(QObject):
    user_message_added = Signal(str)
    answer_started = Signal()
    delta_received = Signal(str)
    answer_finished = Signal(object)  # GenerationStats
    answer_failed = Signal(str)
    busy_changed = Signal(bool)
    conversation_cleared = Signal()
    status_changed = Signal(str)  # e.g. "Starting the engine…"

    def __init__(
        self,
        backend_provider: BackendProvider,
        system_prompt: str = "",
        params: GenerationParams | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._provider = backend_provider
        self.conversation = Conversation(system_prompt=system_prompt)
        self.params = params or GenerationParams()
        self._task: asyncio.Task[None] | None = None
        self._stop_requested = False

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def set_system_prompt(self, text: str) -> None:
        self.conversation.system_prompt = text.strip()

    def set_params(self, params: GenerationParams) -> None:
        self.params = params.validated()

    def send(self, text: str) -> None:
        """Add the user's message and start the answer (ChatInputError when not possible)."""
        if self.busy:
            raise ChatInputError("Wait for the answer to finish, or stop it.")
        self.params.validated()
        message = self.conversation.add_user(text)
        self.user_message_added.emit(message.content)
        self._start()

    def regenerate(self) -> None:
        if self.busy:
            raise ChatInputError("Stop the current answer before regenerating.")
        self.conversation.prepare_regenerate()
        self._start()

    def stop(self) -> None:
        if self.busy and self._task is not None:
            self._stop_requested = True
            self._task.cancel()

    def clear(self) -> None:
        self.stop()
        self.conversation.clear()
        self.conversation_cleared.emit()

    async def wait_idle(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _start(self) -> None:
        self._stop_requested = False
        self._task = spawn(self._answer(), name="chat.answer")
        self.busy_changed.emit(True)

    async def _answer(self) -> None:
        answer = self.conversation.start_answer()
        self.answer_started.emit()
        meter = ThroughputMeter()
        usage: dict[str, Any] | None = None
        finish = "stop"
        try:
            self.status_changed.emit("Waiting for the engine…")
            backend = await self._provider()
            body = build_request_body(self.conversation, self.params, backend.model)
            self.status_changed.emit("Answering…")
            async for chunk in backend.stream_chat(body):
                for choice in chunk.get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        answer.content += text
                        meter.on_delta()
                        self.delta_received.emit(text)
                    finish = choice.get("finish_reason") or finish
                usage = chunk.get("usage") or usage
        except asyncio.CancelledError:
            if not self._stop_requested:
                raise
            finish = "stopped"
        except (ChatBackendError, ChatInputError) as exc:
            self._fail(answer, meter, usage, str(exc))
            return
        except Exception:
            self._fail(answer, meter, usage, "The chat failed unexpectedly; see the error report.")
            raise
        finally:
            self.status_changed.emit("")
            self.busy_changed.emit(False)
        answer.stats = meter.stats(usage, finish)
        self.answer_finished.emit(answer.stats)

    def _fail(self, answer: ChatMessage, meter: ThroughputMeter,
              usage: dict[str, Any] | None, message: str) -> None:
        answer.error = message
        answer.stats = meter.stats(usage, "error")
        self.answer_failed.emit(message)
