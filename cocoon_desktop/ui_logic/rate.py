"""The number people come for: what serving earns now, at the last hour's pace.

NiceHash and Salad lead with one figure: the current rate. Here it is the TON earned in the
last 60 minutes (so it is per hour as it stands), and the same pace over a day; net of
electricity when the tariff, the TON price and the GPU's energy are all known (never a guess).
"""

from __future__ import annotations

from dataclasses import dataclass

from cocoon_desktop.earnings.figures import EarningsSummary
from cocoon_desktop.earnings.labels import known_net_nanoton
from cocoon_desktop.protocol.money import format_ton

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class EarningRate:
    per_hour_nanoton: int  # earned in the last 60 minutes
    net_per_hour_nanoton: int | None  # minus electricity; None when it cannot be known
    requests_last_hour: int

    @property
    def per_day_nanoton(self) -> int:
        return self.per_hour_nanoton * HOURS_PER_DAY

    @classmethod
    def of(cls, summary: EarningsSummary) -> EarningRate:
        hour = summary.last_hour
        return cls(hour.earned_nanoton, known_net_nanoton(hour), hour.requests)


def per_hour_text(nanoton: int | None) -> str:
    """"0.0000123 TON/hour"; "—" when unknown."""
    return "—" if nanoton is None else f"{format_ton(nanoton)}/hour"


def rate_detail(rate: EarningRate | None) -> str:
    """The line under the rate: the day at this pace, and the net when it is known."""
    if rate is None:
        return "not read yet"
    if not rate.requests_last_hour:
        return "nothing served in the last hour"
    parts = [f"{format_ton(rate.per_day_nanoton)}/day at this pace",
             f"{rate.requests_last_hour} jobs in the last hour"]
    if rate.net_per_hour_nanoton is not None:
        parts.append(f"{per_hour_text(rate.net_per_hour_nanoton)} after electricity")
    return " · ".join(parts)


def tray_rate_line(rate: EarningRate | None) -> str:
    if rate is None:
        return "Earning now: —"
    net = ("" if rate.net_per_hour_nanoton is None
           else f", {per_hour_text(rate.net_per_hour_nanoton)} after electricity")
    return (f"Earning now: {per_hour_text(rate.per_hour_nanoton)} "
            f"({format_ton(rate.per_day_nanoton)}/day{net})")
