"""TON amounts: one formatter and one parser that never round and reject what they cannot read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.protocol.money import InvalidAmount, format_ton, parse_ton, ton_to_nanoton


@pytest.mark.parametrize(("nanoton", "text"), [
    (0, "0.00 TON"),  # zero reads like any other amount, never "0.0000" beside "0.00000308"
    (3_080, "0.00000308 TON"),  # small earnings never read as zero
    (1, "0.000000001 TON"),
    (1_500_000_000, "1.50 TON"),
    (1_234_567_890, "1.23456789 TON"),  # exact: never rounded
    (1_234_567_891_000, "1,234.567891 TON"),
    (123_456_789_012_345_678, "123,456,789.012345678 TON"),  # no float: the last digit stays
    (-20, "-0.00000002 TON"),
    (None, "—"),  # unknown, never zero
])
def test_one_rule_for_every_ton_amount(nanoton: int | None, text: str) -> None:
    assert format_ton(nanoton) == text


@pytest.mark.parametrize(
    ("nanoton", "text"),
    [(0, "0.000000000"), (1, "0.000000001"), (1_500_000_000, "1.500000000"),
     (-2_000_000_001, "-2.000000001"), (123_456_789_012_345_678, "123456789.012345678")],
)
def test_exact_form_has_nine_decimals_and_no_grouping(nanoton: int, text: str) -> None:
    assert format_ton(nanoton, exact=True, unit=False) == text


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_a_shown_amount_reads_back_exactly(nanoton: int) -> None:
    shown = format_ton(abs(nanoton), unit=False)
    assert parse_ton(shown) == abs(nanoton)  # what the screen shows is the exact amount
    assert parse_ton(format_ton(abs(nanoton), exact=True)) == abs(nanoton)
    decimals = shown.split(".")[1]
    assert 2 <= len(decimals) <= 9 and (len(decimals) == 2 or not decimals.endswith("0"))
    sign = "-" if nanoton < 0 else ""
    assert format_ton(nanoton) == f"{sign}{shown} TON"  # the sign is the only difference


@pytest.mark.parametrize(("text", "nanoton"), [
    ("1.5", 1_500_000_000), ("0,25", 250_000_000), (".5", 500_000_000),
    ("2 TON", 2_000_000_000), (" 0.000000001 ", 1), ("10", 10_000_000_000), ("1_000", 10**12),
    ("0", 0), ("1,234.50 TON", 1_234_500_000_000),  # an amount as the screens show it
])
def test_parse_ton_reads_what_people_type(text: str, nanoton: int) -> None:
    assert parse_ton(text) == nanoton


@pytest.mark.parametrize(
    ("text", "hint"),
    [("abc", "type a number"), ("1.0000000001", "more than 9 decimals"), ("-1", "without a sign"),
     ("+1", "without a sign"), ("1e3", "type a number"), ("nan", "type a number"),
     ("", "type a number"), ("1.2.3", "type a number"), (".", "type a number"),
     ("١٢", "type a number")],
)
def test_parse_ton_rejects_with_a_clear_message(text: str, hint: str) -> None:
    with pytest.raises(InvalidAmount, match=hint):
        parse_ton(text)


def test_prices_given_in_ton_convert_without_float_error() -> None:
    assert ton_to_nanoton(2.3) == 2_300_000_000  # 2.3 * 10**9 in binary floats is 2299999999.99
    assert ton_to_nanoton("0.000000001") == 1
