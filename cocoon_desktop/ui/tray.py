"""The tray icon: state at a glance (serving, paused, attention), earnings in the menu, actions.

Shown whenever the desktop has a system tray; without one the main window stays the way in.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from cocoon_desktop.resources import resource_path
from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui_logic.glance import GlanceFacts, TrayState, glance_lines, tooltip, tray_state
from cocoon_desktop.ui_logic.status_text import serve_action


def tray_icon(state: TrayState) -> QIcon:
    return QIcon(str(resource_path(f"tray-{state.value}.svg")))


class Tray(QObject):
    stop_requested = Signal()
    start_requested = Signal()
    chat_requested = Signal()
    dashboard_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.info_actions: list[QAction] = []
        for _ in range(len(glance_lines(GlanceFacts()))):
            action = self.menu.addAction("")
            action.setEnabled(False)
            self.info_actions.append(action)
        self.menu.addSeparator()
        self.serve_action = self.menu.addAction(serve_action(False))
        self.chat_action = self.menu.addAction(icon("chat"), "Open chat")
        self.dashboard_action = self.menu.addAction(icon("dashboard"), "Open dashboard")
        self.menu.addSeparator()
        self.quit_action = self.menu.addAction("Quit")
        self.serve_action.triggered.connect(self._on_serve_action_triggered)
        self.chat_action.triggered.connect(self.chat_requested)
        self.dashboard_action.triggered.connect(self.dashboard_requested)
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_icon_activated)
        self.facts = GlanceFacts()
        self.state = TrayState.PAUSED
        self.update_facts(self.facts)

    def show(self) -> bool:
        """Show the icon if the desktop has a tray; return whether it is shown."""
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        if self.available:
            self.icon.show()
        return self.available

    def hide(self) -> None:
        self.icon.hide()

    def update_facts(self, facts: GlanceFacts) -> None:
        self.facts = facts
        state = tray_state(facts)
        if state is not self.state or self.icon.icon().isNull():
            self.icon.setIcon(tray_icon(state))
            self.state = state
        self.icon.setToolTip(tooltip(facts))
        for action, line in zip(self.info_actions, glance_lines(facts), strict=True):
            action.setText(line)
        self.serve_action.setText(serve_action(facts.wanted))
        self.serve_action.setIcon(icon("stop" if facts.wanted else "play"))

    def notify(self, title: str, message: str, critical: bool = False) -> None:
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            kind = (QSystemTrayIcon.MessageIcon.Critical if critical
                    else QSystemTrayIcon.MessageIcon.Information)
            self.icon.showMessage(title, message, kind, 8000)

    def _on_serve_action_triggered(self) -> None:
        (self.stop_requested if self.facts.wanted else self.start_requested).emit()

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.dashboard_requested.emit()
