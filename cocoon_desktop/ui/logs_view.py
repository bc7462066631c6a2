"""The Logs screen: the app's log, live, with a level and text filter, and export of what is
shown. Long lines wrap; a traceback folds under "details" (a click opens it); the count says how
many entries are on screen, live ones included; an entry read from the file and live is shown
once."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.ui.controllers.logs import LogController
from cocoon_desktop.ui.theme import Space, current_colors
from cocoon_desktop.ui.widgets import ComboBox, StateLabel
from cocoon_desktop.ui_logic.logview import LogEntry, LogFilter, entry_html

LEVEL_CHOICES = {"Errors": logging.ERROR, "Warnings": logging.WARNING, "Info": logging.INFO,
                 "Debug": logging.DEBUG}
MAX_SHOWN = 5000


class LogsPage(QWidget):
    def __init__(self, controller: LogController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.level = ComboBox()
        self.level.addItems(list(LEVEL_CHOICES))
        self.level.setCurrentText("Info")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter: text in the message or the component")
        self.search.setClearButtonEnabled(True)
        self.export_button = QPushButton("Export…")
        self.folder_button = QPushButton("Open log folder")
        self.folder_button.setEnabled(controller.log_file is not None)
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.view.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        self.view.document().setMaximumBlockCount(MAX_SHOWN)
        self.status = StateLabel()
        self.shown: list[LogEntry] = []
        self.expanded: set[int] = set()  # entries whose details are open (by their number)
        bar = QHBoxLayout()
        bar.setSpacing(Space.S)
        bar.addWidget(self.level)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.export_button)
        bar.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        layout.setSpacing(Space.S)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self.level.currentTextChanged.connect(lambda _: self.refilter())
        self.search.textChanged.connect(lambda _: self.refilter())
        self.export_button.clicked.connect(self._on_export_clicked)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.view.anchorClicked.connect(self._on_anchor_clicked)
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
        self.shown = self.shown_entries()
        self.expanded.clear()
        self._render()

    def _render(self) -> None:
        colors = self._colors()
        self.view.setHtml("".join(entry_html(e, i, i in self.expanded, colors)
                                  for i, e in enumerate(self.shown)))
        bar = self.view.verticalScrollBar()
        bar.setValue(bar.maximum())
        self._show_count()

    def _show_count(self) -> None:
        total = len(self.controller.entries)
        self.status.set_state(f"{len(self.shown)} of {total} entries shown")

    @staticmethod
    def _colors() -> dict[str, str]:
        c = current_colors()
        return {"text": c.text, "muted": c.muted, "warn": c.warn, "bad": c.bad}

    def _on_controller_entry_logged(self, entry: LogEntry) -> None:
        if self.filter.matches(entry):
            self.shown.append(entry)
            bar = self.view.verticalScrollBar()
            at_end = bar.value() >= bar.maximum() - 4
            self.view.append(entry_html(entry, len(self.shown) - 1, False, self._colors()))
            if at_end:
                bar.setValue(bar.maximum())
        self._show_count()

    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() != "details":
            return
        number = int(url.path())
        self.expanded ^= {number}  # open, or fold again
        position = self.view.verticalScrollBar().value()
        self._render()
        self.view.verticalScrollBar().setValue(position)

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
