"""The earnings ledger: one SQLite file that never loses a committed row.

WAL journal with `synchronous=FULL`, so a write reported as done is on disk before the call
returns; every write is one `BEGIN IMMEDIATE ... COMMIT` transaction; inserts are idempotent (a
request id or a statement recorded twice counts once). One connection, used by one thread at a
time under a lock (the app calls it through `run_blocking`); other processes wait up to the busy
timeout. Payment statements arrive verified (the worker checked their signatures); the ledger
checks that they belong to a proxy it registered and to that proxy's worker contract.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cocoon_desktop.earnings import ledger_rows as rows
from cocoon_desktop.earnings.errors import LedgerError
from cocoon_desktop.earnings.records import (
    PayoutRecord,
    ProxyInfo,
    ProxySession,
    RejectedStatement,
    ServedRequest,
    check_hex64,
    to_ms,
)
from cocoon_desktop.earnings.schema import migrate
from cocoon_desktop.protocol.statements import RejectReason, StatementRejected, VerifiedStatement

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """WAL, full sync, foreign keys, schema up to date.

    Two processes opening a new ledger at once can get SQLITE_BUSY from the WAL set-up without
    SQLite's busy handler being called; that is contention, not damage, so retry until the
    busy timeout instead of calling the file damaged.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise LedgerError(f"the ledger {path} could not switch to WAL (got {mode}); "
                                  "keep the app's data folder on a local disk (network shares "
                                  "cannot hold it)")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Ledger:
    """Open with `Ledger.open(app_paths().ledger_file)`; close when done (or use `with`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Create or open the ledger at `path` (private to the user) and bring its schema up."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            conn = sqlite3.connect(
                path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False
            )
        except OSError as exc:
            raise LedgerError(
                f"cannot open the earnings ledger {path}: {exc.strerror}; check the folder's "
                "permissions and free space"
            ) from None
        try:
            _prepare(conn, path)
        except LedgerError:  # too new, or not in WAL mode
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(
                f"the earnings ledger {path} is damaged or not a ledger ({exc}); move it aside "
                "(the app starts a new one) and keep it for recovery: payouts already made stay "
                "visible in your wallet"
            ) from None
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed (and on disk) when the block ends, rolled back on error."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise LedgerError(
                    f"the earnings ledger is busy or read-only ({exc}); is another copy of the "
                    "app running with the same data folder?"
                ) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query (figures, exports); returns all rows."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def iter_query(self, sql: str, params: Sequence[Any] = (), batch: int = 500
                   ) -> Iterator[tuple[Any, ...]]:
        """Like `query`, in batches, for exports of any size (the lock is released between)."""
        last_id = -1
        while True:
            chunk = self.query(f"SELECT * FROM ({sql}) WHERE id > ? ORDER BY id LIMIT ?",
                               (*params, last_id, batch))
            if not chunk:
                return
            yield from chunk
            last_id = chunk[-1][0]

    # --- requests ---------------------------------------------------------------------------

    def record_request(self, request: ServedRequest) -> bool:
        """Store a served request; False when its request id was already recorded."""
        with self._write() as conn:
            cursor = conn.execute(rows.INSERT_REQUEST, rows.request_params(request))
        return cursor.rowcount == 1

    def record_requests(self, requests: Iterable[ServedRequest]) -> int:
        """Store many requests in one transaction (imports); returns how many were new."""
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(rows.INSERT_REQUEST, (rows.request_params(r) for r in requests))
            return conn.total_changes - before

    def recent_requests(self, limit: int = 200) -> list[ServedRequest]:
        """The `limit` most recently finished requests, newest first (for lists in the UI)."""
        found = self.query(f"SELECT {rows.REQUEST_COLUMNS} FROM served_requests "
                           "ORDER BY finished_at_ms DESC, id DESC LIMIT ?", (limit,))
        return [rows.request_from_row(r) for r in found]

    def requests(self, since: datetime | None = None, until: datetime | None = None
                 ) -> list[ServedRequest]:
        """Served requests finished in [since, until), oldest first."""
        sql, params = rows.request_range(since, until)
        return [rows.request_from_row(r) for r in self.query(sql, params)]

    # --- proxies and statements ---------------------------------------------------------------

    def register_proxy(self, session: ProxySession, now: datetime | None = None) -> None:
        """Remember a proxy from its handshake, so its statements can be verified."""
        ms = to_ms(now or _now())
        with self._write() as conn:
            conn.execute(rows.UPSERT_PROXY, (session.proxy_key, session.proxy_sc_address,
                         session.worker_sc_address, session.worker_fee_per_token, ms, ms))

    def proxies(self) -> list[ProxyInfo]:
        return [rows.proxy_from_row(r) for r in self.query(rows.SELECT_PROXIES)]

    def proxy(self, proxy_key: str) -> ProxyInfo | None:
        found = self.query(rows.SELECT_PROXIES + " WHERE proxy_key = ?",
                           (check_hex64(proxy_key, "proxy key"),))
        return rows.proxy_from_row(found[0]) if found else None

    def record_statement(self, statement: VerifiedStatement, now: datetime | None = None,
                         db_tokens: int | None = None, max_tokens: int | None = None) -> bool:
        """Store a statement the worker verified; True when it was new.

        Its signature is not checked again (a `VerifiedStatement` comes only out of
        `verify_statement`); the ledger checks what is its own: the proxy is registered under
        the statement's key, and the statement pays the worker contract registered with it.
        Otherwise StatementRejected, logged in the rejection log, and nothing else is stored.
        `db_tokens`/`max_tokens` are the proxy's unsigned figures sent with it.
        """
        when = now or _now()
        info = self.proxy(statement.proxy_key_hex)
        try:
            if info is None:
                raise StatementRejected(
                    RejectReason.UNKNOWN_PROXY,
                    "a payment statement came from a proxy key this worker never connected to",
                )
            if info.worker_sc_address != statement.worker_sc_address:
                raise StatementRejected(
                    RejectReason.WRONG_WORKER,
                    f"the statement pays contract {statement.worker_sc_address}, not the "
                    f"{info.worker_sc_address} this proxy pays this worker through",
                )
        except StatementRejected as exc:
            self.record_rejection(statement.proxy_key_hex, statement.boc, exc.reason,
                                  exc.detail, when)
            raise
        with self._write() as conn:
            cursor = conn.execute(rows.INSERT_STATEMENT, rows.statement_params(statement, when))
            if db_tokens is not None and max_tokens is not None:
                conn.execute(rows.UPDATE_PROXY_REPORT,
                             (db_tokens, max_tokens, to_ms(when), statement.proxy_key_hex))
        return cursor.rowcount == 1

    def update_proxy_report(self, proxy_key: str, db_tokens: int, max_tokens: int,
                            now: datetime | None = None) -> None:
        """Store what the proxy last said it counted for us (`worker.paymentStatus`)."""
        with self._write() as conn:
            conn.execute(rows.UPDATE_PROXY_REPORT, (db_tokens, max_tokens, to_ms(now or _now()),
                                                    check_hex64(proxy_key, "proxy key")))

    def record_chain_state(self, proxy_key: str, tokens_processed: int,
                           now: datetime | None = None) -> None:
        """Store the worker contract's paid-out counter as just read from chain."""
        with self._write() as conn:
            conn.execute(rows.UPDATE_CHAIN_STATE, (tokens_processed, to_ms(now or _now()),
                                                   check_hex64(proxy_key, "proxy key")))

    def latest_statement(self, proxy_key: str) -> tuple[int, VerifiedStatement] | None:
        """The statement committing the most tokens for this proxy, with its row id."""
        found = self.query(rows.SELECT_STATEMENTS + " WHERE proxy_key = ? "
                           "ORDER BY tokens_committed DESC, id DESC LIMIT 1",
                           (check_hex64(proxy_key, "proxy key"),))
        return (found[0][0], rows.statement_from_row(found[0])) if found else None

    def statements(self, proxy_key: str | None = None) -> list[tuple[int, VerifiedStatement]]:
        sql, params = rows.SELECT_STATEMENTS, ()
        if proxy_key is not None:
            sql, params = sql + " WHERE proxy_key = ?", (check_hex64(proxy_key, "proxy key"),)
        return [(r[0], rows.statement_from_row(r)) for r in self.query(sql + " ORDER BY id",
                                                                       params)]

    def record_rejection(self, proxy_key: str, boc: bytes, reason: RejectReason, detail: str,
                         now: datetime | None = None) -> None:
        """Log a refused statement (here, or by the worker on the wire); the same statement
        refused again counts up `times_seen`. Nothing of it is trusted or stored otherwise."""
        log.warning("payment statement rejected (%s): %s", reason.value, detail)
        digest = hashlib.sha256(boc).digest()
        when = to_ms(now or _now())
        with self._write() as conn:
            conn.execute(rows.UPSERT_REJECTION, (proxy_key[:64], reason.value, detail, digest,
                                                 when, when))

    def rejected_statements(self) -> list[RejectedStatement]:
        return [rows.rejection_from_row(r) for r in self.query(rows.SELECT_REJECTIONS)]

    def record_quarantine(self, what: str, reason: str, now: datetime | None = None) -> None:
        """Set aside a write that can never succeed (`what` it was, `reason` it failed)."""
        log.error("ledger write set aside: %s: %s", what, reason)
        with self._write() as conn:
            conn.execute("INSERT INTO quarantined_writes (what, reason, quarantined_at_ms) "
                         "VALUES (?, ?, ?)", (what[:500], reason[:500], to_ms(now or _now())))

    def quarantined_writes(self) -> list[tuple[str, str, datetime]]:
        """(what, reason, when) of every write set aside, oldest first."""
        return [(r[0], r[1], datetime.fromtimestamp(r[2] / 1000, UTC)) for r in self.query(
            "SELECT what, reason, quarantined_at_ms FROM quarantined_writes ORDER BY id")]

    # --- payouts ------------------------------------------------------------------------------

    def add_payout(self, draft: rows.PayoutDraft, now: datetime | None = None) -> int:
        """Store a payout before it is sent (status `prepared`); returns its id."""
        with self._write() as conn:
            cursor = conn.execute(rows.INSERT_PAYOUT, rows.payout_params(draft, now or _now()))
        return int(cursor.lastrowid or 0)

    def update_payout(self, payout_id: int, change: rows.PayoutChange,
                      now: datetime | None = None) -> None:
        """Move a payout to a new status, with the transaction hashes seen on chain."""
        sql, params = rows.payout_update(payout_id, change, to_ms(now or _now()))
        with self._write() as conn:
            if conn.execute(sql, params).rowcount != 1:
                raise LedgerError(f"there is no payout #{payout_id} in the ledger; reload the "
                                  "payouts and pick one listed")

    def payouts(self, proxy_key: str | None = None) -> list[PayoutRecord]:
        sql, params = rows.SELECT_PAYOUTS, ()
        if proxy_key is not None:
            sql, params = sql + " WHERE proxy_key = ?", (check_hex64(proxy_key, "proxy key"),)
        return [rows.payout_from_row(r) for r in self.query(sql + " ORDER BY id", params)]

    def check_integrity(self) -> list[str]:
        """SQLite's own check; an empty list means the file is sound."""
        result = [r[0] for r in self.query("PRAGMA integrity_check")]
        return [] if result == ["ok"] else result
