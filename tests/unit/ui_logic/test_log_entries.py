"""Log lines as the logs view parses, filters and exports them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cocoon_desktop.core.logs import setup_logging
from cocoon_desktop.ui_logic.logview import LogFilter, export_entries, parse_lines, read_log_tail


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.usefixtures("restore_logging")
def test_real_log_file_is_parsed_with_tracebacks(tmp_path: Path) -> None:
    log_file = setup_logging(tmp_path)
    assert log_file is not None
    logger = logging.getLogger("cocoon_desktop.test")
    logger.info("engine ready on port %d", 1234)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("engine crashed")
    logger.warning("key=%s", "A" * 44)
    for handler in logging.getLogger().handlers:
        handler.flush()
    entries = read_log_tail(log_file)
    assert [e.level for e in entries] == [logging.INFO, logging.ERROR, logging.WARNING]
    assert entries[0].message == "engine ready on port 1234"
    assert "RuntimeError: boom" in entries[1].message and "Traceback" in entries[1].message
    assert "A" * 44 not in entries[2].message  # redacted by the app's filter


def test_filter_by_level_and_text() -> None:
    entries = parse_lines([
        "2026-01-02 03:04:05,006 INFO cocoon_desktop.engine: ready",
        "2026-01-02 03:04:06,000 WARNING cocoon_desktop.hardware: GPU hot",
        "2026-01-02 03:04:07,000 DEBUG cocoon_desktop.network: ping",
    ])
    assert len(entries) == 3
    assert [e.message for e in entries if LogFilter(logging.WARNING).matches(e)] == ["GPU hot"]
    assert [e.message for e in entries if LogFilter(logging.DEBUG, "ENGINE").matches(e)] == [
        "ready"
    ]
    assert [e.message for e in entries if LogFilter(logging.DEBUG, "network").matches(e)] == [
        "ping"
    ]


def test_export_round_trips(tmp_path: Path) -> None:
    line = "2026-01-02 03:04:05,006 ERROR cocoon_desktop.engine: crashed"
    entries = parse_lines([line, "  detail line"])
    out = tmp_path / "export.log"
    assert export_entries(entries, out) == 1
    assert parse_lines(out.read_text().splitlines()) == entries


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_log_tail(tmp_path / "none.log") == []
