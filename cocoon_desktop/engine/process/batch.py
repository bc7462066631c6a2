"""The token batch of one decode step: tokens of several sequences, decoded by one `llama_decode`.

`TokenBatch` owns a `llama_batch` from `llama_batch_init` and fills it in place each step, so a
step allocates nothing. Each added token names its sequence and position; only tokens whose
logits are wanted (the last prompt token, every generated or drafted token) produce an output
row, and `add`/`add_run` return that row's index for the sampler.
"""

from __future__ import annotations

import llama_cpp.llama_cpp as llama


class BatchFull(RuntimeError):
    """More tokens were added than the batch holds (a scheduler bug, never user input)."""


class TokenBatch:
    """A reusable `llama_batch` of up to `capacity` tokens, one sequence id per token."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._batch = llama.llama_batch_init(capacity, 0, 1)
        self.clear()

    @property
    def native(self) -> llama.llama_batch:
        return self._batch

    @property
    def size(self) -> int:
        return self._batch.n_tokens

    @property
    def room(self) -> int:
        return self.capacity - self._batch.n_tokens

    def clear(self) -> None:
        self._batch.n_tokens = 0

    def add(self, token: int, position: int, seq_id: int, *, want_logits: bool) -> int:
        """Append one token; returns its output row when `want_logits`, else -1."""
        batch = self._batch
        index = batch.n_tokens
        if index >= self.capacity:
            raise BatchFull(f"the decode batch holds {self.capacity} tokens")
        batch.token[index] = token
        batch.pos[index] = position
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = seq_id
        batch.logits[index] = want_logits
        batch.n_tokens = index + 1
        return index if want_logits else -1

    def add_run(self, tokens: list[int], first_position: int, seq_id: int, *,
                logits_on_last: bool = False, logits_on_all: bool = False) -> int:
        """Append consecutive tokens of one sequence. With `logits_on_all` every token gets an
        output row (rows are consecutive) and the first's is returned; with `logits_on_last`
        only the last does and its row is returned; else -1."""
        batch = self._batch
        start = batch.n_tokens
        if start + len(tokens) > self.capacity:
            raise BatchFull(f"the decode batch holds {self.capacity} tokens")
        token, pos, n_seq_id, seq_ids, logits = (batch.token, batch.pos, batch.n_seq_id,
                                                 batch.seq_id, batch.logits)
        for offset, value in enumerate(tokens):
            index = start + offset
            token[index] = value
            pos[index] = first_position + offset
            n_seq_id[index] = 1
            seq_ids[index][0] = seq_id
            logits[index] = logits_on_all
        batch.n_tokens = start + len(tokens)
        if logits_on_all and tokens:
            return start
        if logits_on_last and tokens:
            logits[batch.n_tokens - 1] = 1
            return batch.n_tokens - 1
        return -1

    def close(self) -> None:
        if self.capacity:
            llama.llama_batch_free(self._batch)
            self.capacity = 0
