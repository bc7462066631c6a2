"""A llama.cpp sampler chain per sequence, built from one request's `SamplingParams`.

The chain mirrors llama-server's order: penalties, top-k, top-p, min-p, temperature, then a
seeded draw (`dist`), or a plain argmax when the temperature is 0. Each sequence owns its chain,
so penalties see only that request's tokens and its seed makes its text reproducible whatever
else is decoded beside it. Plain greedy (temperature 0, no penalties) needs no chain: numpy's
argmax over the row's logits picks the same token (the first of equal maxima, as llama.cpp's
greedy sampler does) without copying the vocabulary into candidates, which matters when a
step samples several rows per sequence (speculative decoding).
"""

from __future__ import annotations

import secrets

import llama_cpp.llama_cpp as llama

from cocoon_desktop.engine.process.inference_types import SamplingParams
from cocoon_desktop.engine.process.llama_native import NativeContext

PENALTY_LAST_N = 64  # tokens the penalties look back on (llama-server's default)
_DEFAULT_SEED = 0xFFFFFFFF  # llama.cpp reads this value as "pick a random seed"


def resolve_seed(requested: int | None, engine_default: int) -> int:
    """The 32-bit seed a request uses: its own, else the engine's, else a random one."""
    if requested is not None:
        seed = requested & 0xFFFFFFFF
    elif engine_default >= 0:
        seed = engine_default & 0xFFFFFFFF
    else:
        seed = secrets.randbits(32)
    return seed if seed != _DEFAULT_SEED else 0


class SequenceSampler:
    """Owns one `llama_sampler` chain (none for plain greedy); `sample` draws and accepts the
    next token."""

    def __init__(self, params: SamplingParams, *, seed: int, n_vocab: int) -> None:
        self._chain: llama.llama_sampler_p | None = None
        if params.temperature <= 0 and not params.uses_penalties:
            return
        chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        if not chain:
            raise MemoryError("llama.cpp could not create a sampler chain")
        self._chain = chain
        for sampler in _chain_members(params, seed=seed, n_vocab=n_vocab):
            llama.llama_sampler_chain_add(chain, sampler)  # the chain takes ownership

    def sample(self, context: NativeContext, output_index: int) -> int:
        """Sample from the logits of batch row `output_index` of the last decode."""
        if self._chain is None:
            return int(context.logits(output_index).argmax())
        return llama.llama_sampler_sample(self._chain, context.pointer, output_index)

    def close(self) -> None:
        if self._chain:
            llama.llama_sampler_free(self._chain)
            self._chain = None


def _chain_members(params: SamplingParams, *, seed: int, n_vocab: int
                   ) -> list[llama.llama_sampler_p]:
    members: list[llama.llama_sampler_p] = []
    if params.uses_penalties:
        members.append(llama.llama_sampler_init_penalties(
            n_vocab, PENALTY_LAST_N, params.repeat_penalty, params.frequency_penalty,
            params.presence_penalty))
    if params.temperature <= 0:
        members.append(llama.llama_sampler_init_greedy())
        return members
    if params.top_k > 0:
        members.append(llama.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1:
        members.append(llama.llama_sampler_init_top_p(params.top_p, 1))
    if params.min_p > 0:
        members.append(llama.llama_sampler_init_min_p(params.min_p, 1))
    members.append(llama.llama_sampler_init_temp(params.temperature))
    members.append(llama.llama_sampler_init_dist(seed))
    return members
