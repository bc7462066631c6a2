"""A draft model: a small model with the target's vocabulary guesses the next tokens.

`DraftModel` is a `Drafter` (see `speculative`) with its own llama.cpp context, one KV
stream per sequence like the target's. For a step's jobs it first brings each sequence's
draft KV up to the target's tokens (keeping the prefix it already holds, so a sequence costs
its prompt once), then decodes greedily, one token per `llama_decode` for every drafting
sequence together, until each has its `limit` or the draft model is unsure (its top token
below `MIN_CONFIDENCE`). Drafts are greedy, i.e. do not depend on the target's random draw, so
the target's acceptance rule keeps the output distribution exact.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cocoon_desktop.engine.process.batch import TokenBatch
from cocoon_desktop.engine.process.inference_types import ModelLoadError
from cocoon_desktop.engine.process.llama_native import NativeContext, NativeError, NativeModel
from cocoon_desktop.engine.process.prefix_cache import common_prefix_length
from cocoon_desktop.engine.process.speculative import DraftJob

log = logging.getLogger(__name__)
MIN_CONFIDENCE = 0.5  # stop a draft where the draft model's own top token is less likely
CATCH_UP_CHUNK = 512  # tokens per draft decode while catching up with new prompts


def vocabulary_difference(target: NativeModel, draft: NativeModel) -> str | None:
    """Why `draft` cannot draft for `target` (token ids would mean other text), or None."""
    if target.shape.n_vocab != draft.shape.n_vocab:
        return f"{draft.shape.n_vocab} tokens against {target.shape.n_vocab}"
    if (target.bos_token, target.eos_token) != (draft.bos_token, draft.eos_token):
        return "other start and end tokens"
    for token in range(target.shape.n_vocab):
        if target.token_text(token) != draft.token_text(token):
            return f"token {token} is {draft.token_text(token)!r}, not " \
                   f"{target.token_text(token)!r}"
    return None


class DraftModel:
    """Greedy drafts from a second, smaller model (see the module's docstring)."""

    def __init__(self, path: Path, target: NativeModel, *, n_ctx: int, n_seq_max: int,
                 threads: int, gpu_layers: int) -> None:
        self.name = path.name
        try:
            self._model = NativeModel(path, gpu_layers=gpu_layers)
        except NativeError as exc:
            raise ModelLoadError(f"The draft model {path.name} could not be loaded ({exc}). "
                                 "Choose another draft model file, or none.") from exc
        try:
            difference = vocabulary_difference(target, self._model)
            if difference is not None:
                raise ModelLoadError(
                    f"The draft model {path.name} has a different vocabulary from the model it "
                    f"would draft for ({difference}). A draft model must use the same "
                    "tokenizer (a smaller model of the same family); choose another one, or "
                    "none.")
            self._context = NativeContext(self._model, n_ctx=n_ctx, n_seq_max=n_seq_max,
                                          n_batch=CATCH_UP_CHUNK, threads=threads)
        except NativeError as exc:
            self._model.close()
            raise ModelLoadError(f"The draft model {path.name} does not fit beside the model "
                                 f"({exc}). Lower the context or choose no draft model.") from exc
        except BaseException:
            self._model.close()
            raise
        self._batch = TokenBatch(max(CATCH_UP_CHUNK, n_seq_max))
        self._held: dict[int, list[int]] = {}  # seq_id -> tokens whose KV the draft holds

    def begin(self, seq_id: int) -> None:
        """Nothing to do: the next draft keeps whatever prefix the sequence shares."""

    def move(self, source: int, target: int) -> None:
        """Swap the draft's KV as the target's was swapped (a draft that fails is forgotten:
        it is caught up again from the history)."""
        held = self._held
        held[source], held[target] = held.pop(target, []), held.pop(source, [])
        try:
            self._context.swap_sequences(source, target)
        except NativeError:
            log.exception("could not move draft sequence %d to %d", source, target)
            held[source], held[target] = [], []

    def draft(self, jobs: list[DraftJob]) -> None:
        try:
            rows = self._catch_up(jobs)
            while rows:
                rows = self._extend(jobs, rows)
        except NativeError:
            log.exception("the draft model failed; this step goes without drafts")
            for job in jobs:
                job.tokens = []
                self._forget(job.seq_id)

    def _catch_up(self, jobs: list[DraftJob]) -> dict[int, int]:
        """Decode what each sequence's draft KV lacks of history + pending; returns, per job
        index, the batch row of its first draft token's logits (after the last decode)."""
        todo: dict[int, list[int]] = {}
        for index, job in enumerate(jobs):
            held = self._held.setdefault(job.seq_id, [])
            wanted = [*job.history, job.pending]
            keep = min(common_prefix_length(held, wanted), len(wanted) - 1)
            self._context.remove_tokens(job.seq_id, keep)
            del held[keep:]
            todo[index] = wanted[keep:]
        rows: dict[int, int] = {}
        while todo:
            self._batch.clear()
            ended: dict[int, int] = {}
            for index in list(todo):
                job, tokens = jobs[index], todo[index]
                take = tokens[:self._batch.room]
                if not take:
                    break
                held = self._held[job.seq_id]
                row = self._batch.add_run(take, len(held), job.seq_id,
                                          logits_on_last=len(take) == len(tokens))
                held.extend(take)
                if row >= 0:
                    ended[index] = row
                    del todo[index]
                else:
                    todo[index] = tokens[len(take):]
            self._decode()
            for index, row in ended.items():  # read the logits before the next decode
                self._pick(jobs[index], row, rows, index)
        return rows

    def _extend(self, jobs: list[DraftJob], rows: dict[int, int]) -> dict[int, int]:
        """Decode each unfinished draft's last token to draft one more."""
        self._batch.clear()
        added: dict[int, int] = {}
        for index in rows:
            job = jobs[index]
            held = self._held[job.seq_id]
            added[index] = self._batch.add(job.tokens[-1], len(held), job.seq_id,
                                           want_logits=True)
            held.append(job.tokens[-1])
        self._decode()
        next_rows: dict[int, int] = {}
        for index, row in added.items():
            self._pick(jobs[index], row, next_rows, index)
        return next_rows

    def _pick(self, job: DraftJob, row: int, rows: dict[int, int], index: int) -> None:
        """Append the draft model's confident top token to `job`; keep it in `rows` while
        the job wants more."""
        logits = self._context.logits(row)
        token = int(logits.argmax())
        if _top_probability(logits, token) < MIN_CONFIDENCE:
            return
        job.tokens.append(token)
        if len(job.tokens) < job.limit:
            rows[index] = row

    def _decode(self) -> None:
        status = self._context.decode(self._batch.native)
        if status != 0:
            raise NativeError(f"llama_decode of the draft model failed with status {status}")

    def _forget(self, seq_id: int) -> None:
        self._held.pop(seq_id, None)
        try:
            self._context.remove_tokens(seq_id, 0)
        except NativeError:
            log.exception("could not clear draft sequence %d", seq_id)

    def close(self) -> None:
        self._batch.close()
        self._context.close()
        self._model.close()


def _top_probability(logits: np.ndarray, token: int) -> float:
    top = logits[token]
    return float(1.0 / np.exp(logits - top).sum())
