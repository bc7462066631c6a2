"""The Logs page: live records (redacted), level and text filter, export, the file's past."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl

from cocoon_desktop.core.logs import register_secret, setup_logging
from cocoon_desktop.ui.controllers.logs import LogController
from cocoon_desktop.ui.logs_view import LogsPage
from cocoon_desktop.ui_logic.logview import parse_lines


def test_live_filter_export_and_history(qtbot: Any, tmp_path: Path, run_async: Any) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    log_file = setup_logging(tmp_path / "logs")
    try:
        logging.getLogger("cocoon_desktop.before").warning("written before the page opened")
        controller = LogController(log_file)
        controller.attach()
        page = LogsPage(controller)
        qtbot.addWidget(page)
        run_async(controller.load_history())
        assert "written before the page opened" in page.view.toPlainText()
        secret = "token-abcdef-123456"
        register_secret(secret)
        engine = logging.getLogger("cocoon_desktop.uitest.engine")
        engine.setLevel(logging.DEBUG)
        engine.info("engine ready with %s", secret)
        engine.debug("a debug detail")
        logging.getLogger("cocoon_desktop.uitest.hardware").error("GPU too hot")
        qtbot.waitUntil(lambda: "GPU too hot" in page.view.toPlainText())
        text = page.view.toPlainText()
        assert "engine ready with «redacted»" in text and secret not in text
        assert "a debug detail" not in text  # below the Info level
        page.level.setCurrentText("Errors")
        assert "GPU too hot" in page.view.toPlainText()
        assert "engine ready" not in page.view.toPlainText()
        page.level.setCurrentText("Debug")
        page.search.setText("ENGINE")
        shown = page.view.toPlainText()
        assert "a debug detail" in shown and "GPU too hot" not in shown
        out = tmp_path / "export.log"
        run_async(page.export_to(out))
        exported = parse_lines(out.read_text().splitlines())
        assert [e.message for e in exported] == ["engine ready with «redacted»", "a debug detail"]
        assert "Exported 2 entries" in page.status.text()
        run_async(page.export_to(tmp_path / "missing" / "x.log"))
        assert "Could not write" in page.status.text()
        controller.detach()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_count_duplicates_wrap_and_tracebacks_under_details(qtbot: Any, tmp_path: Path,
                                                            run_async: Any) -> None:
    """Issue 15: "2 entries shown" with ~20 visible, the first line twice, long lines cut with
    no wrap, a Python traceback shown raw."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    log_file = setup_logging(tmp_path / "logs")
    try:
        controller = LogController(log_file)
        controller.attach()  # live first: these lines are in the file and live, as at start-up
        source = logging.getLogger("cocoon_desktop.uitest.first")
        source.warning("the first line, logged before the history was read")
        page = LogsPage(controller)
        qtbot.addWidget(page)
        run_async(controller.load_history())
        for i in range(20):
            source.info("live line %d %s", i, "long words " * 30)
        try:
            raise ValueError("the engine said no")
        except ValueError:
            source.exception("the engine failed")
        qtbot.waitUntil(lambda: "the engine failed" in page.view.toPlainText())
        text = page.view.toPlainText()
        assert text.count("the first line, logged before") == 1
        assert page.status.text() == f"{len(page.shown)} of {len(controller.entries)} " \
            "entries shown"
        assert len(page.shown) >= 22
        assert page.view.lineWrapMode() == page.view.LineWrapMode.WidgetWidth
        assert "Traceback" not in text and "details" in text  # folded
        failed = next(i for i, e in enumerate(page.shown) if "the engine failed" in e.message)
        page.view.anchorClicked.emit(QUrl(f"details:{failed}"))  # the user opens it
        opened = page.view.toPlainText()
        assert "Traceback" in opened and "ValueError: the engine said no" in opened
        page.view.anchorClicked.emit(QUrl(f"details:{failed}"))
        assert "Traceback" not in page.view.toPlainText()
        controller.detach()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
