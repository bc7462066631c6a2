"""The continuous-batching scheduler: one `llama_decode` per step for every active sequence.

Each step puts the pending token of every generating sequence (followed by the tokens drafted
for it, when speculating: `engine.process.speculative`) and then chunks of new prompts (up to the
batch's room) into one batch, decodes it, and samples every sequence whose logits came out:
one token, or row by row while the drafts are confirmed, dropping the KV of those that were
not. Requests join (`admit`) and leave (finish) between steps; a finished sequence's KV stays
in its slot for prefix reuse until another prompt claims the slot, and a new prompt that
shares a long prefix with any slot gets a copy of that KV. Runs only on the decode thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cocoon_desktop.engine.process.batch import TokenBatch
from cocoon_desktop.engine.process.compaction import (
    MoveFailed,
    move_sequences,
    one_generating_pass,
)
from cocoon_desktop.engine.process.inference_types import (
    CoreStats,
    FinishReason,
    GenerationFinished,
    TokenDelta,
)
from cocoon_desktop.engine.process.llama_native import NativeContext, NativeModel
from cocoon_desktop.engine.process.pass_cost import PassCost
from cocoon_desktop.engine.process.prefix_cache import (
    PrefixCache,
    SlotChoice,
    SlotMemory,
    copy_threshold,
)
from cocoon_desktop.engine.process.sampling import SequenceSampler, resolve_seed
from cocoon_desktop.engine.process.sequence import ActiveSequence, Admission, CancelFlag
from cocoon_desktop.engine.process.speculative import (
    DraftJob,
    DraftOffer,
    DraftPace,
    Speculation,
    accept_drafts,
    step_draft_length,
)
from cocoon_desktop.engine.process.text_stream import TextStream

__all__ = ["ActiveSequence", "Admission", "CancelFlag", "Scheduler"]
log = logging.getLogger(__name__)


class Scheduler:
    """Owns the active sequences, the slots and the batch; `step` advances all of them."""

    def __init__(self, model: NativeModel, context: NativeContext, *, capacity: int,
                 engine_seed: int, on_released: Callable[[], None],
                 speculation: Speculation | None = None,
                 before_decode: Callable[[], None] = lambda: None) -> None:
        """`before_decode` runs right before each `llama_decode` (see `InferenceCore`'s
        `flush_events`)."""
        self._model = model
        self._before_decode = before_decode
        self._context = context
        self._engine_seed = engine_seed
        self._on_released = on_released
        self._speculation = speculation
        self._cache = PrefixCache(capacity, copy_from=copy_threshold(context.n_ctx_per_sequence))
        self._batch = TokenBatch(max(context.n_batch, capacity))
        self._context_limit = context.n_ctx_per_sequence
        self.active: list[ActiveSequence] = []
        self._moves_work = True  # False after a move failed: gaps then cost passes, not requests
        self._counts = dict.fromkeys(("steps", "finished", "completion", "cached", "copied",
                                      "drafted", "accepted", "moved"), 0)
        self._seconds = {"step": 0.0, "decode": 0.0}  # the decode thread's time, and llama's
        self._step_began: float | None = None
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
        slot, reused = choice.slot, self._claim(choice)
        params = admission.request.sampling
        sampler = SequenceSampler(params, seed=resolve_seed(params.seed, self._engine_seed),
                                  n_vocab=self._model.shape.n_vocab)
        slot.busy = True
        speculation = self._speculation
        if speculation is not None:
            speculation.drafter.begin(slot.seq_id)
        pace = DraftPace(speculation.cost if speculation else PassCost(1.0))
        log.debug("request %s: sequence %d, %d of %d prompt tokens cached",
                  admission.request.request_id, slot.seq_id, reused, len(prompt))
        self.active.append(ActiveSequence(admission, slot, sampler, TextStream(params.stop),
                                          cached_tokens=reused, prompt_fed=reused, pace=pace))

    def _claim(self, choice: SlotChoice) -> int:
        """Keep the chosen prefix in the slot (copying it from `choice.source` first when it
        is another slot's); returns the prompt tokens whose KV is there."""
        slot, reused = choice.slot, choice.reusable_tokens
        try:
            if choice.source is not None:
                self._context.copy_sequence(choice.source.seq_id, slot.seq_id)
                slot.tokens[:] = choice.source.tokens[:reused]
            self._context.remove_tokens(slot.seq_id, reused)
        except RuntimeError:
            log.exception("could not prepare sequence %d; its prompt is decoded in full",
                          slot.seq_id)
            reused = 0
        del slot.tokens[reused:]
        if choice.source is not None and reused:
            self._counts["copied"] += reused
        return reused

    def reject(self, admission: Admission, error: str) -> None:
        """End a request that could not be admitted."""
        self._release_and_emit(admission, "error", 0, 0, error)

    def finish(self, seq: ActiveSequence, reason: FinishReason, error: str | None = None) -> None:
        """Remove `seq` from the batch, free its sampler and send its last events."""
        self._flush_text(seq)
        self.active.remove(seq)
        log.debug("request %s: %s after %d tokens", seq.admission.request.request_id, reason,
                  seq.completion_tokens)
        seq.sampler.close()
        seq.slot.busy = False
        seq.slot.last_used_step = self._counts["steps"]
        if reason == "error":
            self._forget_slot(seq.slot)
        self._counts["finished"] += 1
        self._counts["completion"] += seq.completion_tokens
        self._counts["cached"] += seq.cached_tokens
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
        """Decode one batch for every active sequence and sample their next tokens; the time
        it takes and the part of it inside `llama_decode` are counted (`CoreStats`)."""
        began = self._step_began = time.perf_counter()
        try:
            self._step()
        finally:
            self._seconds["step"] += time.perf_counter() - began
            self._step_began = None

    def _step(self) -> None:
        if len(self.active) > 1 and self._moves_work:
            self._compact()
        members = self._fill_batch()
        self._before_decode()
        if not members:
            return
        self._counts["steps"] += 1
        started = time.perf_counter()
        status = self._context.decode(self._batch.native)
        self._seconds["decode"] += time.perf_counter() - started
        if status != 0:
            self._fail_batch(members, status)
            return
        speculation = self._speculation
        # What the step ran, read before sampling changes it: only speculation prices passes.
        one_pass = speculation is not None and one_generating_pass(members)
        generating = ([seq for seq in members if seq.next_token is not None]
                      if speculation is not None and not one_pass else [])
        for seq in members:
            seq.decode_failed = False
            if seq.next_token is None:
                seq.slot.tokens.extend(seq.chunk)
                seq.prompt_fed += len(seq.chunk)
        for seq in members:
            if seq.next_token is not None:
                self._sample(seq, pending=seq.next_token, draft=seq.draft)
            elif seq.output_row >= 0:
                self._sample(seq, pending=None, draft=[])
            elif seq.prompt_fed == len(seq.feed):  # a lost cache is back (`start_over`)
                seq.next_token, seq.resume_token = seq.resume_token, None
        if speculation is not None:  # decoded and sampled: what the step cost
            if one_pass:
                speculation.cost.add(self._batch.size, time.perf_counter() - started,
                                     len(members))
            else:
                per_sequence = 1 + len(generating[0].draft) if generating else 1
                speculation.cost.untimed(len(generating), per_sequence)

    def _compact(self) -> None:
        """Keep the busy slots consecutive (`engine.process.compaction`). After a failed move
        nothing moves again: gaps then cost passes."""
        speculation = self._speculation
        try:
            self._counts["moved"] += move_sequences(
                self.active, self._cache, self._context,
                speculation.drafter if speculation is not None else None)
        except MoveFailed:
            log.exception("no sequence moves from now on")
            self._moves_work = False

    def _fill_batch(self) -> list[ActiveSequence]:
        batch = self._batch
        batch.clear()
        # in sequence order: llama.cpp decodes a run of consecutive sequences in one pass
        members = sorted((seq for seq in self.active if seq.next_token is not None),
                         key=lambda seq: seq.slot.seq_id)
        self._draft(members)
        for seq in members:
            seq.output_row = batch.add_run([seq.next_token, *seq.draft], len(seq.slot.tokens),
                                           seq.slot.seq_id, logits_on_all=True)
        for seq in self.active:
            if seq.next_token is not None or seq.prompt_fed >= len(seq.feed):
                continue
            take = min(len(seq.feed) - seq.prompt_fed, batch.room)
            if take <= 0:
                break
            seq.chunk = list(seq.feed[seq.prompt_fed:seq.prompt_fed + take])
            last = seq.prompt_fed + take == len(seq.feed) and seq.resume_token is None
            seq.output_row = batch.add_run(seq.chunk, seq.prompt_fed, seq.slot.seq_id,
                                           logits_on_last=last)
            members.append(seq)
        return members

    def _draft(self, generating: list[ActiveSequence]) -> None:
        """Give every generating sequence this step's draft, all of one length (padded)."""
        for seq in generating:
            seq.draft, seq.drafted, seq.unchecked = [], 0, None
        speculation = self._speculation
        if speculation is None or not generating:
            return
        most = min(speculation.max_tokens, self._batch.capacity // (2 * len(generating)),
                   *(self._context_limit - 1 - len(seq.slot.tokens) for seq in generating))
        jobs: dict[int, DraftJob] = {}
        for seq in generating:
            limit = min(most, seq.max_tokens - seq.completion_tokens - 1)
            if limit > 0 and seq.pace.wants_draft():
                assert seq.next_token is not None
                jobs[seq.slot.seq_id] = DraftJob(seq.slot.seq_id, seq.slot.tokens,
                                                 seq.next_token, limit)
        if not jobs:
            return
        speculation.drafter.draft(list(jobs.values()))
        proposed = {seq_id: job.tokens[:job.limit] for seq_id, job in jobs.items()}
        offers = [DraftOffer(seq.pace.offered_acceptance, len(proposed.get(seq.slot.seq_id, [])))
                  for seq in generating]
        length = step_draft_length(offers, speculation.cost.pass_time(len(generating)), most)
        if length == 0:
            for seq in generating:  # checked against the sample for free (see `_sample`)
                seq.unchecked = next(iter(proposed.get(seq.slot.seq_id, [])), None)
            return
        for seq in generating:
            real = proposed.get(seq.slot.seq_id, [])[:length]
            filler = real[-1:] or [seq.next_token]
            seq.draft, seq.drafted = real + filler * (length - len(real)), len(real)

    def _sample(self, seq: ActiveSequence, *, pending: int | None, draft: list[int]) -> None:
        """Sample `seq`'s rows of this step: after its last prompt chunk (no pending token),
        or after its pending token and `draft`; keep the confirmed drafts, drop the others'
        KV, and send the step's text as one delta (or finish)."""
        slot = seq.slot
        if pending is not None:
            slot.tokens.append(pending)
        first_position = len(slot.tokens)
        ending: list[FinishReason] = []

        def emit(token: int, position: int) -> bool:
            reason = self._take(seq, token, position)
            if reason is not None:
                ending.append(reason)
            return reason is None

        kept, seq.next_token = accept_drafts(
            lambda row: seq.sampler.sample(self._context, row), emit,
            first_row=seq.output_row, first_position=first_position, draft=draft)
        slot.tokens.extend(draft[:kept])
        if kept < len(draft) and not self._trim(slot, first_position + kept):
            seq.start_over()  # llama.cpp cleared the sequence: its cache is decoded again
        if seq.unchecked is not None and seq.next_token is not None:
            # A draft that did not pay in this step still tells how drafts fare: without
            # this a batch whose every sequence starts at the prior never drafts at all.
            seq.pace.record(1, int(seq.next_token == seq.unchecked))
        if seq.drafted:
            seq.pace.record(seq.drafted, min(kept, seq.drafted))
            self._counts["drafted"] += seq.drafted
            self._counts["accepted"] += min(kept, seq.drafted)
        if ending:
            self.finish(seq, ending[0])
        else:
            self._flush_text(seq)

    def _take(self, seq: ActiveSequence, token: int, position: int) -> FinishReason | None:
        """Count one sampled token and add its text; the reason to end here, if any.
        `position` is where the token would be decoded."""
        seq.completion_tokens += 1
        if self._model.is_end_of_generation(token):
            seq.unsent_text.append(seq.text.finish())
            return "stop"
        update = seq.text.feed(self._model.piece(token))
        seq.unsent_text.append(update.text)
        if update.stopped:
            return "stop"
        if seq.completion_tokens >= seq.max_tokens or position >= self._context_limit:
            seq.unsent_text.append(seq.text.finish())
            return "length"
        return None

    def _trim(self, slot: SlotMemory, from_position: int) -> bool:
        """Drop the KV of rejected drafts; False when llama.cpp could not (it then cleared the
        sequence)."""
        try:
            self._context.remove_tokens(slot.seq_id, from_position)
        except RuntimeError:
            log.exception("could not drop the rejected drafts of sequence %d", slot.seq_id)
            return False
        return True

    def _fail_batch(self, members: list[ActiveSequence], status: int) -> None:
        """A failed `llama_decode` (a GPU out of memory): each sequence decodes its cache
        again and goes on; one whose decode fails twice running ends with an error."""
        log.error("llama_decode failed with status %d for %d sequences", status, len(members))
        for seq in members:
            if seq.decode_failed:
                self.finish(seq, "error", f"llama.cpp failed to decode (status {status}) twice "
                            "running; the request was stopped and the engine keeps serving. "
                            "Retry it.")
                continue
            seq.decode_failed = True
            seq.start_over()
            self._forget_slot(seq.slot)

    def _forget_slot(self, slot: SlotMemory) -> None:
        slot.tokens.clear()
        try:
            self._context.remove_tokens(slot.seq_id, 0)
        except RuntimeError:
            log.exception("could not clear sequence %d", slot.seq_id)

    # -- events --------------------------------------------------------------------------

    def _flush_text(self, seq: ActiveSequence) -> None:
        text = "".join(seq.unsent_text)
        seq.unsent_text.clear()
        if text:
            seq.admission.deliver(TokenDelta(text, seq.completion_tokens))

    def _release_and_emit(self, admission: Admission, reason: FinishReason, cached: int,
                          completion: int, error: str | None = None) -> None:
        self._on_released()
        admission.deliver(GenerationFinished(
            finish_reason=reason, prompt_tokens=len(admission.request.prompt_tokens),
            cached_tokens=cached, completion_tokens=completion, error=error))

    def publish_stats(self) -> None:
        self.stats = self._measure()

    def _measure(self) -> CoreStats:
        counts = self._counts
        # mid-step (a request finished) the step so far counts: its decode is already counted
        began = self._step_began
        stepping = 0.0 if began is None else time.perf_counter() - began
        return CoreStats(
            steps=counts["steps"],
            active_sequences=len(self.active),
            kv_tokens_per_sequence=tuple(self._context.cells_used(slot.seq_id)
                                         for slot in self._cache.slots),
            requests_finished=counts["finished"],
            completion_tokens_total=counts["completion"],
            cached_tokens_total=counts["cached"],
            shared_prefix_tokens_total=counts["copied"],
            draft_tokens_total=counts["drafted"],
            draft_tokens_accepted_total=counts["accepted"],
            sequences_moved_total=counts["moved"],
            step_seconds_total=self._seconds["step"] + stepping,
            decode_seconds_total=self._seconds["decode"],
        )

    def close(self) -> None:
        for seq in self.active:
            seq.sampler.close()
        self.active.clear()
        self._batch.close()
        if self._speculation is not None:
            self._speculation.drafter.close()
