"""Earnings per network in the real app shell: an old single ledger is adopted for the network
the settings name; picking another network shows that network's own (empty) figures, and the
earnings page, the dashboard glance, the tray and the CSV name all say which network and
whether its amounts are real TON."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import ServedRequest
from cocoon_desktop.protocol.pricing import TokenCounts
from cocoon_desktop.settings import AppSettings, NetworkKind, save_settings

DEVNET_NOTE = "Devnet: test tokens, not real TON"


def served(n: int) -> ServedRequest:
    finished = datetime.now(UTC) - timedelta(minutes=n)
    return ServedRequest(f"{n:064x}", "cd" * 32, "smollm", TokenCounts(20, 0, 8), 1000, 28,
                         110, finished - timedelta(seconds=2), finished)  # 3,080 nanoTON


def notes(shell: Any) -> tuple[str, str]:
    w = shell.windows
    return w.earnings.network_note.text(), w.dashboard.glance.network_note.text()


def suggested_csv_name(page: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    offered: list[str] = []

    def dialog(_parent: Any, _title: str, name: str, _filter: str) -> tuple[str, str]:
        offered.append(name)
        return "", ""  # the user cancels

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    page.export_button.click()
    return offered[0]


def test_each_network_shows_its_own_figures_and_says_what_they_are(
        qtbot: Any, run_async: Any, paths: Any, shell_factory: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger.open(paths.data_dir / "ledger.sqlite3") as old:  # from before the split
        old.record_request(served(1))
    save_settings(paths.settings_file, AppSettings(wizard_completed=True))  # the devnet
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    page, glance = shell.windows.earnings, shell.windows.dashboard.glance
    qtbot.waitUntil(lambda: page.figures["All time"].value.text() == "0.00000308 TON",
                    timeout=20_000)
    assert not (paths.data_dir / "ledger.sqlite3").exists()  # adopted, not lost
    assert (paths.data_dir / "ledger-devnet.sqlite3").exists()
    assert notes(shell) == (DEVNET_NOTE, DEVNET_NOTE)
    assert glance.figures["all time"].value.text() == "0.00000308 TON"
    assert page.table.rowCount() == 1 and page.table.item(0, 8).text() == "—"  # not measured
    qtbot.waitUntil(lambda: DEVNET_NOTE in shell.tray.icon.toolTip(), timeout=20_000)
    assert "Earned all time: 0.00000308 TON" in shell.tray.icon.toolTip()
    today = datetime.now().date().isoformat()
    assert suggested_csv_name(page, monkeypatch) == f"cocoon-earnings-devnet-{today}.csv"

    run_async(shell.settings.update(network=NetworkKind.TESTNET), 10_000)
    testnet_note = "Testnet: test tokens, not real TON"
    qtbot.waitUntil(lambda: notes(shell) == (testnet_note, testnet_note), timeout=30_000)
    qtbot.waitUntil(lambda: page.figures["All time"].value.text() == "0.00 TON",
                    timeout=30_000)
    assert page.table.rowCount() == 0 and glance.figures["all time"].value.text() == "0.00 TON"
    qtbot.waitUntil(lambda: testnet_note in shell.tray.icon.toolTip(), timeout=20_000)
    assert "Earned all time: 0.00 TON" in shell.tray.icon.toolTip()
    assert suggested_csv_name(page, monkeypatch) == f"cocoon-earnings-testnet-{today}.csv"
    exported = paths.data_dir.parent / "testnet.csv"
    run_async(page.export_to(exported), 10_000)
    with exported.open(newline="") as f:
        kinds = [row["kind"] for row in csv.DictReader(f)]
    assert kinds == []  # the devnet's request is not in the testnet's export

    run_async(shell.settings.update(network=NetworkKind.MAINNET), 10_000)
    qtbot.waitUntil(lambda: notes(shell)[0] == "Mainnet: real TON", timeout=30_000)
    assert shell.earnings.ledger.path == paths.data_dir / "ledger-mainnet.sqlite3"
    with Ledger.open(paths.data_dir / "ledger-devnet.sqlite3") as devnet:
        assert len(devnet.requests()) == 1  # untouched by the switches


def test_a_row_read_before_the_switch_never_shows_under_the_new_label(
        qtbot: Any, run_async: Any, paths: Any, shell_factory: Any) -> None:
    save_settings(paths.settings_file, AppSettings(wizard_completed=True))
    with Ledger.open(paths.data_dir / "ledger-devnet.sqlite3") as devnet:
        devnet.record_request(served(2))
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    seen: list[tuple[str, str]] = []
    shell.earnings.earnings_updated.connect(
        lambda view: seen.append((view.network.value, str(view.summary.all_time.requests))))
    run_async(shell.settings.update(network=NetworkKind.TESTNET), 10_000)
    qtbot.waitUntil(lambda: ("testnet", "0") in seen, timeout=30_000)
    assert ("testnet", "1") not in seen  # every view carries the network it was read from
    assert shell.glance.facts.earnings_network in (NetworkKind.TESTNET, None)
