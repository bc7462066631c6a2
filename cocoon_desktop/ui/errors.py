"""Uncaught errors: logged, then shown in a dialog with a copyable, secret-free report.

Every path an error can take out of the app's code ends here: `sys.excepthook` (Qt slots),
`threading.excepthook`, the asyncio loop's exception handler and failed `spawn()` tasks. The
report goes through `cocoon_desktop.core.logs.redact` before anything shows or copies it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop import __version__
from cocoon_desktop.core import tasks
from cocoon_desktop.core.logs import redact

log = logging.getLogger(__name__)


def _pyside_version() -> str:
    try:
        return importlib.metadata.version("PySide6")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_report(exc: BaseException, context: str) -> str:
    """A plain-text report: versions, where it happened, the traceback; always redacted."""
    lines = [
        f"Cocoon Desktop {__version__}",
        f"Python {platform.python_version()} · PySide6 {_pyside_version()} · "
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        f"Where: {context}",
        "",
        *traceback.format_exception(type(exc), exc, exc.__traceback__),
    ]
    return redact("\n".join(line.rstrip("\n") for line in lines))


class ErrorDialog(QDialog):
    """Says what happened, that the app keeps running, and offers the report."""

    def __init__(self, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cocoon Desktop: unexpected error")
        self.resize(720, 460)
        self.report = report
        headline = QLabel(
            "<b>Something went wrong inside the app.</b><br>It keeps running; serving was not "
            "interrupted by this. If it happens again, copy the report below (it holds no "
            "secrets) and attach it to a bug report."
        )
        headline.setWordWrap(True)
        self.text = QPlainTextEdit(report)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button = buttons.addButton("Save…", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_report)
        self.save_button.clicked.connect(self._on_save_clicked)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(headline)
        layout.addWidget(self.text)
        layout.addWidget(buttons)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)
        self.copy_button.setText("Copied")

    def save_report(self, path: Path) -> None:
        path.write_text(self.report + "\n", encoding="utf-8")

    def _on_save_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save error report", "cocoon-error.txt")
        if name:
            try:
                self.save_report(Path(name))
            except OSError as exc:
                self.text.appendPlainText(f"\n[Could not save the report: {exc.strerror}]")


class ErrorReporter(QObject):
    """Collects uncaught errors from every source and shows one dialog at a time."""

    error_reported = Signal(str)  # the redacted report
    _from_thread = Signal(object, str)

    def __init__(self, show_dialogs: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show_dialogs = show_dialogs
        self._dialog: ErrorDialog | None = None
        self._from_thread.connect(self.report)

    def install(self) -> None:
        sys.excepthook = self._on_sys_excepthook
        threading.excepthook = self._on_thread_excepthook
        tasks.set_error_reporter(self.report_from_any_thread)

    def install_on_loop(self, loop: Any) -> None:
        loop.set_exception_handler(self._on_loop_exception)

    def report_from_any_thread(self, exc: BaseException, context: str) -> None:
        self._from_thread.emit(exc, context)

    def report(self, exc: BaseException, context: str) -> None:
        report = build_report(exc, context)
        self.error_reported.emit(report)
        if not self._show_dialogs:
            return
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.text.appendPlainText("\n\n--- and then ---\n\n" + report)
            self._dialog.report += "\n\n--- and then ---\n\n" + report
            return
        self._dialog = ErrorDialog(report)
        self._dialog.show()
        self._dialog.raise_()

    def _on_sys_excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        log.error("uncaught error", exc_info=(kind, exc, tb))
        self.report_from_any_thread(exc.with_traceback(tb), "the user interface")

    def _on_thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread else "a thread"
        log.error("uncaught error in %s", name, exc_info=args.exc_value)
        self.report_from_any_thread(args.exc_value, f"background thread {name}")

    def _on_loop_exception(self, loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message", "event loop error"))
        if exc is None:
            log.error("event loop: %s", redact(message))
            return
        log.error("event loop: %s", redact(message), exc_info=exc)
        self.report(exc, f"event loop ({message})")
