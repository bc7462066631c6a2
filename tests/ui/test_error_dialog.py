"""Uncaught errors: a dialog with a copyable report that holds no secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication

from cocoon_desktop.core.logs import register_secret
from cocoon_desktop.ui.errors import ErrorReporter, build_report


def failing(secret: str) -> BaseException:
    try:
        raise RuntimeError(f"could not use key={secret}")
    except RuntimeError as exc:
        return exc


def test_report_is_redacted_and_names_the_place() -> None:
    secret = "abandon " * 23 + "zoo"
    register_secret(secret)
    report = build_report(failing(secret), "the wallet page")
    assert "Where: the wallet page" in report and "RuntimeError" in report
    assert "abandon abandon" not in report and "«redacted»" in report
    assert "test_error_dialog.py" in report  # the traceback is there


def test_reporter_shows_one_dialog_and_copies(qtbot: Any, tmp_path: Path) -> None:
    reporter = ErrorReporter()
    reports: list[str] = []
    reporter.error_reported.connect(reports.append)
    reporter.report(failing("s3cr3t-value-123456"), "a slot")
    dialog = reporter._dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    reporter.report(RuntimeError("second"), "another slot")
    assert reporter._dialog is dialog  # appended, not a second dialog
    assert "second" in dialog.text.toPlainText() and len(reports) == 2
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.report
    dialog.save_report(tmp_path / "report.txt")
    assert "RuntimeError" in (tmp_path / "report.txt").read_text()


def test_errors_from_threads_arrive_on_the_gui_thread(qtbot: Any) -> None:
    import threading

    reporter = ErrorReporter(show_dialogs=False)
    with qtbot.waitSignal(reporter.error_reported, timeout=5000) as got:
        threading.Thread(
            target=lambda: reporter.report_from_any_thread(RuntimeError("in a thread"), "t"),
        ).start()
    assert "in a thread" in got.args[0]
