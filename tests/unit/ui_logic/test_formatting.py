"""Figures as the screens print them."""

from __future__ import annotations

import pytest

from cocoon_desktop.ui_logic.format import (
    format_age,
    format_bytes,
    format_duration,
    format_ton,
    parse_ton,
)


def test_format_ton() -> None:
    assert format_ton(1_234_567_890) == "1.2346 TON"
    assert format_ton(0) == "0.0000 TON"
    assert format_ton(None) == "—"
    assert format_ton(5_000_000_000_000, digits=2, unit=False) == "5,000.00"
    assert format_ton(1_500) == "0.0000015 TON"  # small earnings never read as zero
    assert format_ton(-20) == "-0.00000002 TON"


@pytest.mark.parametrize(("text", "nanoton"), [
    ("1.5", 1_500_000_000), ("0,25", 250_000_000), (".5", 500_000_000),
    ("2 TON", 2_000_000_000), ("0.000000001", 1), ("10", 10_000_000_000),
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
