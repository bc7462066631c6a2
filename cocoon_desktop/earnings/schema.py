"""The ledger's SQLite schema and its migrations.

The schema version lives in `PRAGMA user_version`. Each migration runs in its own transaction
together with the version bump, so a crash mid-upgrade leaves the previous version intact and
the next start simply runs it again. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3

from cocoon_desktop.earnings.errors import LedgerTooNew

# Version 1: served requests, known proxies, signed statements, payouts.
_V1 = [
    """CREATE TABLE served_requests (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL UNIQUE,
        proxy_key TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL CHECK (prompt_tokens >= 0),
        cached_tokens INTEGER NOT NULL CHECK (cached_tokens >= 0),
        completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
        reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
        coefficient INTEGER NOT NULL CHECK (coefficient > 0),
        adjusted_tokens INTEGER NOT NULL,
        worker_fee_per_token INTEGER NOT NULL CHECK (worker_fee_per_token >= 0),
        earned_nanoton INTEGER NOT NULL,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        succeeded INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
        CHECK (earned_nanoton = adjusted_tokens * worker_fee_per_token),
        CHECK (finished_at_ms >= started_at_ms)
    )""",
    "CREATE INDEX served_requests_by_time ON served_requests (finished_at_ms)",
    "CREATE INDEX served_requests_by_proxy ON served_requests (proxy_key, finished_at_ms)",
    """CREATE TABLE proxies (
        proxy_key TEXT PRIMARY KEY,
        proxy_sc_address TEXT NOT NULL,
        worker_sc_address TEXT NOT NULL,
        worker_fee_per_token INTEGER NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        db_tokens INTEGER NOT NULL DEFAULT 0,
        max_tokens INTEGER NOT NULL DEFAULT 0,
        chain_tokens_processed INTEGER,
        chain_read_at_ms INTEGER
    )""",
    """CREATE TABLE payment_statements (
        id INTEGER PRIMARY KEY,
        proxy_key TEXT NOT NULL REFERENCES proxies (proxy_key),
        worker_sc_address TEXT NOT NULL,
        tokens_committed INTEGER NOT NULL CHECK (tokens_committed >= 0),
        qid TEXT NOT NULL,
        return_excesses_to TEXT NOT NULL,
        payload_hash BLOB NOT NULL UNIQUE,
        signature BLOB NOT NULL CHECK (length(signature) = 64),
        boc BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX payment_statements_by_proxy ON payment_statements (proxy_key, tokens_committed)",
    """CREATE TABLE payouts (
        id INTEGER PRIMARY KEY,
        proxy_key TEXT NOT NULL,
        statement_id INTEGER REFERENCES payment_statements (id),
        worker_sc_address TEXT NOT NULL,
        tokens_from INTEGER NOT NULL CHECK (tokens_from >= 0),
        tokens_to INTEGER NOT NULL CHECK (tokens_to >= tokens_from),
        amount_nanoton INTEGER NOT NULL CHECK (amount_nanoton >= 0),
        gas_nanoton INTEGER NOT NULL CHECK (gas_nanoton >= 0),
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        body_hash BLOB,
        tx_hash TEXT UNIQUE,
        owner_tx_hash TEXT UNIQUE,
        created_at_ms INTEGER NOT NULL,
        submitted_at_ms INTEGER,
        confirmed_at_ms INTEGER,
        received_at_ms INTEGER,
        error TEXT
    )""",
    "CREATE INDEX payouts_by_proxy ON payouts (proxy_key, tokens_to)",
]

# Version 2: energy per request (GPU monitoring) and a log of rejected statements.
_V2 = [
    "ALTER TABLE served_requests ADD COLUMN energy_j REAL CHECK (energy_j >= 0)",
    "ALTER TABLE served_requests ADD COLUMN energy_cost_nano INTEGER",
    "ALTER TABLE served_requests ADD COLUMN energy_currency TEXT",
    """CREATE TABLE rejected_statements (
        id INTEGER PRIMARY KEY,
        proxy_key TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        boc_sha256 BLOB NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        times_seen INTEGER NOT NULL DEFAULT 1,
        UNIQUE (proxy_key, boc_sha256)
    )""",
]

# Version 3: the hash of the external message that carried a payout (what explorers show).
_V3 = ["ALTER TABLE payouts ADD COLUMN external_msg_hash TEXT"]

# Version 4: hourly totals kept by a trigger in the same transaction as each request (figures
# and charts stay fast on years of requests), and served requests made append-only.
_ROLLUP_KEY = "hour_ms, model, proxy_key, energy_currency"
_ROLLUP_SUMS = ("requests", "adjusted_tokens", "completion_tokens", "earned_nanoton", "energy_j",
                "energy_cost_nano", "busy_ms")
_V4 = [
    f"""CREATE TABLE hourly_totals (
        hour_ms INTEGER NOT NULL,
        model TEXT NOT NULL,
        proxy_key TEXT NOT NULL,
        energy_currency TEXT NOT NULL,
        requests INTEGER NOT NULL,
        adjusted_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        earned_nanoton INTEGER NOT NULL,
        energy_j REAL NOT NULL,
        energy_cost_nano INTEGER NOT NULL,
        busy_ms INTEGER NOT NULL,
        PRIMARY KEY ({_ROLLUP_KEY})
    ) WITHOUT ROWID""",
    f"""INSERT INTO hourly_totals ({_ROLLUP_KEY}, {", ".join(_ROLLUP_SUMS)})
        SELECT finished_at_ms - finished_at_ms % 3600000, model, proxy_key,
               coalesce(energy_currency, ''), count(*), sum(adjusted_tokens),
               sum(completion_tokens), sum(earned_nanoton), coalesce(sum(energy_j), 0.0),
               coalesce(sum(energy_cost_nano), 0), sum(finished_at_ms - started_at_ms)
        FROM served_requests GROUP BY 1, 2, 3, 4""",
    f"""CREATE TRIGGER served_requests_rollup AFTER INSERT ON served_requests BEGIN
        INSERT INTO hourly_totals ({_ROLLUP_KEY}, {", ".join(_ROLLUP_SUMS)})
        VALUES (NEW.finished_at_ms - NEW.finished_at_ms % 3600000, NEW.model, NEW.proxy_key,
                coalesce(NEW.energy_currency, ''), 1, NEW.adjusted_tokens,
                NEW.completion_tokens, NEW.earned_nanoton, coalesce(NEW.energy_j, 0.0),
                coalesce(NEW.energy_cost_nano, 0), NEW.finished_at_ms - NEW.started_at_ms)
        ON CONFLICT ({_ROLLUP_KEY}) DO UPDATE SET
            {", ".join(f"{c} = {c} + excluded.{c}" for c in _ROLLUP_SUMS)};
    END""",
    """CREATE TRIGGER served_requests_never_updated BEFORE UPDATE ON served_requests BEGIN
        SELECT RAISE(ABORT, 'served requests are never changed: the ledger is append-only');
    END""",
    """CREATE TRIGGER served_requests_never_deleted BEFORE DELETE ON served_requests BEGIN
        SELECT RAISE(ABORT, 'served requests are never deleted: the ledger is append-only');
    END""",
]

# Version 5: writes that could not be stored however often tried (a value no column can hold),
# set aside with the reason instead of blocking every write after them.
_V5 = [
    """CREATE TABLE quarantined_writes (
        id INTEGER PRIMARY KEY,
        what TEXT NOT NULL,
        reason TEXT NOT NULL,
        quarantined_at_ms INTEGER NOT NULL
    )""",
]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5]
LATEST_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> int:
    """Bring the database up to `target`, one transaction per step; return the final version.

    `conn` must be in autocommit mode (`isolation_level=None`) so the explicit transactions
    below are the only ones.
    """
    current = schema_version(conn)
    if current > LATEST_VERSION:
        raise LedgerTooNew(
            f"the earnings ledger uses schema version {current}, newer than this app knows "
            f"({LATEST_VERSION}); update Cocoon Desktop to read it (nothing was changed)"
        )
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= version:  # another process upgraded it meanwhile
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)
