"""Light charts drawn with QPainter: a line chart for live metrics, a bar chart for earnings.

QtCharts would cost tens of MB and a scene graph per chart; these repaint a few hundred points
only when new data arrives, which keeps the idle app well under 1% of a core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from cocoon_desktop.ui.theme import current_colors


class LineChart(QWidget):
    """One metric over time with a fixed or automatic range; NaN points leave a gap."""

    def __init__(
        self,
        title: str,
        unit: str,
        y_range: tuple[float, float] | None = None,
        color_index: int = 0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.unit = unit
        self._fixed_range = y_range
        self._color_index = color_index
        self._values: list[float] = []
        self._limit: float | None = None
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(260, 110)

    def set_values(self, values: Sequence[float], limit: float | None = None) -> None:
        """Replace the points (oldest first); `limit` draws a dashed line (e.g. pause at 83 °C)."""
        self._values = list(values)
        self._limit = limit
        self.update()

    @property
    def values(self) -> list[float]:
        return list(self._values)

    def _range(self) -> tuple[float, float]:
        if self._fixed_range:
            return self._fixed_range
        known = [v for v in self._values if not math.isnan(v)]
        if self._limit is not None:
            known.append(self._limit)
        if not known:
            return 0.0, 1.0
        low, high = min(known), max(known)
        if high - low < 1e-9:
            high = low + 1.0
        return min(0.0, low), high * 1.1

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = current_colors()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(2, 18, -2, -4)
        p.setPen(QColor(colors.muted))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        p.setFont(small)
        latest = next((v for v in reversed(self._values) if not math.isnan(v)), None)
        label = f"{self.title}: " + ("n/a" if latest is None else f"{latest:.0f} {self.unit}")
        p.drawText(QRectF(2, 0, self.width() - 4, 16), Qt.AlignmentFlag.AlignLeft, label)
        p.setPen(QPen(QColor(colors.border), 1))
        p.drawRoundedRect(rect, 4, 4)
        low, high = self._range()

        def y_of(v: float) -> float:
            return rect.bottom() - (v - low) / (high - low) * rect.height()

        if self._limit is not None and low <= self._limit <= high:
            pen = QPen(QColor(colors.warn), 1, Qt.PenStyle.DashLine)
            p.setPen(pen)
            y = y_of(self._limit)
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
        n = len(self._values)
        if n >= 2:
            color = QColor(colors.series[self._color_index % len(colors.series)])
            p.setPen(QPen(color, 1.6))
            path = QPainterPath()
            pen_down = False
            for i, v in enumerate(self._values):
                if math.isnan(v):
                    pen_down = False
                    continue
                point = QPointF(rect.left() + i * rect.width() / (n - 1), y_of(v))
                if pen_down:
                    path.lineTo(point)
                else:
                    path.moveTo(point)
                    pen_down = True
            p.drawPath(path)
        p.end()


class BarChart(QWidget):
    """Bars with labels, e.g. nanoTON earned per day; a second series stacks (paid vs pending)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: list[str] = []
        self._bottom: list[float] = []
        self._top: list[float] = []
        self._legend: tuple[str, str] = ("", "")
        self.setMinimumHeight(150)

    def sizeHint(self) -> QSize:
        return QSize(480, 180)

    def set_bars(
        self,
        labels: Sequence[str],
        bottom: Sequence[float],
        top: Sequence[float] | None = None,
        legend: tuple[str, str] = ("", ""),
    ) -> None:
        self._labels = list(labels)
        self._bottom = list(bottom)
        self._top = list(top) if top is not None else [0.0] * len(self._bottom)
        self._legend = legend
        self.update()

    @property
    def totals(self) -> list[float]:
        return [b + t for b, t in zip(self._bottom, self._top, strict=True)]

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = current_colors()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(4, 20, -4, -18)
        p.setPen(QPen(QColor(colors.border), 1))
        p.drawLine(rect.bottomLeft(), rect.bottomRight())
        totals = self.totals
        n = len(totals)
        if not n or max(totals) <= 0:
            p.setPen(QColor(colors.muted))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Nothing earned in this period yet")
            p.end()
            return
        high = max(totals)
        slot = rect.width() / n
        width = max(2.0, slot * 0.7)
        bottom_color, top_color = QColor(colors.good), QColor(colors.accent)
        for i, (b, t) in enumerate(zip(self._bottom, self._top, strict=True)):
            x = rect.left() + i * slot + (slot - width) / 2
            hb = b / high * rect.height()
            ht = t / high * rect.height()
            p.fillRect(QRectF(x, rect.bottom() - hb, width, hb), bottom_color)
            p.fillRect(QRectF(x, rect.bottom() - hb - ht, width, ht), top_color)
        p.setPen(QColor(colors.muted))
        step = max(1, math.ceil(n / 8))
        for i in range(0, n, step):
            x = rect.left() + i * slot
            p.drawText(QRectF(x, rect.bottom() + 2, slot * step, 16),
                       Qt.AlignmentFlag.AlignLeft, self._labels[i])
        if any(self._legend):
            legend = f"■ {self._legend[0]}   ■ {self._legend[1]}"
            p.drawText(QRectF(rect.left(), 0, rect.width(), 18), Qt.AlignmentFlag.AlignRight,
                       legend)
        p.end()
