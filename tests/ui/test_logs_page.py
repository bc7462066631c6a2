"""The Logs page: live records (redacted), level and text filter, export, the file's past."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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
