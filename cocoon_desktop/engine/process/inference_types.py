"""Public values and errors of the inference core (re-exported by `engine.inference`).

Plain frozen dataclasses, no llama.cpp: the HTTP layer builds `SamplingParams` from a request's
JSON and gets an `InvalidRequest` with a readable message for any value out of range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length", "cancelled", "error"]
MAX_STOP_STRINGS = 16
MAX_STOP_CHARS = 512


class InferenceError(Exception):
    """Base of every error the inference core raises on purpose; the text is for the user."""


class ModelLoadError(InferenceError):
    """The model file could not be loaded into llama.cpp."""


class LoadCancelled(InferenceError):
    """The load was stopped on request (its progress callback said so); nothing stays loaded."""


class InvalidRequest(InferenceError, ValueError):
    """A request's parameters or tokens are unusable; nothing was started."""


class PromptTooLong(InvalidRequest):
    """The prompt plus one generated token does not fit in a sequence's context."""

    def __init__(self, prompt_tokens: int, context_tokens_per_sequence: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.context_tokens_per_sequence = context_tokens_per_sequence
        super().__init__(
            f"The prompt is {prompt_tokens} tokens but each request can use at most "
            f"{context_tokens_per_sequence} tokens (prompt and answer together). Shorten the "
            "prompt, or give the engine a larger context or fewer parallel requests."
        )


class NoFreeSequence(InferenceError):
    """All parallel sequences are busy; the caller should queue the request and retry later."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        super().__init__(
            f"All {capacity} parallel sequences are busy; queue the request and start it when "
            "one finishes."
        )


class EngineClosed(InferenceError):
    """The core is stopping or stopped and accepts no more requests."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidRequest(message)


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SamplingParams:
    """How one request is sampled. Construction validates every field."""

    max_tokens: int
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repeat_penalty: float = 1.0
    seed: int | None = None  # None = random; same seed + same prompt => same text
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(isinstance(self.max_tokens, int) and self.max_tokens >= 1,
               "max_tokens must be a whole number of at least 1.")
        _check(_finite(self.temperature) and 0 <= self.temperature <= 100,
               "temperature must be a number from 0 (greedy) to 100.")
        _check(_finite(self.top_p) and 0 < self.top_p <= 1, "top_p must be above 0 and at most 1.")
        _check(isinstance(self.top_k, int) and self.top_k >= 0,
               "top_k must be a whole number, 0 to turn it off.")
        _check(_finite(self.min_p) and 0 <= self.min_p <= 1, "min_p must be from 0 to 1.")
        for name in ("presence_penalty", "frequency_penalty"):
            _check(_finite(getattr(self, name)) and -2 <= getattr(self, name) <= 2,
                   f"{name} must be a number from -2 to 2.")
        _check(_finite(self.repeat_penalty) and 0 < self.repeat_penalty <= 10,
               "repeat_penalty must be above 0 and at most 10 (1 turns it off).")
        _check(self.seed is None or (isinstance(self.seed, int)
                                     and not isinstance(self.seed, bool)),
               "seed must be a whole number or left out.")
        if isinstance(self.stop, list):
            object.__setattr__(self, "stop", tuple(self.stop))
        _check(isinstance(self.stop, tuple) and len(self.stop) <= MAX_STOP_STRINGS,
               f"stop must be a list of at most {MAX_STOP_STRINGS} strings.")
        for text in self.stop:
            _check(isinstance(text, str) and 0 < len(text) <= MAX_STOP_CHARS,
                   f"each stop string must be text of 1 to {MAX_STOP_CHARS} characters.")

    @property
    def uses_penalties(self) -> bool:
        return (self.presence_penalty != 0 or self.frequency_penalty != 0
                or self.repeat_penalty != 1)


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: the prompt, tokenized by the caller with `InferenceCore.tokenize`."""

    request_id: str
    prompt_tokens: tuple[int, ...]
    sampling: SamplingParams


@dataclass(frozen=True)
class TokenDelta:
    """New text since the last delta. Stop strings and partial UTF-8 are held back until
    resolved, so a delta never shows text that a later stop string would remove."""

    text: str
    completion_tokens: int  # generated so far


@dataclass(frozen=True)
class GenerationFinished:
    """Exactly one per request, always its last event."""

    finish_reason: FinishReason
    prompt_tokens: int
    cached_tokens: int  # prompt tokens whose KV was reused, counted honestly
    completion_tokens: int
    error: str | None = None


GenerationEvent = TokenDelta | GenerationFinished


@dataclass(frozen=True)
class CoreInfo:
    """What the loaded engine can do; fixed for the life of an `InferenceCore`."""

    capacity: int  # parallel sequences decoded together
    context_tokens_per_sequence: int
    context_tokens_total: int
    n_ctx_train: int
    gpu_layers_offloaded: int
    supports_gpu_offload: bool
    chat_template_present: bool
    kv_bytes_per_token: int
    speculation: str = "off"  # "off", "prompt lookup", or "draft model <file name>"


@dataclass(frozen=True)
class CoreStats:
    """A snapshot the decode thread publishes after every step (for the UI and for tests)."""

    steps: int
    active_sequences: int
    kv_tokens_per_sequence: tuple[int, ...]  # as llama.cpp's KV memory reports them
    requests_finished: int
    completion_tokens_total: int
    cached_tokens_total: int
    shared_prefix_tokens_total: int = 0  # cached tokens copied from another sequence's KV
    draft_tokens_total: int = 0  # tokens drafted and verified (speculative decoding)
    draft_tokens_accepted_total: int = 0  # of those, the ones the model confirmed
    sequences_moved_total: int = 0  # generating sequences moved to close a gap in the ids
    step_seconds_total: float = 0.0  # the decode thread's steps: drafts, decode, sampling, text
    decode_seconds_total: float = 0.0  # of those, inside llama_decode (the model's own compute)

    @property
    def draft_acceptance(self) -> float | None:
        """Share of drafted tokens the model confirmed; None before any was drafted."""
        if not self.draft_tokens_total:
            return None
        return self.draft_tokens_accepted_total / self.draft_tokens_total
