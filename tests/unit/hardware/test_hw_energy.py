"""Energy per request (counter, power integral, sharing) and its cost at a tariff."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cocoon_desktop.hardware.energy import (
    EnergyMeter,
    EnergyReading,
    Tariff,
    energy_between,
    joules_to_kwh,
)


class ScriptedSource:
    """Readings the test sets one by one: a stand-in for the GPU monitor."""

    def __init__(self) -> None:
        self.now = 0.0
        self.energy_j: float | None = 0.0
        self.power_w: float | None = None

    def read(self) -> EnergyReading:
        return EnergyReading(self.now, self.energy_j, self.power_w)

    def run(self, seconds: float, watts: float) -> None:
        self.now += seconds
        self.power_w = watts
        if self.energy_j is not None:
            self.energy_j += watts * seconds


def test_one_request_gets_the_counter_difference() -> None:
    source = ScriptedSource()
    meter = EnergyMeter(source)
    meter.start("a")
    source.run(2.0, 300)
    assert meter.finish("a") == pytest.approx(600.0)


def test_overlapping_requests_share_each_interval() -> None:
    source = ScriptedSource()
    meter = EnergyMeter(source)
    meter.start("a")
    source.run(1.0, 100)  # a alone: 100 J
    meter.start("b")
    source.run(1.0, 300)  # a and b: 150 J each
    assert meter.finish("a") == pytest.approx(250.0)
    source.run(1.0, 200)  # b alone: 200 J
    assert meter.finish("b") == pytest.approx(350.0)
    assert meter.session_energy_j == pytest.approx(600.0)


def test_power_is_integrated_where_the_counter_is_missing() -> None:
    source = ScriptedSource()
    source.energy_j, source.power_w = None, 100.0
    meter = EnergyMeter(source)
    meter.start("a")
    source.run(1.0, 300)  # trapezoid: (100 + 300) / 2 * 1 s
    meter.sample()
    source.run(2.0, 300)
    assert meter.finish("a") == pytest.approx(200.0 + 600.0)


def test_a_counter_that_went_back_falls_back_to_power() -> None:
    earlier = EnergyReading(0.0, 5000.0, 200.0)
    later = EnergyReading(2.0, 10.0, 200.0)  # the driver reloaded
    assert energy_between(earlier, later) == pytest.approx(400.0)
    assert energy_between(later, earlier) == 0.0
    assert energy_between(EnergyReading(0, None, None), EnergyReading(1, None, None)) is None


def test_nothing_measurable_is_none_not_zero() -> None:
    source = ScriptedSource()
    source.energy_j = None
    meter = EnergyMeter(source)
    meter.start("a")
    source.now += 1
    assert meter.finish("a") is None
    assert meter.session_energy_j is None


def test_readings_from_ticks_are_used_and_stale_ones_ignored() -> None:
    source = ScriptedSource()
    meter = EnergyMeter(source)
    meter.start("a")  # reads at t=0, 0 J
    meter.observe(EnergyReading(1.0, 100.0, None))
    meter.observe(EnergyReading(0.5, 999.0, None))  # older than the last: ignored
    source.now, source.energy_j = 2.0, 150.0
    assert meter.finish("a") == pytest.approx(150.0)  # 100 J to the tick, 50 J after


def test_request_ids_are_checked() -> None:
    meter = EnergyMeter(ScriptedSource())
    with pytest.raises(ValueError, match="call start"):
        meter.finish("never-started")
    meter.start("a")
    with pytest.raises(ValueError, match="already being measured"):
        meter.start("a")
    meter.cancel("a")
    meter.cancel("unknown")
    with pytest.raises(ValueError):
        meter.finish("a")


def test_tariff_cost_is_exact() -> None:
    tariff = Tariff(Decimal("0.30"), "EUR")
    assert tariff.cost(3_600_000) == Decimal("0.30")
    assert tariff.cost(1800) == Decimal("0.00015")
    assert joules_to_kwh(7_200_000) == 2.0


def test_tariff_from_what_the_user_typed() -> None:
    assert Tariff.parse(" 0,25 ", "eur") == Tariff(Decimal("0.25"), "EUR")
    with pytest.raises(ValueError, match="is not a number"):
        Tariff.parse("cheap", "EUR")
    with pytest.raises(ValueError, match="zero or more"):
        Tariff.parse("-1", "EUR")
    with pytest.raises(ValueError, match="currency"):
        Tariff.parse("0.1", " ")
