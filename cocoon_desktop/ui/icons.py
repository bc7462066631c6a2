"""The app's own line icons (resources/icon-*.svg, drawn for this project), in two colours: a
muted one that reads on light and dark backgrounds, and white for a selected item or a
primary button. The SVGs are drawn in black; the colour is set when the icon is made."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QSize
from PySide6.QtGui import QIcon, QPixmap

from cocoon_desktop.resources import resource_path

MUTED = "#8a919c"
ON_ACCENT = "#ffffff"
SIZES = (16, 20, 24, 32)


def _pixmap(name: str, color: str, size: int) -> QPixmap:
    svg = resource_path(f"icon-{name}.svg").read_text(encoding="utf-8")
    pixmap = QPixmap(QSize(size, size))
    if not pixmap.loadFromData(QByteArray(svg.replace("#000000", color).encode()), "SVG"):
        raise ValueError(f"icon-{name}.svg could not be drawn (is Qt's SVG plugin there?)")
    return pixmap.scaled(size, size)


@cache
def icon(name: str, color: str = MUTED, selected: str = ON_ACCENT) -> QIcon:
    """`name`'s icon: `color` normally, `selected` when selected or on an accent button."""
    made = QIcon()
    for size in SIZES:
        made.addPixmap(_pixmap(name, color, size), QIcon.Mode.Normal)
        made.addPixmap(_pixmap(name, selected, size), QIcon.Mode.Selected)
    return made
