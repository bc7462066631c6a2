"""How many requests the engine should decode together, from context size and memory.

Every parallel sequence owns `context_tokens_per_sequence` cells of KV cache, so the KV cache
takes `parallel * context_per_sequence * kv_bytes_per_token` bytes, where `kv_bytes_per_token` is
2 (K and V) x layers x KV heads x head size x 2 bytes (f16). `suggest_capacity` picks the
largest parallel count whose cache fits the memory left after the weights, capped because on a
CPU or a small GPU more sequences stop adding throughput long before memory runs out.
The settings then get `context_tokens = parallel * context_per_sequence`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_PARALLEL = 8
MIN_CONTEXT_PER_SEQUENCE = 512
COMPUTE_RESERVE_BYTES = 512 * 1024**2  # llama.cpp's compute buffers and the process itself
KV_SHARE_OF_FREE_MEMORY = 0.8  # leave a fifth of what is free to the rest of the system


def kv_bytes_per_token(*, n_layer: int, n_head_kv: int, head_dim: int,
                       bytes_per_value: int = 2) -> int:
    """Bytes one token takes in the KV cache across every layer (f16 by default)."""
    return 2 * n_layer * n_head_kv * head_dim * bytes_per_value


def kv_budget_bytes(*, free_memory_bytes: int, model_file_bytes: int) -> int:
    """Memory the KV cache may use: a share of what is free once weights and buffers are in."""
    left = free_memory_bytes - model_file_bytes - COMPUTE_RESERVE_BYTES
    return max(0, int(left * KV_SHARE_OF_FREE_MEMORY))


@dataclass(frozen=True)
class CapacitySuggestion:
    """Settings to show the user, with the reason in words."""

    parallel_sequences: int
    context_tokens_per_sequence: int
    context_tokens_total: int  # what EngineSettings.context_tokens should be
    kv_cache_bytes: int
    explanation: str


def suggest_capacity(*, kv_bytes_per_token: int, kv_budget_bytes: int,
                     context_tokens_per_sequence: int,
                     max_parallel: int = DEFAULT_MAX_PARALLEL, memory_name: str = "memory",
                     cap_reason: str | None = None) -> CapacitySuggestion:
    """The most parallel sequences of the wanted context that fit in `kv_budget_bytes`.

    When not even one fits, the context per sequence shrinks to what fits (never below
    `MIN_CONTEXT_PER_SEQUENCE`) and the explanation says so. `memory_name` names where the
    budget lives ("GPU memory", "RAM"); `cap_reason` says why `max_parallel` is the cap.
    """
    if kv_bytes_per_token <= 0 or context_tokens_per_sequence <= 0 or max_parallel < 1:
        raise ValueError("kv_bytes_per_token, context_tokens_per_sequence and max_parallel "
                         "must be positive")
    per_sequence_bytes = kv_bytes_per_token * context_tokens_per_sequence
    fitting = kv_budget_bytes // per_sequence_bytes
    context = context_tokens_per_sequence
    budget = f"{_mib(kv_budget_bytes)} of {memory_name}"
    if fitting >= max_parallel:
        parallel = max_parallel
        reason = (f"{parallel} at once of {context} tokens each, "
                  f"{cap_reason or f'capped at {max_parallel}, where more stop adding throughput'}"
                  f"; their KV cache takes {_mib(parallel * per_sequence_bytes)} of the "
                  f"{budget} it may use")
    elif fitting >= 1:
        parallel = fitting
        reason = (f"{parallel} at once of {context} tokens each, not {max_parallel}: that is "
                  f"all the KV cache that fits in the {budget} it may use. Free memory or "
                  f"lower the context to serve more at once")
    else:
        parallel = 1
        context = max(MIN_CONTEXT_PER_SEQUENCE, kv_budget_bytes // kv_bytes_per_token)
        reason = (f"only {budget} is left for the KV cache, so one request at a time with "
                  f"{context} tokens of context")
    return CapacitySuggestion(
        parallel_sequences=parallel,
        context_tokens_per_sequence=context,
        context_tokens_total=parallel * context,
        kv_cache_bytes=parallel * context * kv_bytes_per_token,
        explanation=reason[0].upper() + reason[1:] + ".",
    )


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB"
