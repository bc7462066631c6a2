"""One GPU: live figures, four charts (temperature, load, VRAM, power) and slowdowns in words.

Chart points are kept here (a few hundred floats per chart, appended once a tick) rather than
re-read from the history each second: the dashboard costs next to nothing while idle.
"""

from __future__ import annotations

import math
from collections import deque

from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from cocoon_desktop.hardware.history import Series
from cocoon_desktop.hardware.snapshots import GpuSample, GpuStatic
from cocoon_desktop.ui.charts import LineChart
from cocoon_desktop.ui.widgets import Card, StateLabel, key_value_row
from cocoon_desktop.ui_logic.format import format_bytes

CHART_POINTS = 300  # five minutes at 1 Hz
GiB = 1024**3


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _text(value: float | None, unit: str, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}"


class GpuCard(Card):
    def __init__(self, static: GpuStatic, pause_temperature_c: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(f"GPU {static.index} · {static.name}", parent)
        self.static = static
        self.pause_temperature_c = pause_temperature_c
        total = static.memory_total_bytes
        self.temperature = LineChart("Temperature", "°C", (20, 100), 3)
        self.load = LineChart("GPU load", "%", (0, 100), 0)
        self.vram = LineChart("VRAM used", "GiB",
                              (0, total / GiB) if total else None, 2)
        self.power = LineChart("Power", "W", None, 1)
        charts = QGridLayout()
        for i, chart in enumerate((self.temperature, self.load, self.vram, self.power)):
            charts.addWidget(chart, i // 2, i % 2)
        self.body.addLayout(charts)
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        names = ("VRAM", "Power", "Clocks", "Fan", "Performance state", "PCIe", "ECC errors",
                 "Driver")
        for i, name in enumerate(names):
            label = QLabel("—")
            self.values[name] = label
            grid.addWidget(key_value_row(name, label), i // 2, i % 2)
        self.body.addLayout(grid)
        self.slowdown = StateLabel()
        self.body.addWidget(self.slowdown)
        self._points: dict[LineChart, deque[float]] = {
            chart: deque(maxlen=CHART_POINTS)
            for chart in (self.temperature, self.load, self.vram, self.power)
        }
        driver = static.driver_version or "n/a"
        cuda = f" · CUDA {static.cuda_driver_version}" if static.cuda_driver_version else ""
        self.values["Driver"].setText(driver + cuda)

    def seed(self, temperature: Series | None, load: Series | None, vram: Series | None,
             power: Series | None) -> None:
        """Fill the charts from the history (when the card is created mid-session)."""
        for chart, series, scale in ((self.temperature, temperature, 1), (self.load, load, 1),
                                     (self.vram, vram, 1 / GiB), (self.power, power, 1)):
            if series is not None:
                self._points[chart].extend(v * scale for v in series.means)
        self._redraw()

    def update_sample(self, sample: GpuSample) -> None:
        if sample.lost:
            self.slowdown.set_state("This GPU stopped answering (it fell off the bus). Save "
                                    "your work and restart the computer.", "bad")
            return
        used = sample.memory_used_bytes
        for chart, value in ((self.temperature, _num(sample.temperature_c)),
                             (self.load, _num(sample.utilization_gpu_percent)),
                             (self.vram, _num(used / GiB if used is not None else None)),
                             (self.power, _num(sample.power_w))):
            self._points[chart].append(value)
        self._redraw()
        total = sample.memory_total_bytes or self.static.memory_total_bytes
        self.values["VRAM"].setText(f"{format_bytes(used)} of {format_bytes(total)}")
        limit = _text(sample.power_limit_w, "W")
        self.values["Power"].setText(f"{_text(sample.power_w, 'W')} of {limit}")
        self.values["Clocks"].setText(f"{_text(sample.sm_clock_mhz, 'MHz')} core · "
                                      f"{_text(sample.memory_clock_mhz, 'MHz')} memory")
        self.values["Fan"].setText(_text(sample.fan_speed_percent, "%"))
        pstate = sample.performance_state
        self.values["Performance state"].setText("n/a" if pstate is None else f"P{pstate}")
        pcie = ("n/a" if sample.pcie_generation is None
                else f"Gen {sample.pcie_generation} x{sample.pcie_width}")
        self.values["PCIe"].setText(pcie)
        ecc = ("not supported" if sample.ecc_corrected_errors is None
               else f"{sample.ecc_corrected_errors} corrected · "
                    f"{sample.ecc_uncorrected_errors} uncorrected")
        self.values["ECC errors"].setText(ecc)
        self._show_slowdown(sample)

    def _show_slowdown(self, sample: GpuSample) -> None:
        words = sample.clocks_event_words
        protective = bool(sample.slowdown_reasons)
        if protective:
            self.slowdown.set_state("Slowing itself down: " + ", ".join(words), "warn")
        elif words:
            self.slowdown.set_state("Clocks: " + ", ".join(words))
        else:
            self.slowdown.set_state("Running at full clocks" if sample.clocks_event_reasons
                                    is not None else "Clock limits: n/a")

    def _redraw(self) -> None:
        for chart, points in self._points.items():
            limit = self.pause_temperature_c if chart is self.temperature else None
            chart.set_values(list(points), limit)
