"""Light and dark themes; "system" follows the OS colour scheme live (Qt 6.5+ style hints).

The Fusion style with the app's own palettes looks the same everywhere (and under Xvfb), so the
screenshots match what users see. Widgets that draw themselves read `current_colors()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from cocoon_desktop.settings import Theme


@dataclass(frozen=True)
class Colors:
    dark: bool
    window: str
    base: str
    card: str
    border: str
    text: str
    muted: str
    accent: str
    good: str
    warn: str
    bad: str
    series: tuple[str, ...]  # chart lines


LIGHT = Colors(False, "#f4f5f7", "#ffffff", "#ffffff", "#d9dce1", "#1d2026", "#69707d",
               "#0a84d6", "#1f9d55", "#c27c0e", "#d64545",
               ("#0a84d6", "#1f9d55", "#8b5cf6", "#e07b00"))
DARK = Colors(True, "#1b1d22", "#23262d", "#262a31", "#3a3f49", "#e6e8eb", "#9aa1ad",
              "#3ea6ff", "#3ccf7a", "#e5a93b", "#ff6b6b",
              ("#3ea6ff", "#3ccf7a", "#b794f6", "#ffa94d"))

_STYLE = """
QFrame#card {{ background: {card}; border: 1px solid {border}; border-radius: 8px; }}
QLabel#muted {{ color: {muted}; }}
QLabel#figure {{ font-size: 20px; font-weight: 600; }}
QLabel#title {{ font-size: 15px; font-weight: 600; }}
QLabel#good {{ color: {good}; font-weight: 600; }}
QLabel#warn {{ color: {warn}; font-weight: 600; }}
QLabel#bad {{ color: {bad}; font-weight: 600; }}
QLabel#banner {{ background: {warn}; color: #1d2026; padding: 6px 10px; border-radius: 6px; }}
QListWidget#nav {{ background: {base}; border: none; border-right: 1px solid {border};
                   font-size: 14px; }}
QListWidget#nav::item {{ padding: 10px 14px; }}
QListWidget#nav::item:selected {{ background: {accent}; color: white; border-radius: 6px; }}
"""

_current = LIGHT


def current_colors() -> Colors:
    return _current


def resolve(theme: Theme, os_scheme: Qt.ColorScheme | None = None) -> Colors:
    """The colours for a theme; "system" follows the OS scheme (asked now when not given)."""
    if theme is Theme.DARK:
        return DARK
    if theme is Theme.LIGHT:
        return LIGHT
    scheme = os_scheme if os_scheme is not None else QGuiApplication.styleHints().colorScheme()
    return DARK if scheme == Qt.ColorScheme.Dark else LIGHT


def _palette(c: Colors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window), (role.Base, c.base), (role.AlternateBase, c.window),
        (role.Text, c.text), (role.WindowText, c.text), (role.ButtonText, c.text),
        (role.Button, c.card), (role.Highlight, c.accent), (role.HighlightedText, "#ffffff"),
        (role.ToolTipBase, c.card), (role.ToolTipText, c.text), (role.PlaceholderText, c.muted),
        (role.Link, c.accent), (role.Mid, c.border), (role.Midlight, c.border),
    ):
        p.setColor(r, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(disabled, r, QColor(c.muted))
    return p


class ThemeManager(QObject):
    """Applies the chosen theme and re-applies it when the OS scheme changes."""

    theme_changed = Signal(bool)  # dark

    def __init__(self, app: QApplication, theme: Theme = Theme.SYSTEM) -> None:
        super().__init__(app)
        self._app = app
        self._theme = theme
        self._os_scheme: Qt.ColorScheme | None = None
        app.setStyle("Fusion")
        app.styleHints().colorSchemeChanged.connect(self.on_os_color_scheme_changed)
        self.apply(theme)

    @property
    def theme(self) -> Theme:
        return self._theme

    def apply(self, theme: Theme) -> Colors:
        global _current
        self._theme = theme
        _current = resolve(theme, self._os_scheme)
        self._app.setPalette(_palette(_current))
        self._app.setStyleSheet(_STYLE.format(**_current.__dict__))
        self.theme_changed.emit(_current.dark)
        return _current

    def on_os_color_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        self._os_scheme = scheme
        if self._theme is Theme.SYSTEM:
            self.apply(Theme.SYSTEM)
