"""Themes: "system" follows the OS colour scheme live; light and dark stay put."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette

from cocoon_desktop.settings import Theme
from cocoon_desktop.ui.theme import DARK, LIGHT, ThemeManager, current_colors


@pytest.fixture
def managers(qapp: Any, qtbot: Any) -> Iterator[list[ThemeManager]]:
    made: list[ThemeManager] = []
    yield made
    for manager in made:  # they are children of the app: delete them, their connections go
        manager.deleteLater()
    qtbot.wait(10)


def window_colour(app: Any) -> str:
    return app.palette().color(QPalette.ColorRole.Window).name()


def test_system_theme_follows_the_os(qapp: Any, qtbot: Any, managers: list[Any]) -> None:
    manager = ThemeManager(qapp, Theme.SYSTEM)
    managers.append(manager)
    hints = qapp.styleHints()
    with qtbot.waitSignal(manager.theme_changed, timeout=2000) as changed:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what the desktop does
    assert changed.args == [True]
    assert window_colour(qapp) == DARK.window and current_colors() is DARK
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert window_colour(qapp) == LIGHT.window


def test_chosen_theme_ignores_the_os(qapp: Any, managers: list[Any]) -> None:
    manager = ThemeManager(qapp, Theme.DARK)
    managers.append(manager)
    manager.on_os_color_scheme_changed(Qt.ColorScheme.Light)  # as the desktop's signal would
    assert window_colour(qapp) == DARK.window
    manager.apply(Theme.LIGHT)
    assert window_colour(qapp) == LIGHT.window and "#card" in qapp.styleSheet()
