"""The helper that suggests how many requests to decode together."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.models.capacity import (
    COMPUTE_RESERVE_BYTES,
    kv_budget_bytes,
    kv_bytes_per_token,
    suggest_capacity,
)

MIB = 1024**2
SMOLLM2_KV_PER_TOKEN = kv_bytes_per_token(n_layer=30, n_head_kv=3, head_dim=64)


def test_kv_bytes_per_token_matches_llama_cpp_for_smollm2() -> None:
    # llama.cpp reports 90 MiB of f16 K+V for 4096 cells of SmolLM2-135M
    assert SMOLLM2_KV_PER_TOKEN * 4096 == 90 * MIB


def test_budget_leaves_room_for_weights_and_buffers() -> None:
    free = 4096 * MIB
    budget = kv_budget_bytes(free_memory_bytes=free, model_file_bytes=1024 * MIB)
    assert budget == int((free - 1024 * MIB - COMPUTE_RESERVE_BYTES) * 0.8)
    assert kv_budget_bytes(free_memory_bytes=100 * MIB, model_file_bytes=200 * MIB) == 0


def test_as_many_sequences_as_fit_up_to_the_cap() -> None:
    per_sequence = SMOLLM2_KV_PER_TOKEN * 2048  # 45 MiB
    fits_three = suggest_capacity(kv_bytes_per_token=SMOLLM2_KV_PER_TOKEN,
                                  kv_budget_bytes=3 * per_sequence + 1,
                                  context_tokens_per_sequence=2048)
    assert fits_three.parallel_sequences == 3
    assert fits_three.context_tokens_total == 3 * 2048
    assert fits_three.kv_cache_bytes == 3 * per_sequence
    capped = suggest_capacity(kv_bytes_per_token=SMOLLM2_KV_PER_TOKEN,
                              kv_budget_bytes=100 * per_sequence,
                              context_tokens_per_sequence=2048, max_parallel=8)
    assert capped.parallel_sequences == 8
    assert "capped at 8" in capped.explanation


def test_too_little_memory_shrinks_the_context_of_a_single_sequence() -> None:
    tight = suggest_capacity(kv_bytes_per_token=SMOLLM2_KV_PER_TOKEN,
                             kv_budget_bytes=SMOLLM2_KV_PER_TOKEN * 1000,
                             context_tokens_per_sequence=4096)
    assert tight.parallel_sequences == 1
    assert tight.context_tokens_per_sequence == 1000
    assert "one request at a time" in tight.explanation


def test_nonsense_input_is_refused() -> None:
    with pytest.raises(ValueError):
        suggest_capacity(kv_bytes_per_token=0, kv_budget_bytes=1, context_tokens_per_sequence=1)
