"""Figures as the screens print them."""

from __future__ import annotations

from cocoon_desktop.ui_logic.format import format_age, format_bytes, format_duration


def test_sizes_and_durations() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"
    assert format_duration(42) == "42 s"
    assert format_duration(3 * 3600 + 300) == "3 h 5 min"
    assert format_duration(2 * 86400 + 4 * 3600) == "2 d 4 h"
    assert format_age(2) == "just now"
    assert format_age(None) == "never"
