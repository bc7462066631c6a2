"""TON amounts: integers of nanoTON everywhere, text only at the edges, one formatter, one parser.

Money is never a float. TON has 9 decimals, so one TON is 10**9 nanoTON; amounts are formatted
with integer arithmetic and parsed with `decimal`, so no value is ever rounded.

    format_ton(1_500_000_000)                        "1.50 TON"     (screens, logs, messages)
    format_ton(3_080)                                "0.00000308 TON" (small never reads as 0)
    format_ton(None)                                 "—"            (unknown, never zero)
    format_ton(1_500_000_000, exact=True, unit=False) "1.500000000" (CSV, machine-read files)
    parse_ton("1,234.50 TON")                        1_234_500_000_000 (typed or copied)
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

NANOTON_PER_TON = 1_000_000_000
TON_DECIMALS = 9
MIN_SHOWN_DECIMALS = 2
UNKNOWN = "—"


class InvalidAmount(ValueError):
    """A TON amount typed or read from a file could not be understood; the text says why."""


def format_ton(nanoton: int | None, *, unit: bool = True, exact: bool = False) -> str:
    """The one way a TON amount reads.

    Default: exact to the nanoTON, thousands grouped, trailing zeros dropped down to two
    decimals: 0 -> "0.00 TON", 1_234_567_891_000 -> "1,234.567891 TON". `exact=True` gives all
    nine decimals without grouping (files other programs read). None -> "—".
    """
    if nanoton is None:
        return UNKNOWN
    sign = "-" if nanoton < 0 else ""
    whole, fraction = divmod(abs(nanoton), NANOTON_PER_TON)
    if exact:
        text = f"{sign}{whole}.{fraction:09d}"
    else:
        decimals = f"{fraction:09d}".rstrip("0").ljust(MIN_SHOWN_DECIMALS, "0")
        text = f"{sign}{whole:,}.{decimals}"
    return f"{text} TON" if unit else text


def parse_ton(text: str) -> int:
    """What a person typed or copied, in nanoTON: "1.5", "0,25" (decimal comma), "1,234.50 TON"
    (as the screens show amounts), "1_000", ".5". Refuses signs, exponents, more than nine
    decimals and anything else with `InvalidAmount` saying what to type."""
    cleaned = text.strip().replace(" ", "").replace("_", "")
    if cleaned.upper().endswith("TON"):
        cleaned = cleaned[:-3]
    if cleaned.startswith(("-", "+")):
        raise InvalidAmount(f"{text!r}: type the amount without a sign, e.g. 1.5")
    # "1,234.50" groups thousands; "0,25" is a decimal comma.
    cleaned = cleaned.replace(",", "") if "." in cleaned else cleaned.replace(",", ".")
    whole, _, fraction = cleaned.partition(".")
    if not (whole + fraction).isdigit() or not (whole + fraction).isascii():
        raise InvalidAmount(f"{text!r} is not an amount of TON; type a number such as 1.5")
    if len(fraction) > TON_DECIMALS:
        raise InvalidAmount(f"{text!r} has more than 9 decimals; TON amounts stop at nanoTON: "
                            "round it to 9 decimals")
    try:
        return int(Decimal(f"{whole or 0}.{fraction or 0}") * NANOTON_PER_TON)
    except InvalidOperation:  # pragma: no cover - the digit check above rules it out
        raise InvalidAmount(f"{text!r} is not an amount of TON") from None


def ton_to_nanoton(ton: float | str | Decimal) -> int:
    """A price or setting given in TON (e.g. 2.5 from a settings file) in nanoTON, exactly as
    written in decimal (never through binary floating point)."""
    return int(Decimal(str(ton)) * NANOTON_PER_TON)
