"""How figures read on screen: sizes, durations, ages (TON amounts: `protocol.money`)."""

from __future__ import annotations


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


_QUANT_PREFIXES = ("Q", "IQ", "F16", "BF16", "F32", "MXFP")


def model_display_name(cocoon_name: str) -> str:
    """A model name people read: "HuggingFaceTB/SmolLM2-135M-Instruct.Q4_1@local:b179c9…"
    reads "SmolLM2-135M-Instruct · Q4_1" (the organisation, the commit and the hash are for
    machines: they stay in the tooltip)."""
    base = cocoon_name.split("@", 1)[0].strip()
    name = base.rsplit("/", 1)[-1] or base
    stem, dot, quant = name.rpartition(".")
    if dot and stem and quant.upper().startswith(_QUANT_PREFIXES):
        return f"{stem} · {quant}"
    return name
