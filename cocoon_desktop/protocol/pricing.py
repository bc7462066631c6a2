"""What a served request earns, by upstream's formula (`runners/helpers/CountTokens.cpp`, `Ton.h`).

Each kind of token is adjusted separately: adjusted = tokens x (coefficient / 1000) x
(multiplier / 10000), truncated toward zero, computed in IEEE doubles in upstream's exact order
so the result matches the proxy's metering bit for bit. Prompt tokens exclude cached ones and
completion tokens exclude reasoning ones. The worker earns adjusted tokens x
`worker_fee_per_token` nanoTON.
"""

from __future__ import annotations

from dataclasses import dataclass

COEFFICIENT_ONE = 1000  # a worker coefficient of 1000 is 1.0x
MULTIPLIER_ONE = 10000  # a root-config price multiplier of 10000 is 1.0x


def adjust_tokens(tokens: int, coefficient: int, multiplier: int) -> int:
    """Upstream's `adjust_tokens`: `(double)t * ((double)coef * 0.001) * (double)mult * 0.0001`."""
    return int(float(tokens) * (float(coefficient) * 0.001) * float(multiplier) * 0.0001)


@dataclass(frozen=True)
class TokenCounts:
    """Raw token counts from the engine's `usage` (cached is part of prompt, reasoning of
    completion, as in the OpenAI usage object)."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class PriceMultipliers:
    """The root config's per-kind price multipliers, in 1/10000 (10000 = 1.0x)."""

    prompt: int = MULTIPLIER_ONE
    cached: int = MULTIPLIER_ONE
    completion: int = MULTIPLIER_ONE
    reasoning: int = MULTIPLIER_ONE


@dataclass(frozen=True)
class AdjustedTokens:
    """Tokens after coefficient and multipliers: what the proxy meters and pays for."""

    prompt: int
    cached: int
    completion: int
    reasoning: int

    @property
    def total(self) -> int:
        return self.prompt + self.cached + self.completion + self.reasoning


def adjusted_tokens(
    counts: TokenCounts, coefficient: int, multipliers: PriceMultipliers
) -> AdjustedTokens:
    """Upstream `ByteTokenCounter::usage()` for one request."""
    return AdjustedTokens(
        prompt=adjust_tokens(
            counts.prompt_tokens - counts.cached_tokens, coefficient, multipliers.prompt
        ),
        cached=adjust_tokens(counts.cached_tokens, coefficient, multipliers.cached),
        completion=adjust_tokens(
            counts.completion_tokens - counts.reasoning_tokens, coefficient, multipliers.completion
        ),
        reasoning=adjust_tokens(counts.reasoning_tokens, coefficient, multipliers.reasoning),
    )


def earned_nanoton(adjusted_total: int, worker_fee_per_token_nanoton: int) -> int:
    """What `adjusted_total` tokens earn the worker, in nanoTON."""
    return adjusted_total * worker_fee_per_token_nanoton
