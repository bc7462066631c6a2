"""The main window: a navigation list with icons on the left, one page per area on the right,
the app's actions (chat, set-up wizard) in a tool bar."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop import __version__
from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.theme import Space, current_colors


class MainWindow(QMainWindow):
    close_requested = Signal()  # the user closed the window (the shell decides: tray or quit)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cocoon Desktop")
        self.resize(1280, 820)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(200)
        self.nav.setIconSize(QSize(20, 20))
        self.toolbar = QToolBar("Actions")
        self.toolbar.setMovable(False)
        self.toolbar.setIconSize(QSize(18, 18))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(self.toolbar)
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(Space.S)
        column.addWidget(self.banner)
        column.addWidget(self.stack, 1)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(right, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.statusBar().addPermanentWidget(QLabel(f"v{__version__}"))
        self.allow_close = False

    def add_page(self, name: str, widget: QWidget, icon_name: str = "") -> None:
        self.pages[name] = widget
        item = QListWidgetItem(name)
        item.setData(Qt.ItemDataRole.UserRole, icon_name)
        self.nav.addItem(item)
        self._paint_icons()
        self.stack.addWidget(widget)
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)

    def add_action(self, icon: QIcon, text: str, triggered: Callable[[], object]) -> QAction:
        action = self.toolbar.addAction(icon, text)
        action.triggered.connect(triggered)
        return action

    def _paint_icons(self) -> None:
        """Nav icons in the theme's colours (white on the light theme's accent, dark on the
        dark theme's): redrawn when the theme changes."""
        on_accent = current_colors().on_accent
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            name = item.data(Qt.ItemDataRole.UserRole)
            item.setIcon(icon(name, selected=on_accent) if name else QIcon())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_icons()
        super().changeEvent(event)

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(list(self.pages).index(name))

    @property
    def current_page(self) -> str:
        return list(self.pages)[self.stack.currentIndex()]

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:
            event.accept()
            return
        event.ignore()
        self.close_requested.emit()
