"""One request inside the scheduler: its admission, cancel flag, slot and decoding state.

Used only by `engine.scheduler` (and `engine.inference`, which makes admissions); the decode
thread owns every `ActiveSequence`, other threads touch only a `CancelFlag`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from cocoon_desktop.engine.process.inference_types import (
    FinishReason,
    GenerationEvent,
    GenerationRequest,
)
from cocoon_desktop.engine.process.prefix_cache import SlotMemory
from cocoon_desktop.engine.process.sampling import SequenceSampler
from cocoon_desktop.engine.process.speculative import DraftPace
from cocoon_desktop.engine.process.text_stream import TextStream

EventSink = Callable[[GenerationEvent], None]
log = logging.getLogger(__name__)


class CancelFlag:
    """Set from any thread; read by the decode thread between steps."""

    def __init__(self) -> None:
        self.reason: FinishReason | None = None
        self.error: str | None = None

    @property
    def is_set(self) -> bool:
        return self.reason is not None

    def set(self, reason: FinishReason = "cancelled", error: str | None = None) -> None:
        if self.reason is None:
            self.error = error
            self.reason = reason


@dataclass(frozen=True)
class Admission:
    """A request accepted by `InferenceCore.start`, waiting for the next step."""

    request: GenerationRequest
    on_event: EventSink
    cancel: CancelFlag

    def deliver(self, event: GenerationEvent) -> None:
        """Call the request's sink; a sink that raises is a caller bug: log it, keep serving."""
        try:
            self.on_event(event)
        except Exception:
            log.exception("the event handler of request %s raised; the event was dropped",
                          self.request.request_id)
            self.cancel.set("error", "the engine's event handler failed")


@dataclass(eq=False)
class ActiveSequence:
    """A request bound to a slot: its prompt progress, sampler, text stream and drafts.

    While generating, `next_token` is the token sampled last and not yet decoded; a step
    decodes it at position `len(slot.tokens)` followed by `draft` (tokens guessed to come
    next, padded to the length every sequence carries in that step), each with logits, from
    batch row `output_row` on."""

    admission: Admission
    slot: SlotMemory
    sampler: SequenceSampler
    text: TextStream
    cached_tokens: int
    prompt_fed: int
    pace: DraftPace
    next_token: int | None = None
    completion_tokens: int = 0
    output_row: int = -1
    chunk: list[int] = field(default_factory=list)
    draft: list[int] = field(default_factory=list)  # drafted tokens, padded to the step's
    drafted: int = 0  # how many of `draft` the drafter proposed (the rest is padding)
    unchecked: int | None = None  # first drafted token of a step that carried no drafts
    unsent_text: list[str] = field(default_factory=list)  # text of this step, one delta
    feed: tuple[int, ...] = ()  # what to decode before generating: the prompt, see `start_over`
    resume_token: int | None = None  # the pending token while `feed` is a lost cache
    decode_failed: bool = False  # its last decode failed (a second failure ends the request)

    def __post_init__(self) -> None:
        self.feed = self.feed or self.prompt

    def start_over(self) -> None:
        """The slot's KV was lost: decode it again (in prompt-sized chunks) and go on where
        the request was, so it loses nothing. While generating, what the cache held is decoded
        again, then the pending token; while reading its prompt (or a lost cache), that starts
        again. Clears `slot.tokens`; the caller clears the KV."""
        if self.next_token is not None:
            self.feed = tuple(self.slot.tokens)
            self.resume_token, self.next_token = self.next_token, None
        elif self.resume_token is None:  # its prompt, the cached prefix included
            self.cached_tokens = 0
        self.prompt_fed = 0
        self.slot.tokens.clear()

    @property
    def prompt(self) -> tuple[int, ...]:
        return self.admission.request.prompt_tokens

    @property
    def max_tokens(self) -> int:
        return self.admission.request.sampling.max_tokens
