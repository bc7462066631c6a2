"""Numbers in words for people: sizes, and the "n/a" the UI shows for a missing metric."""

from __future__ import annotations

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
NOT_AVAILABLE = "n/a"


def format_bytes(value: int | float | None) -> str:
    """Binary units, as GPU vendors size memory: 25769803776 -> "24.0 GiB"."""
    if value is None:
        return NOT_AVAILABLE
    size = float(value)
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(size) >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


def format_number(value: float | int | None, unit: str = "", digits: int = 0) -> str:
    """`format_number(83, " °C")` -> "83 °C"; None -> "n/a"."""
    if value is None:
        return NOT_AVAILABLE
    return f"{value:.{digits}f}{unit}"
