"""Schema migrations: a version-1 ledger full of data upgrades in place and loses nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cocoon_desktop.earnings.figures import summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.schema import LATEST_VERSION, MIGRATIONS, migrate, schema_version


def v1_ledger(path: Path) -> None:
    """Write a ledger exactly as version 1 of the app did, with rows in every table."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO served_requests (request_id, proxy_key, model, prompt_tokens, cached_tokens,"
        " completion_tokens, reasoning_tokens, coefficient, adjusted_tokens, worker_fee_per_token,"
        " earned_nanoton, started_at_ms, finished_at_ms, succeeded) "
        "VALUES (?, ?, 'm', 10, 0, 5, 0, 1000, 15, 1000, 15000, 1000, 2000, 1)",
        ("aa" * 32, "bb" * 32),
    )
    conn.execute(
        "INSERT INTO proxies (proxy_key, proxy_sc_address, worker_sc_address, "
        "worker_fee_per_token, first_seen_ms, last_seen_ms) VALUES (?, '0:1', '0:2', 1000, 1, 2)",
        ("bb" * 32,),
    )
    conn.execute(
        "INSERT INTO payouts (proxy_key, worker_sc_address, tokens_from, tokens_to, "
        "amount_nanoton, gas_nanoton, reason, status, created_at_ms) "
        "VALUES (?, '0:2', 0, 15, 15000, 500000000, 'user', 'confirmed', 3)",
        ("bb" * 32,),
    )
    conn.close()


def test_every_migration_is_listed_once() -> None:
    assert len(MIGRATIONS) == LATEST_VERSION >= 2


def test_a_v1_ledger_upgrades_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    v1_ledger(path)
    with Ledger.open(path) as ledger:
        assert ledger.query("PRAGMA user_version")[0][0] == LATEST_VERSION
        [request] = ledger.requests()
        assert request.request_id == "aa" * 32 and request.earned_nanoton == 15_000
        assert request.energy_j is None  # the column added by version 2
        assert ledger.payouts()[0].amount_nanoton == 15_000
        assert ledger.proxy("bb" * 32).worker_fee_per_token == 1000
        assert ledger.rejected_statements() == []
        assert ledger.check_integrity() == []
        # Version 4's hourly totals were filled from the rows already there.
        assert summarize(ledger, now=datetime(2025, 1, 1, tzinfo=UTC), zone=UTC
                         ).all_time.earned_nanoton == 15_000


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path: Path,
                                                                monkeypatch) -> None:
    path = tmp_path / "ledger.sqlite3"
    v1_ledger(path)
    broken = [*MIGRATIONS[1][:2], "THIS IS NOT SQL"]
    monkeypatch.setattr("cocoon_desktop.earnings.schema.MIGRATIONS", [MIGRATIONS[0], broken])
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert schema_version(conn) == 1
    columns = [row[1] for row in conn.execute("PRAGMA table_info(served_requests)")]
    assert "energy_j" not in columns  # the half-done step was rolled back
    conn.close()
    monkeypatch.undo()
    with Ledger.open(path) as ledger:  # and the real upgrade still works afterwards
        assert ledger.requests()[0].energy_j is None


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "l.sqlite3", isolation_level=None)
    assert migrate(conn) == LATEST_VERSION
    assert migrate(conn) == LATEST_VERSION
    conn.close()
