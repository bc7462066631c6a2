"""The host: CPU, memory, data disk and the engine process's own use; the GPU-less state."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from cocoon_desktop.hardware.snapshots import GpuAvailability, HealthTick
from cocoon_desktop.ui.widgets import Card, StateLabel, key_value_row, muted
from cocoon_desktop.ui_logic.format import format_bytes


class NoGpuCard(Card):
    """Shown instead of GPU cards when monitoring is unavailable: says why and what to do."""

    def __init__(self, availability: GpuAvailability, parent: QWidget | None = None) -> None:
        super().__init__("GPU", parent)
        self.summary = StateLabel()
        self.summary.set_state(f"GPU monitoring not available: {availability.summary}", "warn")
        self.body.addWidget(self.summary)
        if availability.fix:
            self.body.addWidget(muted(availability.fix))


class HostCard(Card):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("This computer", parent)
        self.values: dict[str, QLabel] = {}
        for name in ("CPU", "Memory", "Disk free", "Engine process"):
            label = QLabel("—")
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
