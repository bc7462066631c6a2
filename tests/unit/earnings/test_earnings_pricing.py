"""Adjusted tokens and earnings follow upstream's formula to the last token."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cocoon_desktop.protocol.pricing import (
    AdjustedTokens,
    PriceMultipliers,
    TokenCounts,
    adjust_tokens,
    adjusted_tokens,
    earned_nanoton,
)

# (tokens, coefficient, multiplier, result) computed by upstream's `adjust_tokens` from
# runners/helpers/Ton.h compiled with gcc -O2 on x86-64. The last four are cases where doubles
# land just under the exact value, so an exact-fraction implementation would be off by one.
UPSTREAM_VECTORS = [
    (7, 1000, 10000, 7), (3, 1500, 10000, 4), (1000, 1000, 10000, 1000),
    (123456789, 1234, 5678, 86501875), (29, 1100, 10000, 31), (57, 1000, 9999, 56),
    (1, 1000, 10000, 1), (100, 999, 10001, 99), (0, 1000, 10000, 0),
    (987654321012, 3000, 20000, 5925925926072), (333, 1300, 3000, 129), (10, 1100, 10000, 11),
    (25, 1160, 10000, 28), (50, 2320, 5000, 57), (60, 2050, 10000, 122), (100, 290, 10000, 28),
]


@pytest.mark.parametrize(("tokens", "coefficient", "multiplier", "expected"), UPSTREAM_VECTORS)
def test_adjust_tokens_matches_upstream_double_arithmetic(
    tokens: int, coefficient: int, multiplier: int, expected: int
) -> None:
    assert adjust_tokens(tokens, coefficient, multiplier) == expected


def test_the_double_rounding_cases_really_differ_from_exact_arithmetic() -> None:
    exact = Fraction(25) * Fraction(1160, 1000) * Fraction(10000, 10000)
    assert int(exact) == 29 and adjust_tokens(25, 1160, 10000) == 28


def test_adjusted_tokens_split_cached_and_reasoning_out_like_count_tokens() -> None:
    counts = TokenCounts(prompt_tokens=100, cached_tokens=40, completion_tokens=50,
                         reasoning_tokens=20)
    multipliers = PriceMultipliers(prompt=10000, cached=1000, completion=20000, reasoning=30000)
    adjusted = adjusted_tokens(counts, 1500, multipliers)
    # prompt: (100-40)*1.5*1 = 90; cached: 40*1.5*0.1 = 6; completion: (50-20)*1.5*2 = 90;
    # reasoning: 20*1.5*3 = 90
    assert adjusted == AdjustedTokens(prompt=90, cached=6, completion=90, reasoning=90)
    assert adjusted.total == 276
    assert earned_nanoton(adjusted.total, 1000) == 276_000


def test_token_counts_refuse_negative_values() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        TokenCounts(prompt_tokens=-1)
