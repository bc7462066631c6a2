"""The pyqtgraph side of the charts (`charts.py`): axes and plot styling.

Imported when a chart is first shown, not with the app: pyqtgraph and numpy take longer to
import than the whole first window takes to build, and the tray-only app never draws a chart.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem

from cocoon_desktop.ui.theme import Type, current_colors

pg.setConfigOptions(antialias=True, background=None, foreground="#808080")
TIME_STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


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


class LiveCurve(pg.PlotCurveItem):
    """A live chart's line: pyqtgraph's curve, bounded by the plot's visible range. pyqtgraph
    measures the points (NaN-aware min and max, pixel padding) for every new line, and Qt asks
    for the bounds several times per paint; the line never leaves the range it is drawn in
    (the plot clips it), so the range is its bounds: a quarter less CPU per second for the
    dashboard's charts (measured). A plain `PlotCurveItem`, not `plot()`'s PlotDataItem, whose
    layers (datasets, symbols) a line without symbols does not need."""

    def boundingRect(self) -> QRectF:
        box = self.getViewBox()
        return QRectF() if box is None else box.viewRect()


def new_plot(bottom: pg.AxisItem) -> pg.PlotWidget:
    """A plot for the dashboard: no menu, no mouse zoom, no buttons; values on the left."""
    plot = pg.PlotWidget(axisItems={"bottom": bottom, "left": ValueAxis()})
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    for name in ("left", "bottom"):
        # The line's repaint each second touches both axes; cached as pixels they are copied,
        # not drawn again from their labels (text shaping each time: ~0.1 ms per chart).
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return plot


def style_plot(plot: pg.PlotWidget) -> None:
    colors = current_colors()
    plot.setBackground(QColor(colors.base))
    small = QFont()
    small.setPixelSize(Type.CAPTION - 1)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(colors.border))
        axis.setTextPen(pg.mkPen(colors.muted))
        axis.setStyle(tickFont=small, tickLength=-4)
