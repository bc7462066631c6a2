"""The self-test's look at the GUI: Qt starts, draws the app's SVG icon, and the real main
window opens and closes (`cocoon-desktop-cli self-test` runs it in a child process)."""

from __future__ import annotations

from PySide6 import __version__ as pyside_version
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cocoon_desktop.resources import resource_path
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
    window.allow_close = True
    window.close()
    app.processEvents()
    if not shown or window.isVisible():
        raise WindowCheckFailed("The main window did not open and close as asked.",
                                "Report this output.")
    platform = QApplication.platformName()  # type: ignore[attr-defined]
    return (f"Qt {pyside_version} on the '{platform}' platform: app icon drawn, main window "
            "opened and closed.")
