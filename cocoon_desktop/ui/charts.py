"""Charts readable at a glance, on pyqtgraph: axes with values, the value under the pointer, and
a time range to pick (`RangePicker`).

`LiveChart` shows one metric against "seconds ago" (the x axis is fixed at −window…now, so a
tick moves the line, not the axis: nothing is laid out again each second). `BarChart` shows
TON per hour or per day. Both follow the theme (`retheme`). pyqtgraph draws on Qt's graphics
view; a chart repaints only when new data arrives, which keeps the idle app light.

A chart keeps its values from the start but builds its pyqtgraph plot (`chart_plots`) only when
it is first shown, just after its first paint, or when `plot` is asked for: the first window shows
without waiting for pyqtgraph and numpy to import, and a chart never shown costs nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cocoon_desktop.ui.theme import Space, current_colors
from cocoon_desktop.ui.widgets import LiveLabel
from cocoon_desktop.ui_logic.series import Picture, pixel_picture

if TYPE_CHECKING:
    import pyqtgraph as pg

    from cocoon_desktop.ui.chart_plots import LiveCurve

WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "1 h": 3600.0, "24 h": 86400.0}
CHART_HEIGHT = 150
BAR_CHART_HEIGHT = 170


class _FirstPaint(QObject):
    """A child of the widget it watches: gone with it, and so is a call not yet made."""

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self.callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self.callback)  # once this paint is done
        return False


def after_first_paint(widget: QWidget, callback: Callable[[], None]) -> None:
    """Call `callback` on the loop's next turn after `widget` is first painted."""
    _FirstPaint(widget, callback)


class _HoverPlot(QWidget):
    """A plot with a header (title and the latest value) and a readout of the point under the
    pointer (a vertical line and a label). Subclasses add their items (`_add_items`) and draw
    what they kept (`_draw`) once the plot exists."""

    def __init__(self, title: str, plot_height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.plot_height = plot_height
        self.header = LiveLabel(title)  # its value changes each second: no relayout
        self.header.setObjectName("muted")
        self.readout = QLabel("")
        self.readout.setObjectName("caption")
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight)
        self._plot: pg.PlotWidget | None = None
        self.cursor: pg.InfiniteLine | None = None
        self._slot = QWidget()  # holds the plot's place until it is built
        self._slot.setFixedHeight(plot_height)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.readout)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(Space.XS)
        self._layout.addLayout(top)
        self._layout.addWidget(self._slot, 1)

    @property
    def plot(self) -> pg.PlotWidget:
        """The pyqtgraph plot, built now if it was not yet."""
        if self._plot is None:
            self._build_plot()
        assert self._plot is not None
        return self._plot

    @property
    def is_drawn(self) -> bool:
        """Whether the plot was built (it is, once the chart has been shown)."""
        return self._plot is not None

    def showEvent(self, event: QShowEvent) -> None:
        if self._plot is None:  # after the paint: the window shows first, then the plot
            after_first_paint(self, self._build_if_shown)
        super().showEvent(event)

    def _build_if_shown(self) -> None:
        if self._plot is None and self.isVisible():
            self._build_plot()

    def _build_plot(self) -> None:
        from cocoon_desktop.ui import chart_plots

        plot = chart_plots.new_plot(self._bottom_axis())
        plot.setFixedHeight(self.plot_height)
        self._plot = plot
        self.cursor = chart_plots.pg.InfiniteLine(angle=90, movable=False)
        self.cursor.hide()
        plot.addItem(self.cursor, ignoreBounds=True)
        self._layout.replaceWidget(self._slot, plot)
        self._slot.deleteLater()
        if self.isVisible():  # in place and laid out now, not on the next turn of the loop
            plot.show()
            self._layout.activate()
        plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._add_items(plot)
        self.retheme()
        self._draw()

    def _bottom_axis(self) -> pg.AxisItem:
        raise NotImplementedError

    def _add_items(self, plot: pg.PlotWidget) -> None:
        raise NotImplementedError

    def _draw(self) -> None:
        raise NotImplementedError

    def retheme(self) -> None:
        if self._plot is None or self.cursor is None:
            return  # the plot takes the theme when it is built
        from cocoon_desktop.ui import chart_plots

        chart_plots.style_plot(self._plot)
        self.cursor.setPen(chart_plots.pg.mkPen(current_colors().muted,
                                                style=Qt.PenStyle.DotLine))

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
        if self.cursor is not None:
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
        super().__init__(title, CHART_HEIGHT, parent)
        self.unit = unit
        self.digits = digits
        self.color_index = color_index
        self.fixed_range = y_range
        self._auto_high = 0.0
        self.window_s = WINDOWS_S["5 min"]
        self._now = time.time()
        self._times: list[float] = []
        self._values: list[float] = []
        self._limit: float | None = None
        self.curve: LiveCurve | None = None
        self.limit_line: pg.InfiniteLine | None = None
        self.drawn_picture: Picture | None = None  # what the curve shows, in pixels

    def _bottom_axis(self) -> pg.AxisItem:
        from cocoon_desktop.ui.chart_plots import AgoAxis

        return AgoAxis("bottom")

    def _add_items(self, plot: pg.PlotWidget) -> None:
        from cocoon_desktop.ui.chart_plots import LiveCurve, pg

        self.curve = LiveCurve(connect="finite")
        plot.addItem(self.curve)
        self.limit_line = pg.InfiniteLine(angle=0, movable=False)
        self.limit_line.hide()
        plot.addItem(self.limit_line)
        plot.setYRange(*(self.fixed_range or (0, 1)), padding=0.02)
        plot.setXRange(-self.window_s, 0, padding=0)

    def retheme(self) -> None:
        super().retheme()
        if self.curve is not None and self.limit_line is not None:
            from cocoon_desktop.ui.chart_plots import pg

            colors = current_colors()
            color = colors.series[self.color_index % len(colors.series)]
            # One pixel: Qt's raster engine strokes a 1.6 px antialiased line of 300 points in
            # about 13 ms (every second, per chart), a 1 px line in under 1 ms.
            self.curve.setPen(pg.mkPen(color, width=1))
            self.limit_line.setPen(pg.mkPen(colors.warn, style=Qt.PenStyle.DashLine))

    def value_text(self, value: float | None) -> str:
        return "n/a" if value is None or math.isnan(value) else \
            f"{value:.{self.digits}f} {self.unit}"

    def set_y_range(self, low: float, high: float) -> None:
        self.fixed_range = (low, high)
        if self._plot is not None:
            self._plot.setYRange(low, high, padding=0.02)

    def set_window(self, window_s: float) -> None:
        self.window_s = window_s
        if self._plot is not None:
            self._plot.setXRange(-window_s, 0, padding=0)

    def set_points(self, times_s: Sequence[float], values: Sequence[float],
                   limit: float | None = None, now: float | None = None) -> None:
        """Replace the points (wall-clock seconds, oldest first)."""
        self._now = now if now is not None else time.time()
        self._times, self._values, self._limit = list(times_s), list(values), limit
        self.show_latest(next((v for v in reversed(self._values) if not math.isnan(v)), None))
        self._draw()

    def show_latest(self, value: float | None) -> None:
        """The value in the header, between two redraws of the line."""
        self.header.setText(f"{self.title} · {self.value_text(value)}")

    def _draw(self) -> None:
        if self._plot is None or self.curve is None or self.limit_line is None:
            return  # kept: drawn when the plot is built
        import numpy as np  # loaded with pyqtgraph, which built the plot

        self.limit_line.setVisible(self._limit is not None)
        if self._limit is not None:
            self.limit_line.setValue(self._limit)
        xs = np.asarray(self._times, dtype=float) - self._now
        ys = np.asarray(self._values, dtype=float)
        if self.fixed_range is None:  # from zero, so a steady 318 W reads as steady
            known = ys[~np.isnan(ys)]
            high = (float(known.max()) if known.size else 1.0) * 1.15 or 1.0
            if high != self._auto_high:  # an unchanged range lays nothing out again
                self._auto_high = high
                self._plot.setYRange(0, high, padding=0)
        box = self._plot.getPlotItem().vb
        picture = pixel_picture(xs, ys, (-self.window_s, 0.0),
                                self.fixed_range or (0.0, self._auto_high),
                                (box.width(), box.height()))
        if picture != self.drawn_picture:  # the same pixels (idle: a gap, a flat line): no redraw
            self.drawn_picture = picture
            self.curve.setData(xs, ys, connect="finite")

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
        self.axis: pg.AxisItem | None = None
        self.bars: pg.BarGraphItem | None = None
        self.empty: pg.TextItem | None = None
        super().__init__(f"{unit} earned", BAR_CHART_HEIGHT, parent)

    def _bottom_axis(self) -> pg.AxisItem:
        from cocoon_desktop.ui.chart_plots import pg

        self.axis = pg.AxisItem("bottom")
        return self.axis

    def _add_items(self, plot: pg.PlotWidget) -> None:
        from cocoon_desktop.ui.chart_plots import pg

        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        plot.addItem(self.bars)
        self.empty = pg.TextItem("Nothing earned in this period yet", anchor=(0.5, 0.5))
        plot.addItem(self.empty)

    def retheme(self) -> None:
        super().retheme()
        if self.bars is not None and self.empty is not None:
            from cocoon_desktop.ui.chart_plots import pg

            colors = current_colors()
            self.bars.setOpts(brush=pg.mkBrush(colors.good), pen=pg.mkPen(None))
            self.empty.setColor(QColor(colors.muted))

    def set_bars(self, labels: Sequence[str], heights: Sequence[float]) -> None:
        self._labels, self._heights = list(labels), list(heights)
        self._draw()

    def _draw(self) -> None:
        if self._plot is None or self.bars is None or self.axis is None or self.empty is None:
            return  # kept: drawn when the plot is built
        n = len(self._heights)
        self.bars.setOpts(x=list(range(n)), height=self._heights, width=0.7)
        step = max(1, math.ceil(n / 8))
        self.axis.setTicks([[(i, self._labels[i]) for i in range(0, n, step)], []])
        high = max(self._heights, default=0.0)
        self._plot.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        self._plot.setYRange(0, high * 1.15 if high > 0 else 1.0, padding=0)
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
