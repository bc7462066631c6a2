"""`cocoon-desktop-cli earnings`: summary, reconcile, export and check on a real ledger file."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cocoon_desktop.cli import main
from cocoon_desktop.earnings.ledger import Ledger
from tests.unit.earnings.earnings_helpers import record


@pytest.fixture
def ledger_file(tmp_path: Path, proxy) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        ledger.register_proxy(proxy.session)
        record(ledger, datetime(2025, 2, 3, 10, tzinfo=UTC), proxy=proxy.key_hex,
               adjusted=1_500_000)
        record(ledger, datetime.now(UTC), proxy=proxy.key_hex, adjusted=250_000)
    return path


def test_summary_prints_the_periods(ledger_file: Path, capsys) -> None:
    assert main(["earnings", "--ledger", str(ledger_file), "summary"]) == 0
    out = capsys.readouterr().out
    assert "today" in out and "0.25 TON" in out
    assert "all time" in out and "1.75 TON" in out


def test_summary_as_json(ledger_file: Path, capsys) -> None:
    assert main(["earnings", "--ledger", str(ledger_file), "summary", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["all_time"]["earned_nanoton"] == 1_750_000_000


def test_reconcile_explains_the_gaps(ledger_file: Path, capsys) -> None:
    assert main(["earnings", "--ledger", str(ledger_file), "reconcile"]) == 0
    out = capsys.readouterr().out
    assert "proxy has not yet committed 1,750,000 tokens (1.75 TON)" in out


def test_export_a_period(ledger_file: Path, tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "2025-q1.csv"
    assert main(["earnings", "--ledger", str(ledger_file), "export", str(out_file),
                 "--since", "2025-01-01", "--until", "2025-04-01"]) == 0
    assert "wrote 1 rows" in capsys.readouterr().out
    with out_file.open() as handle:
        [row] = list(csv.DictReader(handle))
    assert row["amount_nanoton"] == "1500000000"


def test_check_and_a_missing_ledger(ledger_file: Path, tmp_path: Path, capsys) -> None:
    assert main(["earnings", "--ledger", str(ledger_file), "check"]) == 0
    assert "sound" in capsys.readouterr().out
    assert main(["earnings", "--ledger", str(tmp_path / "none.sqlite3"), "summary"]) == 1
    assert "no earnings ledger" in capsys.readouterr().out


def test_a_damaged_ledger_is_reported_not_raised(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"\x00garbage" * 64)
    assert main(["earnings", "--ledger", str(bad), "summary"]) == 2
    assert "move it aside" in capsys.readouterr().out
