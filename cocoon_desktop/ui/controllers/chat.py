"""ChatController: one conversation with the local engine, streamed, stoppable, as signals.

The engine is reached through a `ChatBackend` that the EngineController hands out once the engine
is ready (starting it if needed), so the chat works whether or not the app serves network jobs.
Requests carry `X-Cocoon-Lane: chat`: the engine runs them in a lane of their own, one sequence
wide, so chatting never takes a slot from network jobs and they never starve the chat.

Conversations are kept (`ChatStore`, one file each) after every answer; the list, a new chat,
opening and deleting one go through here too. The sampling settings and the system prompt are
announced on change (`params_changed`) for the shell to save in the app's settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import run_blocking, spawn
from cocoon_desktop.ui_logic.chat import (
    ChatInputError,
    ChatMessage,
    Conversation,
    GenerationParams,
    ThroughputMeter,
    build_request_body,
)
from cocoon_desktop.ui_logic.chat_store import ChatStore, ChatStoreError, new_chat_id

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
    conversation_opened = Signal()  # another conversation: the window shows its messages
    conversations_listed = Signal(list)  # list[ChatSummary], newest first
    params_changed = Signal()  # sampling settings or system prompt: to be saved
    store_failed = Signal(str)
    status_changed = Signal(str)  # e.g. "Starting the engine…"

    def __init__(
        self,
        backend_provider: BackendProvider,
        system_prompt: str = "",
        params: GenerationParams | None = None,
        parent: QObject | None = None,
        store: ChatStore | None = None,
    ) -> None:
        super().__init__(parent)
        self._provider = backend_provider
        self.conversation = Conversation(system_prompt=system_prompt)
        self.params = params or GenerationParams()
        self.store = store
        self.chat_id = new_chat_id()
        self._task: asyncio.Task[None] | None = None
        self._stop_requested = False

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def set_system_prompt(self, text: str) -> None:
        if text.strip() != self.conversation.system_prompt:
            self.conversation.system_prompt = text.strip()
            self.params_changed.emit()

    def set_params(self, params: GenerationParams) -> None:
        if params.validated() != self.params:
            self.params = params
            self.params_changed.emit()

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
        """Start a new, empty conversation (the previous one stays in the list)."""
        self.stop()
        self.conversation = Conversation(self.conversation.system_prompt)
        self.chat_id = new_chat_id()
        self.conversation_cleared.emit()

    # -- kept conversations ---------------------------------------------------------------
    async def list_conversations(self) -> None:
        if self.store is not None:
            self.conversations_listed.emit(await run_blocking(self.store.list))

    async def open_conversation(self, chat_id: str) -> bool:
        if self.store is None or chat_id == self.chat_id:
            return False
        self.stop()
        try:
            loaded = await run_blocking(self.store.load, chat_id)
        except ChatStoreError as exc:
            self.store_failed.emit(str(exc))
            return False
        self.conversation, self.chat_id = loaded, chat_id
        self.conversation_opened.emit()
        return True

    async def delete_conversation(self, chat_id: str) -> None:
        if self.store is None:
            return
        await run_blocking(self.store.delete, chat_id)
        if chat_id == self.chat_id:
            self.clear()
        await self.list_conversations()

    async def save(self, chat_id: str, conversation: Conversation) -> None:
        """Keep a conversation (after each answer); a failure is said, never raised."""
        if self.store is None or not conversation.messages:
            return
        snapshot = Conversation(conversation.system_prompt, list(conversation.messages))
        try:
            await run_blocking(self.store.save, chat_id, snapshot)
        except ChatStoreError as exc:
            self.store_failed.emit(str(exc))
            return
        await self.list_conversations()

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
            spawn(self.save(self.chat_id, self.conversation), name="chat.save")
        answer.stats = meter.stats(usage, finish)
        self.answer_finished.emit(answer.stats)

    def _fail(self, answer: ChatMessage, meter: ThroughputMeter,
              usage: dict[str, Any] | None, message: str) -> None:
        answer.error = message
        answer.stats = meter.stats(usage, "error")
        self.answer_failed.emit(message)
