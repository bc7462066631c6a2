"""Exact TON amounts: formatting and parsing never round and reject what they cannot read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.earnings.money import InvalidAmount, format_ton, format_ton_short, parse_ton


@pytest.mark.parametrize(
    ("nanoton", "text"),
    [(0, "0.000000000"), (1, "0.000000001"), (1_500_000_000, "1.500000000"),
     (-2_000_000_001, "-2.000000001"), (123_456_789_012_345_678, "123456789.012345678")],
)
def test_format_ton_is_exact_with_nine_decimals(nanoton: int, text: str) -> None:
    assert format_ton(nanoton) == text


def test_format_ton_truncates_for_compact_display_and_groups_thousands() -> None:
    assert format_ton(1_234_999_999_999, decimals=2, thousands=True) == "1,234.99"
    assert format_ton(5_000_000_000, decimals=0) == "5"


@pytest.mark.parametrize(
    ("nanoton", "text"),
    [(0, "0 TON"), (12_345_000_000, "12.34 TON"), (4_200_000, "0.0042 TON"),
     (7, "0.000000007 TON"), (3_000_000_000, "3 TON")],
)
def test_format_ton_short_never_hides_a_small_amount(nanoton: int, text: str) -> None:
    assert format_ton_short(nanoton) == text


@pytest.mark.parametrize(
    ("text", "nanoton"),
    [("1.5", 1_500_000_000), (" 0.000000001 ", 1), ("2 TON", 2_000_000_000), ("1_000", 10**12),
     ("0", 0)],
)
def test_parse_ton_reads_plain_amounts(text: str, nanoton: int) -> None:
    assert parse_ton(text) == nanoton


@pytest.mark.parametrize(
    ("text", "hint"),
    [("abc", "type a number"), ("1.0000000001", "more than 9 decimals"), ("-1", "without a sign"),
     ("1e3", "type a number"), ("nan", "type a number"), ("", "type a number")],
)
def test_parse_ton_rejects_with_a_clear_message(text: str, hint: str) -> None:
    with pytest.raises(InvalidAmount, match=hint):
        parse_ton(text)


@given(st.integers(min_value=0, max_value=10**20))
def test_format_then_parse_round_trips(nanoton: int) -> None:
    assert parse_ton(format_ton(nanoton)) == nanoton
