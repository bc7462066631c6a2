"""Run in a child process on a real X display with a tray host (see test_tray.py): shows the
app's tray icon, reports what the desktop saw, and proves the menu's actions fire."""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from cocoon_desktop.ui.tray import Tray
from cocoon_desktop.ui_logic.glance import GlanceFacts


def main() -> int:
    app = QApplication(sys.argv[:1])
    tray = Tray()
    fired: list[str] = []
    tray.stop_requested.connect(lambda: fired.append("stop"))
    tray.quit_requested.connect(lambda: fired.append("quit"))
    shown = tray.show()
    tray.update_facts(GlanceFacts(serving=True, wanted=True, earned_today_nanoton=1_250_000_000,
                                  gpu_temperature_c=66, active_jobs=3))
    waited = 0

    def check() -> None:
        nonlocal waited
        waited += 50
        geometry = tray.icon.geometry()
        if (geometry.width() > 0 or waited > 10_000):
            tray.serve_action.trigger()
            tray.quit_action.trigger()
            print(json.dumps({
                "available": shown, "visible": tray.icon.isVisible(),
                "geometry": [geometry.x(), geometry.y(), geometry.width(), geometry.height()],
                "tooltip": tray.icon.toolTip(), "state": tray.state.value, "fired": fired,
            }), flush=True)
            app.quit()
        else:
            QTimer.singleShot(50, check)

    QTimer.singleShot(50, check)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
