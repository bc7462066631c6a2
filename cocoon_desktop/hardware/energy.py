"""Energy per request, and what it costs at the user's electricity tariff.

    meter = EnergyMeter(MonitorEnergySource(gpu_monitor))
    meter.start(request_id)          # when the engine starts the request
    joules = meter.finish(request_id)  # when it ends: float, or None if the GPU cannot tell
    Tariff(Decimal("0.30"), "EUR").cost(joules)

Energy comes from the GPU's own energy counter (Volta and newer) or, where that is missing,
from power readings integrated over time (trapezoids between readings). Requests that run at the
same time share the energy of each interval equally: with continuous batching they share the
GPU. Call `sample()` on every monitor tick too: it shortens the intervals (a better power
integral) and counts the energy drawn while idle (`session_energy_j`), which is part of what
serving costs.

Only the GPU is measured: the CPU and the rest of the machine are not (they have no portable
counter). GPU energy is the large part while serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

from cocoon_desktop.hardware.gpu.monitor import GpuMonitor

JOULES_PER_KWH = Decimal(3_600_000)


@dataclass(frozen=True)
class EnergyReading:
    monotonic_s: float
    energy_j: float | None  # a counter: only differences matter
    power_w: float | None


class EnergySource(Protocol):
    def read(self) -> EnergyReading: ...


class MonitorEnergySource:
    """Reads the GPUs' energy counters and power (summed over GPUs) through the monitor."""

    def __init__(self, monitor: GpuMonitor, clock: Callable[[], float] = time.monotonic) -> None:
        self._monitor = monitor
        self._clock = clock

    def read(self) -> EnergyReading:
        energy_j, power_w = self._monitor.read_energy()
        return EnergyReading(self._clock(), energy_j, power_w)


def energy_between(earlier: EnergyReading, later: EnergyReading) -> float | None:
    """Joules drawn between two readings; None when neither counter nor power is known."""
    seconds = later.monotonic_s - earlier.monotonic_s
    if seconds <= 0:
        return 0.0
    before, after = earlier.energy_j, later.energy_j
    # A counter that went back (the driver reloaded) is not used: power readings are.
    if before is not None and after is not None and after >= before:
        return after - before
    powers = [p for p in (earlier.power_w, later.power_w) if p is not None]
    if not powers:
        return None
    return sum(powers) / len(powers) * seconds


class _Request:
    __slots__ = ("joules", "measured")

    def __init__(self) -> None:
        self.joules = 0.0
        self.measured = False


class EnergyMeter:
    """Attributes measured GPU energy to the requests running. Thread-safe."""

    def __init__(self, source: EnergySource) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._last: EnergyReading | None = None
        self._active: dict[str, _Request] = {}
        self._session_j = 0.0
        self._measured_any = False

    @property
    def session_energy_j(self) -> float | None:
        """All GPU energy seen since the meter started (idle included); None if unmeasurable."""
        with self._lock:
            return self._session_j if self._measured_any else None

    def start(self, request_id: str) -> None:
        with self._lock:
            if request_id in self._active:
                raise ValueError(f"Energy for request {request_id!r} is already being measured.")
            self._advance()
            self._active[request_id] = _Request()

    def finish(self, request_id: str) -> float | None:
        """The joules attributed to the request, or None when the GPU reports no energy."""
        with self._lock:
            if request_id not in self._active:
                raise ValueError(
                    f"No energy measurement was started for request {request_id!r}: call "
                    "start() when the request begins."
                )
            self._advance()
            request = self._active.pop(request_id)
        return request.joules if request.measured else None

    def cancel(self, request_id: str) -> None:
        """Forget a request without a result (it never ran); unknown ids are ignored."""
        with self._lock:
            self._advance()
            self._active.pop(request_id, None)

    def sample(self) -> None:
        """Take a reading now (or feed ticks to `observe` instead, saving the NVML calls)."""
        with self._lock:
            self._advance()

    def observe(self, reading: EnergyReading) -> None:
        """Use a reading taken elsewhere (a monitor tick); one older than the last is ignored."""
        with self._lock:
            self._advance(reading)

    def _advance(self, reading: EnergyReading | None = None) -> None:
        reading = reading or self._source.read()
        earlier = self._last
        if earlier is not None and reading.monotonic_s <= earlier.monotonic_s:
            return
        self._last = reading
        if earlier is None:
            return
        joules = energy_between(earlier, reading)
        if joules is None:
            return
        self._session_j += joules
        self._measured_any = True
        if self._active:
            share = joules / len(self._active)
            for request in self._active.values():
                request.joules += share
                request.measured = True


@dataclass(frozen=True)
class Tariff:
    """An electricity price: `price_per_kwh` in `currency` (e.g. Decimal("0.30"), "EUR")."""

    price_per_kwh: Decimal
    currency: str

    def __post_init__(self) -> None:
        price = self.price_per_kwh
        if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
            raise ValueError("The electricity price must be a number of zero or more, per kWh.")
        if not self.currency.strip():
            raise ValueError("Name the electricity price's currency, e.g. EUR or USD.")

    @classmethod
    def parse(cls, price_per_kwh: str, currency: str) -> Tariff:
        """From what the user typed ("0,30" works as well as "0.30")."""
        try:
            price = Decimal(price_per_kwh.strip().replace(",", "."))
        except InvalidOperation:
            raise ValueError(
                f"The electricity price {price_per_kwh!r} is not a number: enter it like 0.30 "
                "(per kWh)."
            ) from None
        return cls(price, currency.strip().upper())

    def cost(self, joules: float) -> Decimal:
        """What `joules` cost, in `currency` (unrounded: round for display only)."""
        return Decimal(repr(float(joules))) / JOULES_PER_KWH * self.price_per_kwh


def joules_to_kwh(joules: float) -> float:
    return joules / 3_600_000
