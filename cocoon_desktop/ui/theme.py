"""Light and dark themes; "system" follows the OS colour scheme live (Qt 6.5+ style hints).

One spacing scale (`Space`), one type scale (`Type`) and one palette per theme (`Colors`): every
screen takes its margins, gaps, font sizes and colours from here, so cards line up and both
themes read the same. The Fusion style with the app's own palettes looks the same everywhere
(and under Xvfb), so the screenshots match what users see. Widgets that draw themselves (the
charts) read `current_colors()` and follow `ThemeManager.theme_changed`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from cocoon_desktop.settings import Theme


class Space:
    """The spacing scale, in pixels: every margin and gap is one of these."""

    XS = 4
    S = 8
    M = 12
    L = 16
    XL = 24


class Type:
    """The type scale, in pixels."""

    CAPTION = 12
    BODY = 13
    TITLE = 15
    FIGURE = 20
    HERO = 30


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
    hover: str  # a button or row under the pointer
    on_accent: str  # text and icons on the accent colour
    series: tuple[str, ...]  # chart lines


LIGHT = Colors(False, "#f4f5f7", "#ffffff", "#ffffff", "#d9dce1", "#1d2026", "#626975",
               "#0a7cc4", "#1a8a4a", "#a86a08", "#c93c3c", "#eef1f5", "#ffffff",
               ("#0a84d6", "#1f9d55", "#8b5cf6", "#e07b00"))
DARK = Colors(True, "#1b1d22", "#23262d", "#262a31", "#3a3f49", "#e6e8eb", "#a2a9b4",
              "#3ea6ff", "#3ccf7a", "#e5a93b", "#ff6b6b", "#30353e", "#0d1117",
              ("#3ea6ff", "#3ccf7a", "#b794f6", "#ffa94d"))
# Qt's tray balloon (QBalloonTip) keeps its own pale yellow background in every theme: its text
# must stay dark, or a dark theme's light text is unreadable on it.
BALLOON_TEXT = "#1d2026"

_STYLE = """
QFrame#card {{ background: {card}; border: 1px solid {border}; border-radius: 10px; }}
QLabel#muted {{ color: {muted}; }}
QLabel#caption {{ color: {muted}; font-size: {caption}px; }}
QLabel#figure {{ font-size: {figure}px; font-weight: 600; }}
QLabel#hero {{ font-size: {hero}px; font-weight: 700; }}
QLabel#title {{ font-size: {title}px; font-weight: 600; }}
QLabel#good {{ color: {good}; font-weight: 600; }}
QLabel#warn {{ color: {warn}; font-weight: 600; }}
QLabel#bad {{ color: {bad}; font-weight: 600; }}
QLabel#banner {{ background: {warn}; color: #1d2026; padding: {s}px {m}px; border-radius: 6px; }}
QPushButton {{ background: {card}; border: 1px solid {border}; border-radius: 6px;
               padding: 5px {m}px; min-height: 20px; }}
QPushButton:hover {{ background: {hover}; }}
QPushButton:checked {{ background: {hover}; border-color: {accent}; }}
QPushButton:disabled {{ color: {muted}; }}
QPushButton#primary {{ background: {accent}; color: {on_accent}; border: 1px solid {accent};
                       font-weight: 600; }}
QPushButton#primary:disabled {{ background: {border}; border-color: {border}; }}
QPushButton#range {{ padding: 2px {s}px; min-height: 16px; font-size: {caption}px; }}
QPushButton#flat {{ border: none; background: transparent; padding: 2px {xs}px; }}
QPushButton#flat:hover {{ background: {hover}; }}
QLineEdit, QPlainTextEdit, QTextBrowser {{ background: {base}; border: 1px solid {border};
    border-radius: 6px; padding: 3px {xs}px; selection-background-color: {accent}; }}
QLineEdit:focus, QPlainTextEdit:focus {{ border-color: {accent}; }}
QTableWidget {{ background: {base}; border: 1px solid {border}; border-radius: 6px;
                gridline-color: {border}; }}
QHeaderView::section {{ background: {window}; color: {muted}; border: none;
                        border-bottom: 1px solid {border}; padding: {xs}px {s}px; }}
QListWidget#nav {{ background: {base}; border: none; border-right: 1px solid {border};
                   font-size: 14px; padding: {s}px; outline: 0; }}
QListWidget#nav::item {{ padding: {s}px {m}px; border-radius: 6px; margin-bottom: 2px; }}
QListWidget#nav::item:hover {{ background: {hover}; }}
QListWidget#nav::item:selected {{ background: {accent}; color: {on_accent}; }}
QListWidget#chats {{ background: {base}; border: 1px solid {border}; border-radius: 6px;
                     outline: 0; }}
QListWidget#chats::item {{ padding: {s}px; }}
QListWidget#chats::item:selected {{ background: {accent}; color: {on_accent}; }}
QToolTip {{ color: {text}; background: {card}; border: 1px solid {border}; }}
QBalloonTip QLabel {{ color: {balloon}; }}
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


def style_sheet(c: Colors) -> str:
    return _STYLE.format(**c.__dict__, xs=Space.XS, s=Space.S, m=Space.M, caption=Type.CAPTION,
                         title=Type.TITLE, figure=Type.FIGURE, hero=Type.HERO,
                         balloon=BALLOON_TEXT)


def _palette(c: Colors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window), (role.Base, c.base), (role.AlternateBase, c.window),
        (role.Text, c.text), (role.WindowText, c.text), (role.ButtonText, c.text),
        (role.Button, c.card), (role.Highlight, c.accent), (role.HighlightedText, c.on_accent),
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
        font = QFont(app.font())
        font.setPixelSize(Type.BODY)
        app.setFont(font)
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
        self._app.setStyleSheet(style_sheet(_current))
        self.theme_changed.emit(_current.dark)
        return _current

    def on_os_color_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        self._os_scheme = scheme
        if self._theme is Theme.SYSTEM:
            self.apply(Theme.SYSTEM)
