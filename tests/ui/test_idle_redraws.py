"""What the idle app does not redo: a status repeated every second re-polishes no state line
or button (Qt repaints and re-lays out on each polish), a chart builds its pyqtgraph plot
only once shown, drawing the values it kept meanwhile, and a chart whose pixels would not
change (a gap, a flat line a second later) is not drawn again, a new line does not draw the
axes again, a redraw reads only the window's points of a day kept, and its live value repaints
its header without laying out the page. CPU itself is measured in bench/app.py."""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProxyStyle, QPushButton, QWidget

from cocoon_desktop.ui.charts import LiveChart
from cocoon_desktop.ui.dashboard.chart_feed import ChartFeed, Metric
from cocoon_desktop.ui.widgets import LiveLabel, StateLabel, restyle


class CountingStyle(QProxyStyle):
    def __init__(self) -> None:
        super().__init__()
        self.polished = 0

    def polish(self, arg: Any) -> Any:
        if isinstance(arg, QWidget):
            self.polished += 1
        return super().polish(arg)



def _shown_chart(qtbot: Any, *args: Any) -> LiveChart:
    """A `LiveChart(*args)` on screen at 600 x 200 px, its plot built."""
    chart = LiveChart(*args)
    qtbot.addWidget(chart)
    chart.resize(600, 200)
    chart.show()
    qtbot.waitUntil(lambda: chart.is_drawn, timeout=10_000)
    return chart

def test_a_repeated_state_is_not_polished_again(qtbot: Any) -> None:
    label = StateLabel()
    qtbot.addWidget(label)
    style = CountingStyle()
    label.setStyle(style)
    label.set_state("Serving", "good")
    first = style.polished
    label.set_state("Serving", "good")
    assert style.polished == first  # the same words in the same colour: nothing to redo
    label.set_state("Paused", "warn")
    assert style.polished > first and label.objectName() == "warn"  # a change still shows


def test_a_button_keeps_its_look_without_a_polish_per_status(qtbot: Any) -> None:
    button = QPushButton("Start serving")
    qtbot.addWidget(button)
    style = CountingStyle()
    button.setStyle(style)
    restyle(button, "primary")
    first = style.polished
    restyle(button, "primary")
    assert style.polished == first
    restyle(button, "")
    assert style.polished > first and button.objectName() == ""


def test_a_chart_builds_its_plot_once_shown_with_the_values_it_kept(qtbot: Any) -> None:
    chart = LiveChart("CPU", "%", (0, 100))
    qtbot.addWidget(chart)
    now = time.time()
    chart.set_points([now - 2, now - 1, now], [10.0, 20.0, 30.0], now=now)
    assert not chart.is_drawn  # never shown: no pyqtgraph plot yet
    assert chart.header.text() == "CPU · 30 %"  # the header says the latest all the same
    chart.show()
    qtbot.waitUntil(lambda: chart.is_drawn, timeout=10_000)
    assert chart.curve is not None
    _, values = chart.curve.getData()
    assert list(values) == [10.0, 20.0, 30.0]


def test_a_chart_is_not_drawn_again_when_its_pixels_would_not_change(qtbot: Any) -> None:
    chart = _shown_chart(qtbot, "Tokens/s", "tokens/s", (0, 100))
    assert chart.curve is not None
    drawn: list[int] = []
    set_data = chart.curve.setData
    chart.curve.setData = lambda *a, **k: (drawn.append(1), set_data(*a, **k))  # type: ignore
    now = time.time()
    ago = [now - 300 + i for i in range(301)]
    chart.set_points(ago, [40.0] * 301, now=now)
    assert len(drawn) == 1
    for second in (1, 2, 3):  # idle: a steady value each second, the window full
        noise = 0.01 * second
        chart.set_points([t + second for t in ago], [40.0 + noise] * 301, now=now + second)
    assert len(drawn) == 1
    for points in (3, 4, 5):  # the engine stopped: only gaps, a few more each second
        chart.set_points(ago[:points], [math.nan] * points, now=now)
    assert len(drawn) == 2
    chart.set_points(ago, [40.0] * 300 + [60.0], now=now)
    assert len(drawn) == 3  # a new value is drawn at once
    _, values = chart.curve.getData()
    assert values[-1] == 60.0


class EventCounter(QObject):
    def __init__(self, kind: QEvent.Type) -> None:
        super().__init__()
        self.kind = kind
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == self.kind:
            self.count += 1
        return False


def test_a_live_value_repaints_its_label_without_laying_out_the_page(qtbot: Any) -> None:
    page = QWidget()
    row = QHBoxLayout(page)
    live, plain = LiveLabel("CPU"), QLabel("Memory")
    row.addWidget(live, 1)
    row.addWidget(plain)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    qtbot.wait(50)
    layouts, paints = EventCounter(QEvent.Type.LayoutRequest), EventCounter(QEvent.Type.Paint)
    page.installEventFilter(layouts)
    live.installEventFilter(paints)
    for value in ("CPU · 3 %", "CPU · 12 %", "CPU · 100 %"):
        paints.count = 0
        live.setText(value)
        qtbot.waitUntil(lambda: paints.count > 0, timeout=5_000)  # shown at once
    qtbot.wait(50)
    assert live.text() == "CPU · 100 %" and live.accessibleName() == "CPU · 100 %"
    assert layouts.count == 0  # nothing laid out again
    plain.setText("Memory used · 7.3 GiB")  # what a QLabel does: the page is laid out again
    qtbot.waitUntil(lambda: layouts.count > 0, timeout=5_000)


def test_a_new_line_is_drawn_without_drawing_the_axes_again(qtbot: Any, monkeypatch: Any) -> None:
    from cocoon_desktop.ui.chart_plots import pg

    painted: list[str] = []
    for cls in (pg.AxisItem, pg.PlotCurveItem):
        def counting(self: Any, *args: Any, _paint: Any = cls.paint, _name: str = cls.__name__
                     ) -> Any:
            painted.append(_name)
            return _paint(self, *args)
        monkeypatch.setattr(cls, "paint", counting)
    chart = _shown_chart(qtbot, "Tokens/s", "tokens/s")  # its range follows its values
    now = time.time()
    ago = [now - 300 + i for i in range(301)]
    chart.set_points(ago, [10.0] * 301, now=now)
    qtbot.waitUntil(lambda: "PlotCurveItem" in painted, timeout=5_000)
    qtbot.wait(100)
    for second in (1, 2, 3):  # a new value each second, the line touching both axes
        painted.clear()
        chart.set_points(ago, [0.0] + [10.0] * 299 + [5.0 + second], now=now)
        qtbot.waitUntil(lambda: "PlotCurveItem" in painted, timeout=5_000)
        assert "AxisItem" not in painted  # the axes are copied from their cache, not drawn
    painted.clear()
    chart.set_points(ago, [10.0] * 300 + [100.0], now=now)  # a new range: new labels
    qtbot.waitUntil(lambda: "AxisItem" in painted, timeout=5_000)


class Stamp(float):
    """A point's time that counts how often it is compared."""

    compared = 0

    def __ge__(self, other: object) -> bool:
        Stamp.compared += 1
        return float(self) >= other  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        Stamp.compared += 1
        return float(self) <= other  # type: ignore[operator]


def test_a_redraw_reads_only_the_window_of_a_day_of_points(qtbot: Any) -> None:
    chart = LiveChart("Tokens/s", "tokens/s")
    qtbot.addWidget(chart)
    metric = Metric(chart)  # no history of its own: the feed keeps a day of points
    feed = ChartFeed([metric])
    now = time.time()
    metric.points.extend((Stamp(now - 86_400 + i), 1.0) for i in range(86_400))
    Stamp.compared = 0
    feed.redraw(force=True, now=now)
    assert len(chart.values) == 300  # the last 5 minutes
    assert Stamp.compared < 1_000  # not 86,400 points read each second


def test_a_new_line_is_drawn_without_measuring_its_points(qtbot: Any, monkeypatch: Any) -> None:
    from cocoon_desktop.ui.chart_plots import pg

    measured: list[int] = []
    data_bounds = pg.PlotCurveItem.dataBounds
    monkeypatch.setattr(pg.PlotCurveItem, "dataBounds",
                        lambda self, *a, **k: (measured.append(1), data_bounds(self, *a, **k))[1])
    chart = _shown_chart(qtbot, "CPU", "%", (0, 100))
    assert chart.curve is not None
    qtbot.wait(50)
    measured.clear()  # the plot's range was set when it was built; from now on, lines only
    now = time.time()
    for second in range(3):
        chart.set_points([now - 2, now - 1, now], [10.0, 20.0 + second, 30.0], now=now)
        qtbot.wait(50)  # painted meanwhile
    _, values = chart.curve.getData()
    assert list(values) == [10.0, 22.0, 30.0]
    assert measured == []  # pyqtgraph did not scan the points for their bounds
    view = chart.plot.getPlotItem().vb.viewRect()
    assert chart.curve.boundingRect() == view  # its bounds are the range it is drawn in


def test_the_lines_move_every_other_second_and_the_values_every_second(qtbot: Any) -> None:
    from cocoon_desktop.ui.dashboard.chart_feed import LINE_EVERY_TICKS

    chart = _shown_chart(qtbot, "CPU", "%", (0, 100))
    feed = ChartFeed([Metric(chart)])
    drawn: list[int] = []
    draw = chart._draw
    chart._draw = lambda: (drawn.append(1), draw())[1]  # type: ignore[method-assign]
    start = time.time() - 10  # points in the past: a redraw shows up to now
    headers = []
    for second in range(4 * LINE_EVERY_TICKS):
        feed.add(start + second, {chart: 10.0 + second})
        headers.append(chart.header.text())
    assert len(drawn) == 4  # not 8: a line redraw costs most of the idle app's CPU
    assert headers == [f"CPU · {10 + s} %" for s in range(4 * LINE_EVERY_TICKS)]
    feed.add(start + 8, {chart: None})  # no reading: the header keeps the last one
    assert chart.header.text() == "CPU · 17 %"
