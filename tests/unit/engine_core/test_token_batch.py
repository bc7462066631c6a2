"""The reusable llama_batch: rows, positions, sequence ids and output flags."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.process.batch import BatchFull, TokenBatch


def test_tokens_runs_and_output_rows() -> None:
    batch = TokenBatch(8)
    try:
        assert batch.add(42, 7, 3, want_logits=True) == 0
        assert batch.add_run([1, 2, 3], 0, 1, logits_on_last=True) == 3
        assert batch.add_run([4, 5], 3, 2, logits_on_last=False) == -1
        native = batch.native
        assert batch.size == 6 and batch.room == 2
        assert [native.token[i] for i in range(6)] == [42, 1, 2, 3, 4, 5]
        assert [native.pos[i] for i in range(6)] == [7, 0, 1, 2, 3, 4]
        assert [native.seq_id[i][0] for i in range(6)] == [3, 1, 1, 1, 2, 2]
        assert [native.logits[i] for i in range(6)] == [1, 0, 0, 1, 0, 0]
        with pytest.raises(BatchFull):
            batch.add_run([9, 9, 9], 5, 2, logits_on_last=True)
        batch.clear()
        assert batch.size == 0 and batch.room == 8
    finally:
        batch.close()
        batch.close()  # twice is harmless
