"""Charts readable at a glance, on pyqtgraph: axes with values, the value under the pointer, and
a time range to pick (`RangePicker`).

`LiveChart` shows one metric against "seconds ago" (the x axis is fixed at −window…now, so a
tick moves the line, not the axis: nothing is laid out again each second). `BarChart` shows
TON per hour or per day. Both follow the theme (`retheme`). pyqtgraph draws on Qt's graphics
view; a chart repaints only when new data arrives, which keeps the idle app light.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cocoon_desktop.ui.theme import Space, Type, current_colors

pg.setConfigOptions(antialias=True, background=None, foreground="#808080")
WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "1 h": 3600.0, "24 h": 86400.0}
TIME_STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
CHART_HEIGHT = 150
BAR_CHART_HEIGHT = 170


def ago_text(seconds: float) -> str:
    """An x-axis label: "now", "−30 s", "−5 min", "−2 h"."""
    seconds = abs(seconds)
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"−{seconds:.0f} s"
    if seconds < 7200:
        return f"−{seconds / 60:.0f} min"
    return f"−{seconds / 3600:.0f} h"


class AgoAxis(pg.AxisItem):
    """Time as "−5 min … now", ticks on round steps."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # pyqtgraph's names
        span = maxVal - minVal
        step = next((s for s in TIME_STEPS_S if span / s <= 6), TIME_STEPS_S[-1])
        first = math.ceil(minVal / step) * step
        ticks = [first + i * step for i in range(int((maxVal - first) // step) + 1)]
        return [(step, ticks)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [ago_text(v) for v in values]


class ValueAxis(pg.AxisItem):
    """Values with as many digits as the tick spacing needs ("64", "0.25", "0.000004")."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("left", **kwargs)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        digits = 0 if spacing >= 1 else min(9, math.ceil(-math.log10(spacing)))
        return [f"{v:.{digits}f}" for v in values]


def _style_plot(plot: pg.PlotWidget) -> None:
    colors = current_colors()
    plot.setBackground(QColor(colors.base))
    small = QFont()
    small.setPixelSize(Type.CAPTION - 1)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(colors.border))
        axis.setTextPen(pg.mkPen(colors.muted))
        axis.setStyle(tickFont=small, tickLength=-4)


class _HoverPlot(QWidget):
    """A plot with a header (title and the latest value) and a readout of the point under the
    pointer (a vertical line and a label)."""

    def __init__(self, title: str, axis_items: dict[str, pg.AxisItem],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.header = QLabel(title)
        self.header.setObjectName("muted")
        self.readout = QLabel("")
        self.readout.setObjectName("caption")
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.plot = pg.PlotWidget(axisItems=axis_items)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setFixedHeight(CHART_HEIGHT)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.cursor.hide()
        self.plot.addItem(self.cursor, ignoreBounds=True)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.readout)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(Space.XS)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.retheme()

    def retheme(self) -> None:
        _style_plot(self.plot)
        self.cursor.setPen(pg.mkPen(current_colors().muted, style=Qt.PenStyle.DotLine))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed
            self.retheme()
        super().changeEvent(event)

    def _on_mouse_moved(self, position: QPointF) -> None:
        box = self.plot.getPlotItem().vb
        if not box.sceneBoundingRect().contains(position):
            self.hover_at(None)
            return
        self.hover_at(box.mapSceneToView(position).x())

    def leaveEvent(self, event: object) -> None:
        self.hover_at(None)
        super().leaveEvent(event)  # type: ignore[arg-type]

    def hover_at(self, x: float | None) -> str:
        """Show the point nearest to `x` (None: nothing under the pointer); return the text."""
        text = "" if x is None else self.describe(x)
        self.cursor.setVisible(bool(text))
        if text and x is not None:
            self.cursor.setValue(self.snap(x))
        self.readout.setText(text)
        return text

    def describe(self, x: float) -> str:
        raise NotImplementedError

    def snap(self, x: float) -> float:
        return x


class LiveChart(_HoverPlot):
    """One metric over time; NaN points leave a gap; `limit` draws a dashed line (e.g. the
    pause temperature)."""

    def __init__(self, title: str, unit: str, y_range: tuple[float, float] | None = None,
                 color_index: int = 0, digits: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(title, {"bottom": AgoAxis("bottom"), "left": ValueAxis()}, parent)
        self.unit = unit
        self.digits = digits
        self.color_index = color_index
        self.fixed_range = y_range
        self._auto_high = 0.0
        self.window_s = WINDOWS_S["5 min"]
        self._now = time.time()
        self._times: list[float] = []
        self._values: list[float] = []
        self.curve = self.plot.plot([], [], connect="finite")
        self.limit_line = pg.InfiniteLine(angle=0, movable=False)
        self.limit_line.hide()
        self.plot.addItem(self.limit_line)
        self.plot.setYRange(*(y_range or (0, 1)), padding=0.02)
        self.plot.setXRange(-self.window_s, 0, padding=0)
        self.retheme()

    def retheme(self) -> None:
        super().retheme()
        colors = current_colors()
        if hasattr(self, "curve"):
            color = colors.series[self.color_index % len(colors.series)]
            self.curve.setPen(pg.mkPen(color, width=1.6))
            self.limit_line.setPen(pg.mkPen(colors.warn, style=Qt.PenStyle.DashLine))

    def value_text(self, value: float | None) -> str:
        return "n/a" if value is None or math.isnan(value) else \
            f"{value:.{self.digits}f} {self.unit}"

    def set_y_range(self, low: float, high: float) -> None:
        self.fixed_range = (low, high)
        self.plot.setYRange(low, high, padding=0.02)

    def set_window(self, window_s: float) -> None:
        self.window_s = window_s
        self.plot.setXRange(-window_s, 0, padding=0)

    def set_points(self, times_s: Sequence[float], values: Sequence[float],
                   limit: float | None = None, now: float | None = None) -> None:
        """Replace the points (wall-clock seconds, oldest first)."""
        self._now = now if now is not None else time.time()
        self._times, self._values = list(times_s), list(values)
        self.curve.setData([t - self._now for t in self._times], self._values,
                           connect="finite")
        self.limit_line.setVisible(limit is not None)
        if limit is not None:
            self.limit_line.setValue(limit)
        if self.fixed_range is None:  # from zero, so a steady 318 W reads as steady
            known = [v for v in self._values if not math.isnan(v)]
            high = max(known, default=1.0) * 1.15 or 1.0
            if high != self._auto_high:  # an unchanged range lays nothing out again
                self._auto_high = high
                self.plot.setYRange(0, high, padding=0)
        latest = next((v for v in reversed(self._values) if not math.isnan(v)), None)
        self.header.setText(f"{self.title} · {self.value_text(latest)}")

    @property
    def values(self) -> list[float]:
        return list(self._values)

    def _nearest(self, x: float) -> int | None:
        if not self._times:
            return None
        target = self._now + x
        return min(range(len(self._times)), key=lambda i: abs(self._times[i] - target))

    def snap(self, x: float) -> float:
        i = self._nearest(x)
        return x if i is None else self._times[i] - self._now

    def describe(self, x: float) -> str:
        i = self._nearest(x)
        if i is None or abs(self._times[i] - (self._now + x)) > max(self.window_s / 50, 2.0):
            return ""
        stamp = time.strftime("%H:%M:%S", time.localtime(self._times[i]))
        return f"{stamp} · {self.value_text(self._values[i])}"


class BarChart(_HoverPlot):
    """Bars with labels (e.g. TON per day); the value axis in the bars' unit."""

    def __init__(self, unit: str = "TON", describe_value: Callable[[float], str] | None = None,
                 parent: QWidget | None = None) -> None:
        self.unit = unit
        self._format = describe_value or (lambda v: f"{v:g} {unit}")
        self._labels: list[str] = []
        self._heights: list[float] = []
        self.axis = pg.AxisItem("bottom")
        super().__init__(f"{unit} earned", {"bottom": self.axis, "left": ValueAxis()}, parent)
        self.plot.setFixedHeight(BAR_CHART_HEIGHT)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.addItem(self.bars)
        self.empty = pg.TextItem("Nothing earned in this period yet", anchor=(0.5, 0.5))
        self.plot.addItem(self.empty)
        self.retheme()

    def retheme(self) -> None:
        super().retheme()
        if hasattr(self, "bars"):
            colors = current_colors()
            self.bars.setOpts(brush=pg.mkBrush(colors.good), pen=pg.mkPen(None))
            self.empty.setColor(QColor(colors.muted))

    def set_bars(self, labels: Sequence[str], heights: Sequence[float]) -> None:
        self._labels, self._heights = list(labels), list(heights)
        n = len(self._heights)
        self.bars.setOpts(x=list(range(n)), height=self._heights, width=0.7)
        step = max(1, math.ceil(n / 8))
        self.axis.setTicks([[(i, self._labels[i]) for i in range(0, n, step)], []])
        high = max(self._heights, default=0.0)
        self.plot.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        self.plot.setYRange(0, high * 1.15 if high > 0 else 1.0, padding=0)
        self.empty.setVisible(high <= 0)
        self.empty.setPos(max(n, 1) / 2 - 0.5, 0.5)

    @property
    def totals(self) -> list[float]:
        return list(self._heights)

    def snap(self, x: float) -> float:
        return float(round(x))

    def describe(self, x: float) -> str:
        i = round(x)
        if not 0 <= i < len(self._heights):
            return ""
        return f"{self._labels[i]}: {self._format(self._heights[i])}"


class RangePicker(QWidget):
    """Buttons that pick a chart's time range ("5 min", "1 h", "24 h")."""

    window_changed = Signal(float)  # seconds

    def __init__(self, choices: dict[str, float] | None = None, selected: str = "5 min",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = choices or WINDOWS_S
        self.buttons: dict[str, QPushButton] = {}
        group = QButtonGroup(self)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(Space.XS)
        for label in self.choices:
            button = QPushButton(label)
            button.setObjectName("range")
            button.setCheckable(True)
            group.addButton(button)
            button.clicked.connect(lambda _=False, chosen=label: self.pick(chosen))
            row.addWidget(button)
            self.buttons[label] = button
        self.buttons[selected].setChecked(True)
        self.selected = selected

    def pick(self, label: str) -> None:
        self.selected = label
        self.buttons[label].setChecked(True)
        self.window_changed.emit(self.choices[label])

    @property
    def window_s(self) -> float:
        return self.choices[self.selected]
