"""Counters as upstream's worker keeps them (runners/helpers/AmortCounter.h, WorkerStats.h).

Each counter holds a total and six exponentially decaying rates (per second) over 1 s, 10 s,
1 min, 10 min, 1 h and 1 day, reported as `[total, 1s, 10s, 1m, 10m, 1h, 1d]`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PERIODS_S = (1.0, 10.0, 60.0, 600.0, 3600.0, 86400.0)


class AmortCounter:
    """A value that decays with time constant `period_s`; reads as a rate per second."""

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._value = 0.0
        self._clock = clock
        self._ts = clock()
        self._inv_period = 1.0 / period_s

    def _relax(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._value *= math.exp(-(now - self._ts) * self._inv_period)
        self._ts = now

    def add(self, amount: float, now: float | None = None) -> None:
        """Add `amount`; `now` saves a clock reading where the caller has one."""
        self._relax(now)
        self._value += amount

    def rate(self) -> float:
        self._relax()
        return self._value * self._inv_period


class AmortCounterList:
    """A total plus the six decaying rates."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = 0.0
        self._clock = clock
        self._windows = [AmortCounter(p, clock) for p in PERIODS_S]

    def add(self, amount: float = 1.0) -> None:
        self.total += amount
        now = self._clock()  # one reading for the six windows (this runs per answer part)
        for window in self._windows:
            window.add(amount, now)

    def as_list(self) -> list[float]:
        return [self.total, *(w.rate() for w in self._windows)]


STAT_NAMES = ("queries", "success", "failed", "bytes_received", "bytes_sent", "time",
              "total_adjusted_tokens_used", "prompt_adjusted_tokens_used",
              "cached_adjusted_tokens_used", "completion_adjusted_tokens_used",
              "reasoning_adjusted_tokens_used")


@dataclass
class WorkerStats:
    """Upstream's worker counters, by their /jsonstats names."""

    clock: Callable[[], float] = time.monotonic
    counters: dict[str, AmortCounterList] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counters = {name: AmortCounterList(self.clock) for name in STAT_NAMES}

    def add(self, name: str, amount: float = 1.0) -> None:
        self.counters[name].add(amount)

    def total(self, name: str) -> float:
        return self.counters[name].total

    def as_json(self) -> dict[str, list[float]]:
        return {name: counter.as_list() for name, counter in self.counters.items()}
