"""CSV export: ISO times with offset, exact amounts twice, payouts, injection-safe, atomic."""

from __future__ import annotations

import csv
import errno
import stat
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cocoon_desktop.earnings.export import COLUMNS, ExportError, export_csv
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.records import PayoutReason, PayoutStatus
from tests.unit.earnings.earnings_helpers import record

BERLIN = ZoneInfo("Europe/Berlin")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_one_row_per_request_and_per_payout(ledger: Ledger, proxy, tmp_path: Path) -> None:
    ledger.register_proxy(proxy.session)
    record(ledger, datetime(2025, 7, 1, 10, 0, 0, 123000, tzinfo=UTC), proxy=proxy.key_hex,
           adjusted=1_234_567, fee=1000, energy_j=12.5, cost_nano=1_000_000, currency="EUR")
    record(ledger, datetime(2025, 1, 1, 10, 0, tzinfo=UTC), proxy=proxy.key_hex, adjusted=1,
           fee=1)
    payout_id = ledger.add_payout(PayoutDraft(
        proxy.key_hex, None, proxy.worker_sc.to_str(False), 0, 1_234_568, 1_234_567_001,
        500_000_000, PayoutReason.USER, b"x" * 32), now=datetime(2025, 7, 2, tzinfo=UTC))
    ledger.update_payout(payout_id, PayoutChange(PayoutStatus.CONFIRMED, tx_hash="ab" * 32),
                         now=datetime(2025, 7, 2, 0, 1, tzinfo=UTC))
    out = tmp_path / "earnings.csv"
    assert export_csv(ledger, out, BERLIN) == 3
    rows = read(out)
    assert tuple(rows[0]) == COLUMNS
    summer, winter, payout = rows
    assert summer["time"] == "2025-07-01T12:00:00.123+02:00"  # local time, with its offset
    assert winter["time"] == "2025-01-01T11:00:00.000+01:00"
    assert summer["amount_ton"] == "1.234567000" and summer["amount_nanoton"] == "1234567000"
    assert winter["amount_ton"] == "0.000000001" and winter["amount_nanoton"] == "1"
    assert summer["energy_j"] == "12.500" and summer["energy_cost"] == "0.001000000"
    assert summer["proxy"] == proxy.proxy_sc.to_str(False)
    assert payout["kind"] == "payout" and payout["id"] == str(payout_id)
    assert payout["time"] == "2025-07-02T02:01:00.000+02:00"  # when the contract paid
    assert payout["amount_ton"] == "1.234567001" and payout["gas_ton"] == "0.500000000"
    assert (payout["status"], payout["tx_hash"]) == ("confirmed", "ab" * 32)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # financial records stay private


def test_a_period_can_be_exported(ledger: Ledger, tmp_path: Path) -> None:
    for month in (1, 2, 3):
        record(ledger, datetime(2025, month, 15, tzinfo=UTC))
    out = tmp_path / "q.csv"
    count = export_csv(ledger, out, UTC, since=datetime(2025, 2, 1, tzinfo=UTC),
                       until=datetime(2025, 3, 1, tzinfo=UTC))
    assert count == 1 and read(out)[0]["time"].startswith("2025-02-15")


def test_text_that_looks_like_a_formula_is_neutralised(ledger: Ledger, tmp_path: Path) -> None:
    record(ledger, datetime(2025, 1, 1, tzinfo=UTC), model="=HYPERLINK(\"http://x\")")
    out = tmp_path / "e.csv"
    export_csv(ledger, out, UTC)
    assert read(out)[0]["model"] == "'=HYPERLINK(\"http://x\")"


def test_a_failed_export_leaves_no_file_and_says_why(ledger: Ledger, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="choose another folder"):
        export_csv(ledger, tmp_path / "missing" / "e.csv", UTC)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ExportError, match="nothing was changed"):
        export_csv(ledger, tmp_path / "dir.csv", UTC)
    assert list(tmp_path.glob(".earnings-*")) == []


def test_a_disk_full_mid_export_keeps_the_previous_file(ledger: Ledger, tmp_path: Path,
                                                        monkeypatch) -> None:
    record(ledger, datetime(2025, 1, 1, tzinfo=UTC))
    destination = tmp_path / "e.csv"
    destination.write_text("last year's export")

    def rows_then_disk_full(*args: object) -> object:
        yield ["request"] + [""] * (len(COLUMNS) - 1)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("cocoon_desktop.earnings.export.export_rows", rows_then_disk_full)
    with pytest.raises(ExportError, match=r"No space left.*free space"):
        export_csv(ledger, destination, UTC)
    assert destination.read_text() == "last year's export"
    assert list(tmp_path.glob(".earnings-*")) == []
