"""The test chat's conversation, generation parameters and figures, without Qt.

The chat talks to the local engine's OpenAI-compatible API with the header
`X-Cocoon-Lane: chat`: the engine gives the chat lane one sequence of its own, so a chat never
takes a slot network jobs need and network jobs never leave the chat waiting in the queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ChatInputError(ValueError):
    """A parameter or message the chat cannot send; the text says what to change."""


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512

    def validated(self) -> GenerationParams:
        if not 0.0 <= self.temperature <= 2.0:
            raise ChatInputError("Temperature must be between 0 and 2.")
        if not 0.01 <= self.top_p <= 1.0:
            raise ChatInputError("Top-p must be between 0.01 and 1.")
        if not 1 <= self.max_tokens <= 32768:
            raise ChatInputError("Max tokens must be between 1 and 32768.")
        return self


@dataclass(frozen=True)
class GenerationStats:
    """Figures of one answer. Token counts come from the engine's usage when it sends one."""

    prompt_tokens: int | None
    completion_tokens: int
    cached_tokens: int | None
    time_to_first_token_s: float | None
    tokens_per_s: float | None
    finish_reason: str  # "stop", "length", "stopped" (by the user) or "error"

    def summary(self) -> str:
        parts = []
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:.1f} tok/s")
        parts.append(f"{self.completion_tokens} tokens")
        if self.prompt_tokens is not None:
            cached = f", {self.cached_tokens} cached" if self.cached_tokens else ""
            parts.append(f"prompt {self.prompt_tokens}{cached}")
        if self.time_to_first_token_s is not None:
            parts.append(f"first token {self.time_to_first_token_s * 1000:.0f} ms")
        reason = {"length": "cut at max tokens", "stopped": "stopped", "error": "failed"}
        if self.finish_reason in reason:
            parts.append(reason[self.finish_reason])
        return " · ".join(parts)


@dataclass
class ChatMessage:
    role: str  # "user" or "assistant"
    content: str
    stats: GenerationStats | None = None
    error: str = ""


@dataclass
class Conversation:
    """Messages of one chat. The system prompt is kept apart so it can change at any time."""

    system_prompt: str = ""
    messages: list[ChatMessage] = field(default_factory=list)

    def add_user(self, text: str) -> ChatMessage:
        if not text.strip():
            raise ChatInputError("Type a message first.")
        if self.messages and self.messages[-1].role == "user":
            raise ChatInputError("Wait for the answer to your last message (or stop it).")
        message = ChatMessage("user", text.strip())
        self.messages.append(message)
        return message

    def start_answer(self) -> ChatMessage:
        message = ChatMessage("assistant", "")
        self.messages.append(message)
        return message

    def can_regenerate(self) -> bool:
        return any(m.role == "user" for m in self.messages)

    def prepare_regenerate(self) -> None:
        """Drop the last answer so the last user message can be answered again."""
        if not self.can_regenerate():
            raise ChatInputError("There is no message to answer again.")
        while self.messages and self.messages[-1].role == "assistant":
            self.messages.pop()

    def clear(self) -> None:
        self.messages.clear()

    def request_messages(self) -> list[dict[str, str]]:
        """The OpenAI `messages` array: system prompt, then every finished turn."""
        out = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        for m in self.messages:
            if m.role == "assistant" and (m.error or not m.content):
                continue  # a failed or empty answer is not sent back to the model
            out.append({"role": m.role, "content": m.content})
        return out

    def as_markdown(self) -> str:
        """The whole conversation as Markdown (for Copy all)."""
        blocks = [f"**System:** {self.system_prompt}"] if self.system_prompt else []
        for m in self.messages:
            who = "You" if m.role == "user" else "Assistant"
            blocks.append(f"**{who}:**\n\n{m.content}")
        return "\n\n---\n\n".join(blocks)


def build_request_body(
    conversation: Conversation, params: GenerationParams, model: str
) -> dict[str, Any]:
    params.validated()
    return {
        "model": model,
        "messages": conversation.request_messages(),
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


class ThroughputMeter:
    """Tokens per second of one streamed answer, measured from the first token on."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = clock()
        self._first: float | None = None
        self._last: float | None = None
        self.chunks = 0

    def on_delta(self) -> None:
        now = self._clock()
        if self._first is None:
            self._first = now
        self._last = now
        self.chunks += 1

    @property
    def time_to_first_token_s(self) -> float | None:
        return None if self._first is None else self._first - self._started

    def tokens_per_s(self, completion_tokens: int | None = None) -> float | None:
        """Decode speed: tokens after the first over the time since the first."""
        tokens = completion_tokens if completion_tokens is not None else self.chunks
        if self._first is None or self._last is None or tokens < 2:
            return None
        elapsed = self._last - self._first
        return (tokens - 1) / elapsed if elapsed > 0 else None

    def stats(self, usage: dict[str, Any] | None, finish_reason: str) -> GenerationStats:
        usage = usage or {}
        completion = usage.get("completion_tokens")
        details = usage.get("prompt_tokens_details") or {}
        return GenerationStats(
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=int(completion) if completion is not None else self.chunks,
            cached_tokens=details.get("cached_tokens"),
            time_to_first_token_s=self.time_to_first_token_s,
            tokens_per_s=self.tokens_per_s(completion),
            finish_reason=finish_reason,
        )
