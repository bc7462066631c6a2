"""The continuous-batching scheduler: one `llama_decode` per step for every active sequence.

Each step puts the next token of every generating sequence and then chunks of new prompts (up
to the batch's room) into one batch, decodes it, and samples one token for every sequence whose
logits came out. Requests join (`admit`) and leave (finish) between steps; a finished
sequence's KV stays in its slot for prefix reuse until another prompt claims the slot. Runs only
on the core's decode thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from cocoon_desktop.engine.process.batch import TokenBatch
from cocoon_desktop.engine.process.inference_types import (
    CoreStats,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    TokenDelta,
)
from cocoon_desktop.engine.process.llama_native import NativeContext, NativeModel
from cocoon_desktop.engine.process.prefix_cache import PrefixCache, SlotMemory
from cocoon_desktop.engine.process.sampling import SequenceSampler, resolve_seed
from cocoon_desktop.engine.process.text_stream import TextStream

log = logging.getLogger(__name__)
EventSink = Callable[[GenerationEvent], None]


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


@dataclass(eq=False)
class ActiveSequence:
    """A request bound to a slot: its prompt progress, sampler and text stream."""

    admission: Admission
    slot: SlotMemory
    sampler: SequenceSampler
    text: TextStream
    cached_tokens: int
    prompt_fed: int
    next_token: int | None = None  # sampled, not yet decoded
    completion_tokens: int = 0
    output_row: int = -1
    chunk: list[int] = field(default_factory=list)

    @property
    def prompt(self) -> tuple[int, ...]:
        return self.admission.request.prompt_tokens


class Scheduler:
    """Owns the active sequences, the slots and the batch; `step` advances all of them."""

    def __init__(self, model: NativeModel, context: NativeContext, *, capacity: int,
                 engine_seed: int, on_released: Callable[[], None]) -> None:
        self._model = model
        self._context = context
        self._engine_seed = engine_seed
        self._on_released = on_released
        self._cache = PrefixCache(capacity)
        self._batch = TokenBatch(max(context.n_batch, capacity))
        self._context_limit = context.n_ctx_per_sequence
        self.active: list[ActiveSequence] = []
        self._steps = 0
        self._finished = 0
        self._completion_total = 0
        self._cached_total = 0
        self.stats = self._measure()  # replaced whole, never mutated: safe to read anywhere

    # -- joining and leaving -------------------------------------------------------------

    def admit(self, admission: Admission) -> None:
        """Bind a request to the free slot with the longest shared prefix."""
        if admission.cancel.reason is not None:
            self._release_and_emit(admission, admission.cancel.reason, 0, 0,
                                   admission.cancel.error)
            return
        prompt = admission.request.prompt_tokens
        choice = self._cache.choose(prompt)
        if choice is None:  # start() reserves a slot for every admission; this is a bug
            self._release_and_emit(admission, "error", 0, 0, "no free sequence slot")
            return
        slot, reused = choice.slot, choice.reusable_tokens
        try:
            self._context.remove_tokens(slot.seq_id, reused)
        except RuntimeError:
            reused = 0
        del slot.tokens[reused:]
        params = admission.request.sampling
        sampler = SequenceSampler(params, seed=resolve_seed(params.seed, self._engine_seed),
                                  n_vocab=self._model.shape.n_vocab)
        slot.busy = True
        log.debug("request %s: sequence %d, %d of %d prompt tokens cached",
                  admission.request.request_id, slot.seq_id, reused, len(prompt))
        self.active.append(ActiveSequence(admission, slot, sampler, TextStream(params.stop),
                                          cached_tokens=reused, prompt_fed=reused))

    def reject(self, admission: Admission, error: str) -> None:
        """End a request that could not be admitted."""
        self._release_and_emit(admission, "error", 0, 0, error)

    def finish(self, seq: ActiveSequence, reason: FinishReason, error: str | None = None) -> None:
        """Remove `seq` from the batch, free its sampler and send its last event."""
        self.active.remove(seq)
        log.debug("request %s: %s after %d tokens", seq.admission.request.request_id, reason,
                  seq.completion_tokens)
        seq.sampler.close()
        seq.slot.busy = False
        seq.slot.last_used_step = self._steps
        if reason == "error":
            self._forget_slot(seq.slot)
        self._finished += 1
        self._completion_total += seq.completion_tokens
        self._cached_total += seq.cached_tokens
        self.publish_stats()  # so a caller reading stats on the Finished event sees its effect
        self._release_and_emit(seq.admission, reason, seq.cached_tokens, seq.completion_tokens,
                               error)

    def finish_all(self, reason: FinishReason, error: str) -> None:
        for seq in list(self.active):
            self.finish(seq, reason, error)

    def cancel_requested(self) -> None:
        for seq in [s for s in self.active if s.admission.cancel.is_set]:
            self.finish(seq, seq.admission.cancel.reason or "cancelled", seq.admission.cancel.error)

    # -- one decode step -----------------------------------------------------------------

    def step(self) -> None:
        """Decode one batch for every active sequence and sample their next tokens."""
        members = self._fill_batch()
        if not members:
            return
        self._steps += 1
        status = self._context.decode(self._batch.native)
        if status != 0:
            self._fail_batch(members, status)
            return
        for seq in members:
            if seq.next_token is not None:
                seq.slot.tokens.append(seq.next_token)
                seq.next_token = None
            else:
                seq.slot.tokens.extend(seq.chunk)
                seq.prompt_fed += len(seq.chunk)
        for seq in members:
            if seq.output_row >= 0:
                token = seq.sampler.sample(self._context.pointer, seq.output_row)
                self._on_token(seq, token)

    def _fill_batch(self) -> list[ActiveSequence]:
        batch = self._batch
        batch.clear()
        members: list[ActiveSequence] = []
        for seq in self.active:
            if seq.next_token is not None:
                seq.output_row = batch.add(seq.next_token, len(seq.slot.tokens), seq.slot.seq_id,
                                           want_logits=True)
                members.append(seq)
        for seq in self.active:
            if seq.next_token is not None or seq.prompt_fed >= len(seq.prompt):
                continue
            take = min(len(seq.prompt) - seq.prompt_fed, batch.room)
            if take <= 0:
                break
            seq.chunk = list(seq.prompt[seq.prompt_fed:seq.prompt_fed + take])
            last = seq.prompt_fed + take == len(seq.prompt)
            seq.output_row = batch.add_run(seq.chunk, seq.prompt_fed, seq.slot.seq_id,
                                           logits_on_last=last)
            members.append(seq)
        return members

    def _on_token(self, seq: ActiveSequence, token: int) -> None:
        seq.completion_tokens += 1
        if self._model.is_end_of_generation(token):
            self._emit_text(seq, seq.text.finish())
            self.finish(seq, "stop")
            return
        update = seq.text.feed(self._model.piece(token))
        self._emit_text(seq, update.text)
        if update.stopped:
            self.finish(seq, "stop")
        elif (seq.completion_tokens >= seq.admission.request.sampling.max_tokens
              or len(seq.slot.tokens) >= self._context_limit):
            self._emit_text(seq, seq.text.finish())
            self.finish(seq, "length")
        else:
            seq.next_token = token

    def _fail_batch(self, members: list[ActiveSequence], status: int) -> None:
        log.error("llama_decode failed with status %d for %d sequences", status, len(members))
        message = (f"llama.cpp failed to decode (status {status}); the request was stopped and "
                   "the engine keeps serving. Retry it.")
        for seq in members:
            self.finish(seq, "error", message)

    def _forget_slot(self, slot: SlotMemory) -> None:
        slot.tokens.clear()
        try:
            self._context.remove_tokens(slot.seq_id, 0)
        except RuntimeError:
            log.exception("could not clear sequence %d", slot.seq_id)

    # -- events --------------------------------------------------------------------------

    def _emit_text(self, seq: ActiveSequence, text: str) -> None:
        if text:
            _deliver(seq.admission, TokenDelta(text, seq.completion_tokens))

    def _release_and_emit(self, admission: Admission, reason: FinishReason, cached: int,
                          completion: int, error: str | None = None) -> None:
        self._on_released()
        _deliver(admission, GenerationFinished(
            finish_reason=reason, prompt_tokens=len(admission.request.prompt_tokens),
            cached_tokens=cached, completion_tokens=completion, error=error))

    def publish_stats(self) -> None:
        self.stats = self._measure()

    def _measure(self) -> CoreStats:
        return CoreStats(
            steps=self._steps,
            active_sequences=len(self.active),
            kv_tokens_per_sequence=tuple(self._context.cells_used(slot.seq_id)
                                         for slot in self._cache.slots),
            requests_finished=self._finished,
            completion_tokens_total=self._completion_total,
            cached_tokens_total=self._cached_total,
        )

    def close(self) -> None:
        for seq in self.active:
            seq.sampler.close()
        self.active.clear()
        self._batch.close()


def _deliver(admission: Admission, event: GenerationEvent) -> None:
    """Call the request's sink; a sink that raises is a caller bug: log it, keep serving."""
    try:
        admission.on_event(event)
    except Exception:
        log.exception("the event handler of request %s raised; the event was dropped",
                      admission.request.request_id)
        admission.cancel.set("error", "the engine's event handler failed")
