"""LogController: the app's log records as a signal, plus the log file's recent past."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.logs import RedactingFilter
from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.ui_logic.logview import (
    LogEntry,
    export_entries,
    merge_history,
    read_log_tail,
)

MAX_ENTRIES = 20_000


class _SignalHandler(logging.Handler):
    """A logging handler that forwards each (redacted) record to the controller's signal."""

    def __init__(self, controller: LogController) -> None:
        super().__init__(logging.DEBUG)
        self._controller = controller
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        entry = LogEntry(record.created, record.levelno, record.name, message)
        self._controller.entry_logged.emit(entry)


class LogController(QObject):
    entry_logged = Signal(object)  # LogEntry, from any thread (delivered queued)
    history_loaded = Signal(list)

    def __init__(self, log_file: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.entries: deque[LogEntry] = deque(maxlen=MAX_ENTRIES)
        self._handler = _SignalHandler(self)
        self.entry_logged.connect(self.entries.append)

    def attach(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).addHandler(self._handler)

    def detach(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).removeHandler(self._handler)

    async def load_history(self) -> list[LogEntry]:
        """Entries already in the log file from before this window opened."""
        if self.log_file is None:
            return []
        history = await run_blocking(read_log_tail, self.log_file)
        merged = merge_history(history, self.entries)  # a line in both is shown once
        self.entries.clear()
        self.entries.extend(merged)
        self.history_loaded.emit(list(self.entries))
        return list(self.entries)

    async def export(self, entries: list[LogEntry], path: Path) -> int:
        return await run_blocking(export_entries, entries, path)
