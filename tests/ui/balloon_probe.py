"""Run in a child process on a real X display with a tray host (see test_tray.py): shows the
close-to-tray balloon in the dark theme and reports the colours of its text and its background,
as the user sees them (issue 15: light grey on pale yellow)."""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

from cocoon_desktop.settings import Theme
from cocoon_desktop.ui.theme import ThemeManager
from cocoon_desktop.ui.tray import Tray
from cocoon_desktop.ui_logic.glance import close_notice


def main() -> int:
    app = QApplication(sys.argv[:1])
    ThemeManager(app, Theme.DARK)
    tray = Tray()
    tray.show()
    waited = 0

    def report() -> None:
        nonlocal waited
        waited += 50
        balloons = [w for w in app.topLevelWidgets()
                    if w.metaObject().className() == "QBalloonTip" and w.isVisible()]
        if not balloons and waited < 10_000:
            if tray.icon.geometry().width() > 0 and waited % 1000 == 50:
                tray.notify(*close_notice(False))
            QTimer.singleShot(50, report)
            return
        seen: dict[str, object] = {"shown": bool(balloons)}
        if balloons:
            balloon = balloons[0]
            image = balloon.grab().toImage()
            labels = [label for label in balloon.findChildren(QLabel) if label.text()]
            seen["texts"] = [label.text() for label in labels]
            seen["text_colours"] = [label.palette().color(label.foregroundRole()).name()
                                    for label in labels]
            seen["background"] = image.pixelColor(image.width() // 2,
                                                  image.height() - 6).name()
        print(json.dumps(seen), flush=True)
        app.quit()

    QTimer.singleShot(50, report)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
