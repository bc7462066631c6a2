"""How figures read on screen: TON amounts, sizes, durations, ages."""

from __future__ import annotations

NANOTON_PER_TON = 1_000_000_000
MIN_TON_DECIMALS = 2


def format_ton(nanoton: int | None, *, unit: bool = True) -> str:
    """The one way a TON amount reads, on every screen and in the tray.

    Exact to the nanoTON (integer arithmetic: never rounded, so a small amount never reads as
    zero and a large one never loses its last digits), thousands grouped, trailing zeros
    dropped down to two decimals: 0 -> "0.00 TON", 1_500_000_000 -> "1.50 TON",
    3_080 -> "0.00000308 TON", 1_234_567_891_000 -> "1,234.567891 TON"; None -> "—" (unknown,
    never shown as zero).
    """
    if nanoton is None:
        return "—"
    sign = "-" if nanoton < 0 else ""
    whole, fraction = divmod(abs(nanoton), NANOTON_PER_TON)
    decimals = f"{fraction:09d}".rstrip("0").ljust(MIN_TON_DECIMALS, "0")
    text = f"{sign}{whole:,}.{decimals}"
    return f"{text} TON" if unit else text


def parse_ton(text: str) -> int:
    """"1.5" -> 1_500_000_000 nanoTON; ValueError with a clear reason otherwise."""
    cleaned = text.strip().replace(" ", "")
    # "1,234.50" (as amounts are shown) groups thousands; "0,25" is a decimal comma.
    cleaned = cleaned.replace(",", "") if "." in cleaned else cleaned.replace(",", ".")
    if cleaned.upper().endswith("TON"):
        cleaned = cleaned[:-3]
    whole, _, fraction = cleaned.partition(".")
    if not cleaned or not (whole or fraction) or not (whole + fraction).isdigit():
        raise ValueError("Enter an amount in TON, such as 1.5")
    if len(fraction) > 9:
        raise ValueError("TON amounts have at most 9 decimal places")
    return int(whole or "0") * NANOTON_PER_TON + int(fraction.ljust(9, "0") or "0")


def format_bytes(count: float | None) -> str:
    if count is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float | None) -> str:
    """Short human durations: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def format_age(seconds: float | None) -> str:
    """"just now", "5 min ago"..."""
    if seconds is None:
        return "never"
    if seconds < 5:
        return "just now"
    return f"{format_duration(seconds)} ago"
