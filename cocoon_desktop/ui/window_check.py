"""The self-test's look at the GUI: Qt starts, draws the app's SVG icon, the real main window
opens and closes, and a live chart builds its plot (pyqtgraph and numpy are imported only when
a chart is first shown, so this is where a bundle that left them out would say so).
`cocoon-desktop-cli self-test` runs it in a child process."""

from __future__ import annotations

from PySide6 import __version__ as pyside_version
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cocoon_desktop.resources import resource_path
from cocoon_desktop.ui.charts import LiveChart
from cocoon_desktop.ui.main_window import MainWindow


class WindowCheckFailed(Exception):
    """What went wrong, and what to do about it."""

    def __init__(self, summary: str, fix: str) -> None:
        super().__init__(summary)
        self.summary = summary
        self.fix = fix


def open_and_close_main_window() -> str:
    """One line saying what worked; WindowCheckFailed otherwise. QT_QPA_PLATFORM must be set
    before this is imported."""
    app = QApplication.instance() or QApplication(["cocoon-desktop"])
    icon = QIcon(str(resource_path("app.svg")))
    if icon.pixmap(64, 64).isNull():
        raise WindowCheckFailed("Qt cannot draw the app's SVG icons: its SVG plugin is missing.",
                                "Reinstall the app (the build left out Qt's imageformats/"
                                "iconengines plugins).")
    window = MainWindow()
    window.setWindowIcon(icon)
    window.show()
    app.processEvents()
    shown = window.isVisible()
    chart = LiveChart("CPU", "%", (0, 100))
    try:
        chart.set_points([0.0, 1.0], [10.0, 20.0], now=1.0)
        chart.plot.grab()  # builds the pyqtgraph plot and draws it
    except ImportError as exc:
        fix = "Reinstall the app (the build left out pyqtgraph or numpy)."
        raise WindowCheckFailed(f"The charts cannot be drawn: {exc}.", fix) from None
    finally:
        chart.deleteLater()
    window.allow_close = True
    window.close()
    app.processEvents()
    if not shown or window.isVisible():
        raise WindowCheckFailed("The main window did not open and close as asked.",
                                "Report this output.")
    platform = QApplication.platformName()  # type: ignore[attr-defined]
    return (f"Qt {pyside_version} on the '{platform}' platform: app icon drawn, main window "
            "opened and closed, a chart drawn.")
