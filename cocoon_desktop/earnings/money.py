"""Exact TON amounts: integers of nanoTON everywhere, text only at the edges.

Money is never a float in this package. TON has 9 decimals, so one TON is 10**9 nanoTON; amounts
are parsed with `decimal` and formatted with integer arithmetic, so no value is ever rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

NANOTON_PER_TON = 1_000_000_000
TON_DECIMALS = 9


class InvalidAmount(ValueError):
    """A TON amount typed or read from a file could not be understood."""


def format_ton(nanoton: int, *, decimals: int = TON_DECIMALS, thousands: bool = False) -> str:
    """`1234500000` -> `"1.234500000"`: exact, with `decimals` places (truncated, never rounded up).

    `decimals` below 9 is for compact display only (the tray); exports always use all 9.
    """
    if not 0 <= decimals <= TON_DECIMALS:
        raise ValueError(f"decimals must be 0..{TON_DECIMALS}, not {decimals}")
    sign = "-" if nanoton < 0 else ""
    whole, frac = divmod(abs(nanoton), NANOTON_PER_TON)
    whole_text = f"{whole:,}" if thousands else str(whole)
    if decimals == 0:
        return f"{sign}{whole_text}"
    frac_text = f"{frac:09d}"[:decimals]
    return f"{sign}{whole_text}.{frac_text}"


def format_ton_short(nanoton: int) -> str:
    """A human figure for labels: `12.35 TON`, `0.0042 TON`, trailing zeros trimmed, never `0` for
    a non-zero amount (small amounts keep enough digits to show they exist)."""
    if nanoton == 0:
        return "0 TON"
    for decimals in (2, 4, 6, 9):
        text = format_ton(nanoton, decimals=decimals, thousands=True)
        if text.strip("-0.,") != "":
            break
    return f"{text.rstrip('0').rstrip('.')} TON"


def parse_ton(text: str) -> int:
    """`"1.5"` -> `1500000000`. Rejects more than 9 decimals, signs, exponents and garbage."""
    cleaned = text.strip().replace("_", "").replace(" ", "")
    if cleaned.upper().endswith("TON"):
        cleaned = cleaned[:-3].strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidAmount(
            f"{text!r} is not an amount of TON; type a number such as 1.5"
        ) from None
    if not value.is_finite() or "e" in cleaned.lower():
        raise InvalidAmount(f"{text!r} is not an amount of TON; type a number such as 1.5")
    if value < 0 or cleaned.startswith(("-", "+")):
        raise InvalidAmount(f"{text!r}: type the amount without a sign, e.g. 1.5")
    nano = value * NANOTON_PER_TON
    if nano != nano.to_integral_value():
        raise InvalidAmount(f"{text!r} has more than 9 decimals; TON amounts stop at nanoTON: "
                            "round it to 9 decimals")
    return int(nano)
