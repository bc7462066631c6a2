"""The ledger: idempotent writes, verified statements only, payouts, bad files, permissions."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cocoon_desktop.earnings.errors import LedgerTooNew
from cocoon_desktop.earnings.ledger import Ledger, LedgerError
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.records import PayoutReason, PayoutStatus, ServedRequest
from cocoon_desktop.earnings.schema import LATEST_VERSION
from cocoon_desktop.protocol.pricing import PriceMultipliers, TokenCounts
from cocoon_desktop.protocol.statements import RejectReason, StatementRejected
from tests.unit.earnings.conftest import make_proxy

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def served(n: int, proxy_key: str, *, prompt: int = 100, completion: int = 50,
           at: datetime = T0, fee: int = 1000) -> ServedRequest:
    return ServedRequest.from_usage(
        request_id=f"{n:064x}", proxy_key=proxy_key, model="smollm2",
        tokens=TokenCounts(prompt, 0, completion, 0), coefficient=1000,
        multipliers=PriceMultipliers(), worker_fee_per_token=fee,
        started_at=at - timedelta(seconds=3), finished_at=at,
    )


def test_a_request_recorded_twice_counts_once(ledger: Ledger, proxy) -> None:
    assert ledger.record_request(served(1, proxy.key_hex)) is True
    assert ledger.record_request(served(1, proxy.key_hex, prompt=999)) is False
    [stored] = ledger.requests()
    assert stored.tokens.prompt_tokens == 100 and stored.earned_nanoton == 150_000


def test_rows_survive_closing_and_reopening(tmp_path: Path, proxy) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path) as first:
        first.register_proxy(proxy.session)
        for n in range(5):
            first.record_request(served(n, proxy.key_hex, at=T0 + timedelta(minutes=n)))
    with Ledger.open(path) as second:
        assert [r.request_id for r in second.requests()] == [f"{n:064x}" for n in range(5)]
        assert second.requests(since=T0 + timedelta(minutes=3))[0].request_id == f"{3:064x}"
        assert second.proxy(proxy.key_hex).worker_sc_address == proxy.worker_sc.to_str(False)


def test_the_ledger_is_wal_with_full_sync_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite3"
    with Ledger.open(path) as ledger:
        assert ledger.query("PRAGMA journal_mode")[0][0] == "wal"
        assert ledger.query("PRAGMA synchronous")[0][0] == 2  # FULL
        assert ledger.query("PRAGMA user_version")[0][0] == LATEST_VERSION
        assert ledger.check_integrity() == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_statements_are_stored_once_and_the_latest_wins(ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    first, second = proxy.statement(1_000), proxy.statement(2_500)
    assert ledger.record_statement(first) is True
    assert ledger.record_statement(second, db_tokens=2_500, max_tokens=2_700) is True
    assert ledger.record_statement(first) is False
    _, latest = ledger.latest_statement(proxy.key_hex)
    assert latest == second  # stored as the worker verified it, read back whole
    assert len(ledger.statements(proxy.key_hex)) == 2
    info = ledger.proxy(proxy.key_hex)
    assert (info.db_tokens, info.max_tokens) == (2_500, 2_700)


def test_a_statement_for_another_contract_is_rejected_logged_and_not_stored(
        ledger: Ledger, proxy) -> None:
    """Validly signed by a registered proxy, but paying a contract that is not the one this
    proxy pays this worker through: the ledger's own check, not a signature check."""
    ledger.register_proxy(proxy.session)
    elsewhere = proxy.statement(5_000, worker_sc=make_proxy(7).worker_sc)
    for _ in range(2):
        with pytest.raises(StatementRejected) as caught:
            ledger.record_statement(elsewhere)
        assert caught.value.reason is RejectReason.WRONG_WORKER
    assert ledger.statements() == []
    [rejection] = ledger.rejected_statements()
    assert rejection.reason == "wrong_worker" and rejection.times_seen == 2
    assert proxy.worker_sc.to_str(False) in rejection.detail


def test_a_statement_from_an_unknown_proxy_is_rejected(ledger: Ledger, proxy) -> None:
    with pytest.raises(StatementRejected) as caught:
        ledger.record_statement(proxy.statement(5_000))
    assert caught.value.reason is RejectReason.UNKNOWN_PROXY
    assert ledger.statements() == []
    assert ledger.rejected_statements()[0].reason == "unknown_proxy"


def test_payouts_move_through_their_states(ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    ledger.record_statement(proxy.statement(9_000))
    statement_id, _ = ledger.latest_statement(proxy.key_hex)
    draft = PayoutDraft(proxy.key_hex, statement_id, proxy.worker_sc.to_str(False), 0, 9_000,
                        9_000_000, 500_000_000, PayoutReason.USER, b"h" * 32)
    payout_id = ledger.add_payout(draft, now=T0)
    ledger.update_payout(payout_id, PayoutChange(PayoutStatus.SUBMITTED), now=T0)
    ledger.update_payout(payout_id, PayoutChange(PayoutStatus.CONFIRMED, tx_hash="ab" * 32),
                         now=T0 + timedelta(seconds=10))
    ledger.update_payout(payout_id, PayoutChange(PayoutStatus.RECEIVED, owner_tx_hash="cd" * 32),
                         now=T0 + timedelta(seconds=20))
    [payout] = ledger.payouts(proxy.key_hex)
    assert payout.status is PayoutStatus.RECEIVED and payout.tx_hash == "ab" * 32
    assert payout.confirmed_at == T0 + timedelta(seconds=10)
    assert payout.received_at == T0 + timedelta(seconds=20)
    with pytest.raises(LedgerError, match="no payout #99"):
        ledger.update_payout(99, PayoutChange(PayoutStatus.FAILED))


def test_a_constraint_violation_rolls_back_the_whole_write(ledger: Ledger, proxy) -> None:
    bad = PayoutDraft(proxy.key_hex, None, "0:00", 10, 5, 1, 1, PayoutReason.USER, None)
    with pytest.raises(sqlite3.IntegrityError):
        ledger.add_payout(bad)
    assert ledger.payouts() == []
    assert ledger.record_request(served(1, proxy.key_hex)) is True  # the ledger still works


def test_bad_input_gets_a_clear_error_before_touching_the_ledger(proxy) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        served(1, "not-a-key")
    with pytest.raises(ValueError, match="time zone"):
        ServedRequest.from_usage(
            request_id="00" * 32, proxy_key=proxy.key_hex, model="m", tokens=TokenCounts(),
            coefficient=1000, multipliers=PriceMultipliers(), worker_fee_per_token=1,
            started_at=datetime(2025, 1, 1), finished_at=datetime(2025, 1, 1),
        )


def test_a_file_that_is_not_a_ledger_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match=r"damaged or not a ledger.*move it aside"):
        Ledger.open(path)
    assert path.read_bytes().startswith(b"this is not a database")


def test_a_ledger_from_a_newer_app_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerTooNew, match="update Cocoon Desktop"):
        Ledger.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


def test_iter_query_streams_every_row_in_batches(ledger: Ledger, proxy) -> None:
    for n in range(23):
        ledger.record_request(served(n, proxy.key_hex))
    ids = [row[0] for row in ledger.iter_query("SELECT id FROM served_requests", batch=5)]
    assert ids == sorted(ids) and len(ids) == 23


def test_recent_requests_are_newest_first_and_bounded(ledger: Ledger, proxy) -> None:
    for n in range(10):
        ledger.record_request(served(n, proxy.key_hex, at=T0 + timedelta(minutes=n)))
    recent = ledger.recent_requests(3)
    assert [r.request_id for r in recent] == [f"{n:064x}" for n in (9, 8, 7)]


def test_a_too_new_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    with pytest.raises(LedgerError):  # callers that catch LedgerError catch this one too
        Ledger.open(path)
