"""Figures as the screens print them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.ui_logic.format import (
    format_age,
    format_bytes,
    format_duration,
    format_ton,
    parse_ton,
)


@pytest.mark.parametrize(("nanoton", "text"), [
    (0, "0.00 TON"),  # zero reads like any other amount, never "0.0000" beside "0.00000308"
    (3_080, "0.00000308 TON"),  # small earnings never read as zero
    (1, "0.000000001 TON"),
    (1_500_000_000, "1.50 TON"),
    (1_234_567_890, "1.23456789 TON"),  # exact: never rounded
    (2_100_000_000, "2.10 TON"),
    (1_234_567_891_000, "1,234.567891 TON"),
    (123_456_789_012_345_678, "123,456,789.012345678 TON"),  # no float: the last digit stays
    (-20, "-0.00000002 TON"),
    (-1_500_000_000, "-1.50 TON"),
    (None, "—"),  # unknown, never zero
])
def test_one_rule_for_every_ton_amount(nanoton: int | None, text: str) -> None:
    assert format_ton(nanoton) == text


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_a_shown_amount_reads_back_exactly(nanoton: int) -> None:
    shown = format_ton(abs(nanoton), unit=False)
    assert parse_ton(shown) == abs(nanoton)  # what the screen shows is the exact amount
    decimals = shown.split(".")[1]
    assert 2 <= len(decimals) <= 9 and (len(decimals) == 2 or not decimals.endswith("0"))
    sign = "-" if nanoton < 0 else ""
    assert format_ton(nanoton) == f"{sign}{shown} TON"  # the sign is the only difference


@pytest.mark.parametrize(("text", "nanoton"), [
    ("1.5", 1_500_000_000), ("0,25", 250_000_000), (".5", 500_000_000),
    ("2 TON", 2_000_000_000), ("0.000000001", 1), ("10", 10_000_000_000),
    ("1,234.50 TON", 1_234_500_000_000),  # an amount as the screens show it
])
def test_parse_ton(text: str, nanoton: int) -> None:
    assert parse_ton(text) == nanoton


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.2.3", "0.0000000001", "."])
def test_parse_ton_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ton(text)


def test_sizes_and_durations() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"
    assert format_duration(42) == "42 s"
    assert format_duration(3 * 3600 + 300) == "3 h 5 min"
    assert format_duration(2 * 86400 + 4 * 3600) == "2 d 4 h"
    assert format_age(2) == "just now"
    assert format_age(None) == "never"
