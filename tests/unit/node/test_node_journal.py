"""The headless voice: journald priorities, systemd notifications over a real socket, and a
status logger that speaks on change only."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from cocoon_desktop.headless.journal import JournalFormatter, StatusLogger, heartbeat, sd_notify
from cocoon_desktop.node.status import NodeProblem, NodeState, NodeStatus


def test_journal_lines_carry_the_syslog_priority() -> None:
    formatter = JournalFormatter("%(message)s")
    record = logging.LogRecord("cocoon.x", logging.ERROR, __file__, 1, "bad %s", ("thing",), None)
    assert formatter.format(record) == "<3>cocoon.x: bad thing"
    record.levelno = logging.INFO
    assert formatter.format(record).startswith("<6>")


def test_sd_notify_reaches_systemds_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    address = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(address))
        monkeypatch.setenv("NOTIFY_SOCKET", str(address))
        assert sd_notify("READY=1") is True
        assert server.recv(100) == b"READY=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert sd_notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert sd_notify("READY=1") is False


def test_the_logger_speaks_on_change_and_says_what_to_do(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    logger = StatusLogger(logging.getLogger("test.node"), heartbeat_s=3600)
    serving = NodeStatus(state=NodeState.SERVING, headline="Serving on the devnet.")
    with caplog.at_level(logging.INFO, "test.node"):
        logger(serving)
        logger(serving)  # the same again: silent
        problem = NodeProblem("No keyring.", "Run it under dbus-run-session.")
        logger(NodeStatus(state=NodeState.FAILED, headline=problem.what,
                          what_to_do=problem.what_to_do, problems=("chain unreachable",)))
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert messages == [("INFO", "serving: Serving on the devnet."),
                        ("ERROR", "failed: No keyring."),
                        ("ERROR", "what to do: Run it under dbus-run-session."),
                        ("WARNING", "problem: chain unreachable")]


def test_a_heartbeat_after_a_quiet_while(caplog: pytest.LogCaptureFixture) -> None:
    logger = StatusLogger(logging.getLogger("test.beat"), heartbeat_s=0)
    serving = NodeStatus(state=NodeState.SERVING, headline="Serving.")
    with caplog.at_level(logging.INFO, "test.beat"):
        logger(serving)
        logger(serving)
    assert [r.getMessage() for r in caplog.records] == ["serving: Serving.", heartbeat(serving)]


def test_the_heartbeat_names_the_network_of_its_figures() -> None:
    from datetime import UTC, datetime

    from cocoon_desktop.earnings.figures import EarningsSummary, PeriodFigures
    from cocoon_desktop.settings import NetworkKind

    day = PeriodFigures(2, 30, 10, 3_080, 0.0, 0, 800, None)
    summary = EarningsSummary(datetime.now(UTC), day, day, day, day, 0, 0, 3_080, day, 2, 0.1, 12.0,
                              None, (), ())
    status = NodeStatus(state=NodeState.SERVING, headline="Serving.", network=NetworkKind.TESTNET,
                        earnings=summary, earnings_network=NetworkKind.DEVNET)
    line = heartbeat(status)
    assert ("Devnet: test tokens, not real TON: today 0.00000308 TON from 2 requests; "
            "pending 0.00000308 TON") in line  # the figures' network, not the one just picked
    real = heartbeat(NodeStatus(state=NodeState.SERVING, headline="Serving.",
                                network=NetworkKind.MAINNET, earnings=summary,
                                earnings_network=NetworkKind.MAINNET))
    assert "Mainnet: real TON: today" in real
