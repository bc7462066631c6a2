"""Guards against a broken Qt binding: PySide6 6.12.0 on Python 3.11 drops a reference to
None on every call of a method that returns nothing, and the app aborts ("none_dealloc") after
a few thousand repaints. pyproject pins a good version; this test fails if a bad one returns."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel


def test_void_qt_calls_keep_none_alive(qapp: Any) -> None:
    label = QLabel()
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(500):
        label.setText("x")
        painter.setPen(QPen(QColor("red"), 1.5))
    painter.end()
    assert before - sys.getrefcount(None) < 100, "this PySide6 release leaks None references"
