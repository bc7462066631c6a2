"""The host: CPU, memory, data disk and the engine process's own use; live charts of the CPU,
memory and tokens/s (what a machine without an NVIDIA GPU serves with); the GPU-less state,
said once and calmly when there simply is no NVIDIA card."""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from cocoon_desktop.hardware.snapshots import GpuAvailability, HealthTick
from cocoon_desktop.ui.charts import LiveChart, RangePicker
from cocoon_desktop.ui.dashboard.chart_feed import ChartFeed, History, Metric
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import Card, LiveLabel, StateLabel, key_value_row, muted
from cocoon_desktop.ui_logic.format import format_bytes

GiB = 1024**3


class NoGpuCard(Card):
    """Shown instead of GPU cards when there is no NVIDIA GPU to watch. No card at all is not a
    problem (the CPU serves): one calm line. A card the driver cannot reach is: what to do."""

    def __init__(self, availability: GpuAvailability, parent: QWidget | None = None) -> None:
        super().__init__("GPU", parent)
        self.summary = StateLabel()
        self.expected = availability.expected
        if availability.expected:
            self.summary.set_state(availability.summary)
        else:
            self.summary.set_state(f"GPU monitoring not available: {availability.summary}",
                                   "warn")
        self.body.addWidget(self.summary)
        if availability.fix and not availability.expected:
            self.body.addWidget(muted(availability.fix))


class HostCard(Card):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("This computer", parent)
        self.values: dict[str, QLabel] = {}
        for name in ("CPU", "Memory", "Disk free", "Engine process"):
            label = LiveLabel("—")  # new each second: repainted, the page not laid out again
            self.values[name] = label
            self.body.addWidget(key_value_row(name, label))

    def update_tick(self, tick: HealthTick) -> None:
        s = tick.system
        self.values["CPU"].setText(f"{s.cpu_percent:.0f} % of {s.cpu_count} cores")
        self.values["Memory"].setText(
            f"{format_bytes(s.memory_used_bytes)} of {format_bytes(s.memory_total_bytes)}")
        self.values["Disk free"].setText(format_bytes(s.disk_free_bytes))
        engine = tick.engine
        if engine is None or not engine.running:
            self.values["Engine process"].setText("not running")
        else:
            cpu = "n/a" if engine.cpu_percent is None else f"{engine.cpu_percent:.0f} % CPU"
            self.values["Engine process"].setText(f"{cpu} · {format_bytes(engine.rss_bytes)}")


class MachineCharts(Card):
    """CPU, memory and the engine's tokens/s, live: every machine gets charts, a GPU or not."""

    def __init__(self, history: History | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Live: CPU, memory, tokens/s", parent)
        self.cpu = LiveChart("CPU", "%", (0, 100), 0)
        self.memory = LiveChart("Memory used", "GiB", None, 2, digits=1)
        self._memory_total = 0
        self.tokens = LiveChart("Tokens/s", "tokens/s", None, 1, digits=1)
        self.range = RangePicker()
        self.header.addWidget(self.range)
        grid = QGridLayout()
        grid.setSpacing(Space.M)
        grid.addWidget(self.cpu, 0, 0)
        grid.addWidget(self.memory, 0, 1)
        grid.addWidget(self.tokens, 1, 0, 1, 2)
        self.body.addLayout(grid)
        self.feed = ChartFeed([Metric(self.cpu, "system.cpu_percent"),
                               Metric(self.memory, "system.memory_used_bytes", 1 / GiB),
                               Metric(self.tokens)], history)
        self.range.window_changed.connect(self.feed.set_window)
        self._tokens_per_s: float | None = None
        self.feed.seed()

    def showEvent(self, event: QShowEvent) -> None:
        self.feed.redraw(force=True)  # back in view: draw what was kept meanwhile
        super().showEvent(event)

    def set_tokens_per_s(self, value: float | None) -> None:
        """The engine's speed as of its last status (None: the engine is not running)."""
        self._tokens_per_s = value

    def update_tick(self, tick: HealthTick) -> None:
        s = tick.system
        if s.memory_total_bytes and s.memory_total_bytes != self._memory_total:
            self._memory_total = s.memory_total_bytes
            self.memory.set_y_range(0, s.memory_total_bytes / GiB)
        self.feed.add(tick.wall_time_s, {self.cpu: s.cpu_percent,
                                         self.memory: s.memory_used_bytes,
                                         self.tokens: self._tokens_per_s})
