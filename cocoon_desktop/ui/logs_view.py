"""The Logs screen: live app log with a level and text filter, and export of what is shown."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.ui.controllers.logs import LogController
from cocoon_desktop.ui.widgets import StateLabel
from cocoon_desktop.ui_logic.logview import LogEntry, LogFilter

LEVEL_CHOICES = {"Errors": logging.ERROR, "Warnings": logging.WARNING, "Info": logging.INFO,
                 "Debug": logging.DEBUG}
MAX_SHOWN = 5000


class LogsPage(QWidget):
    def __init__(self, controller: LogController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.level = QComboBox()
        self.level.addItems(list(LEVEL_CHOICES))
        self.level.setCurrentText("Info")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter: text in the message or the component")
        self.search.setClearButtonEnabled(True)
        self.export_button = QPushButton("Export…")
        self.folder_button = QPushButton("Open log folder")
        self.folder_button.setEnabled(controller.log_file is not None)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_SHOWN)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.status = StateLabel()
        bar = QHBoxLayout()
        bar.addWidget(self.level)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.export_button)
        bar.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self.level.currentTextChanged.connect(lambda _: self.refilter())
        self.search.textChanged.connect(lambda _: self.refilter())
        self.export_button.clicked.connect(self._on_export_clicked)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        controller.entry_logged.connect(self._on_controller_entry_logged)
        controller.history_loaded.connect(lambda _: self.refilter())
        self.refilter()

    @property
    def filter(self) -> LogFilter:
        return LogFilter(LEVEL_CHOICES[self.level.currentText()], self.search.text().strip())

    def shown_entries(self) -> list[LogEntry]:
        current = self.filter
        return [e for e in self.controller.entries if current.matches(e)][-MAX_SHOWN:]

    def refilter(self) -> None:
        shown = self.shown_entries()
        self.view.setPlainText("\n".join(e.line() for e in shown))
        self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().maximum())
        self.status.set_state(f"{len(shown)} entries shown")

    def _on_controller_entry_logged(self, entry: LogEntry) -> None:
        if self.filter.matches(entry):
            self.view.appendPlainText(entry.line())

    def _on_export_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export log", "cocoon-desktop.log",
                                              "Log files (*.log *.txt)")
        if name:
            spawn(self.export_to(Path(name)), name="logs.export")

    async def export_to(self, path: Path) -> None:
        try:
            count = await self.controller.export(self.shown_entries(), path)
        except OSError as exc:
            self.status.set_state(f"Could not write {path} ({exc.strerror}); choose another "
                                  "folder.", "bad")
            return
        self.status.set_state(f"Exported {count} entries to {path}", "good")

    def _on_folder_clicked(self) -> None:
        if self.controller.log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.controller.log_file.parent)))
