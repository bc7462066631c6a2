"""One GPU: live figures, four charts (temperature, load, VRAM, power) with a time range to
pick, and slowdowns in words.

The charts are fed by a `ChartFeed`: each tick's values for the last minutes, the metric
history for an hour or a day.
"""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from cocoon_desktop.hardware.snapshots import GpuSample, GpuStatic
from cocoon_desktop.ui.charts import LiveChart, RangePicker
from cocoon_desktop.ui.dashboard.chart_feed import ChartFeed, History, Metric
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import Card, StateLabel, key_value_row
from cocoon_desktop.ui_logic.format import format_bytes

GiB = 1024**3


def _text(value: float | None, unit: str, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}"


class GpuCard(Card):
    def __init__(self, static: GpuStatic, pause_temperature_c: int,
                 history: History | None = None, parent: QWidget | None = None) -> None:
        super().__init__(f"GPU {static.index} · {static.name}", parent)
        self.static = static
        total = static.memory_total_bytes
        self.temperature = LiveChart("Temperature", "°C", (20, 100), 3)
        self.load = LiveChart("GPU load", "%", (0, 100), 0)
        self.vram = LiveChart("VRAM used", "GiB", (0, total / GiB) if total else None, 2,
                              digits=1)
        self.power = LiveChart("Power", "W", None, 1)
        self.range = RangePicker()
        self.header.addWidget(self.range)
        charts = QGridLayout()
        charts.setSpacing(Space.M)
        for i, chart in enumerate((self.temperature, self.load, self.vram, self.power)):
            charts.addWidget(chart, i // 2, i % 2)
        self.body.addLayout(charts)
        self.values: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(Space.XL)
        names = ("VRAM", "Power", "Clocks", "Fan", "Performance state", "PCIe", "ECC errors",
                 "Driver")
        for i, name in enumerate(names):
            label = QLabel("—")
            self.values[name] = label
            grid.addWidget(key_value_row(name, label), i // 2, i % 2)
        self.body.addLayout(grid)
        self.slowdown = StateLabel()
        self.body.addWidget(self.slowdown)
        prefix = f"gpu{static.index}."
        self.feed = ChartFeed([
            Metric(self.temperature, prefix + "temperature_c", limit=pause_temperature_c),
            Metric(self.load, prefix + "utilization_gpu_percent"),
            Metric(self.vram, prefix + "memory_used_bytes", 1 / GiB),
            Metric(self.power, prefix + "power_w"),
        ], history)
        self.range.window_changed.connect(self.feed.set_window)
        driver = static.driver_version or "n/a"
        cuda = f" · CUDA {static.cuda_driver_version}" if static.cuda_driver_version else ""
        self.values["Driver"].setText(driver + cuda)
        self.feed.seed()

    def showEvent(self, event: QShowEvent) -> None:
        self.feed.redraw(force=True)  # back in view: draw what was kept meanwhile
        super().showEvent(event)

    def update_sample(self, sample: GpuSample, wall_time_s: float) -> None:
        if sample.lost:
            self.slowdown.set_state("This GPU stopped answering (it fell off the bus). Save "
                                    "your work and restart the computer.", "bad")
            return
        used = sample.memory_used_bytes
        self.feed.add(wall_time_s, {
            self.temperature: sample.temperature_c, self.load: sample.utilization_gpu_percent,
            self.vram: used, self.power: sample.power_w})
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
