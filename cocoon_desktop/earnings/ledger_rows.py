"""SQL text and row <-> dataclass conversions for the ledger (kept apart from its logic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cocoon_desktop.earnings.records import (
    PayoutReason,
    PayoutRecord,
    PayoutStatus,
    ProxyInfo,
    RejectedStatement,
    ServedRequest,
    from_ms,
    to_ms,
)
from cocoon_desktop.protocol.pricing import TokenCounts
from cocoon_desktop.protocol.statements import VerifiedStatement

REQUEST_COLUMNS = (
    "id, request_id, proxy_key, model, prompt_tokens, cached_tokens, completion_tokens, "
    "reasoning_tokens, coefficient, adjusted_tokens, worker_fee_per_token, earned_nanoton, "
    "started_at_ms, finished_at_ms, succeeded, energy_j, energy_cost_nano, energy_currency"
)
INSERT_REQUEST = (
    f"INSERT INTO served_requests ({REQUEST_COLUMNS.removeprefix('id, ')}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (request_id) DO NOTHING"
)


def request_params(r: ServedRequest) -> tuple[Any, ...]:
    t = r.tokens
    return (r.request_id, r.proxy_key, r.model, t.prompt_tokens, t.cached_tokens,
            t.completion_tokens, t.reasoning_tokens, r.coefficient, r.adjusted_tokens,
            r.worker_fee_per_token, r.earned_nanoton, to_ms(r.started_at), to_ms(r.finished_at),
            int(r.succeeded), r.energy_j, r.energy_cost_nano, r.energy_currency)


def request_range(since: datetime | None, until: datetime | None) -> tuple[str, tuple[int, ...]]:
    sql = f"SELECT {REQUEST_COLUMNS} FROM served_requests WHERE finished_at_ms >= ? " \
          "AND finished_at_ms < ? ORDER BY finished_at_ms, id"
    low = to_ms(since) if since else -(2**62)
    high = to_ms(until) if until else 2**62
    return sql, (low, high)


def request_from_row(row: tuple[Any, ...]) -> ServedRequest:
    return ServedRequest(
        request_id=row[1], proxy_key=row[2], model=row[3],
        tokens=TokenCounts(row[4], row[5], row[6], row[7]), coefficient=row[8],
        adjusted_tokens=row[9], worker_fee_per_token=row[10], started_at=from_ms(row[12]),
        finished_at=from_ms(row[13]), succeeded=bool(row[14]), energy_j=row[15],
        energy_cost_nano=row[16], energy_currency=row[17],
    )


UPSERT_PROXY = (
    "INSERT INTO proxies (proxy_key, proxy_sc_address, worker_sc_address, worker_fee_per_token, "
    "first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (proxy_key) DO UPDATE SET "
    "proxy_sc_address = excluded.proxy_sc_address, worker_sc_address = excluded.worker_sc_address,"
    " worker_fee_per_token = excluded.worker_fee_per_token, last_seen_ms = excluded.last_seen_ms"
)
SELECT_PROXIES = (
    "SELECT proxy_key, proxy_sc_address, worker_sc_address, worker_fee_per_token, first_seen_ms,"
    " last_seen_ms, db_tokens, max_tokens, chain_tokens_processed, chain_read_at_ms FROM proxies"
)
UPDATE_PROXY_REPORT = (
    "UPDATE proxies SET db_tokens = max(db_tokens, ?), max_tokens = max(max_tokens, ?), "
    "last_seen_ms = ? WHERE proxy_key = ?"
)
UPDATE_CHAIN_STATE = (
    "UPDATE proxies SET chain_tokens_processed = ?, chain_read_at_ms = ? WHERE proxy_key = ?"
)


def proxy_from_row(row: tuple[Any, ...]) -> ProxyInfo:
    return ProxyInfo(
        proxy_key=row[0], proxy_sc_address=row[1], worker_sc_address=row[2],
        worker_fee_per_token=row[3], first_seen=from_ms(row[4]), last_seen=from_ms(row[5]),
        db_tokens=row[6], max_tokens=row[7], chain_tokens_processed=row[8],
        chain_read_at=from_ms(row[9]) if row[9] is not None else None,
    )


INSERT_STATEMENT = (
    "INSERT INTO payment_statements (proxy_key, worker_sc_address, tokens_committed, qid, "
    "return_excesses_to, payload_hash, signature, boc, received_at_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (payload_hash) DO NOTHING"
)
SELECT_STATEMENTS = (
    "SELECT id, proxy_key, worker_sc_address, tokens_committed, qid, return_excesses_to, "
    "payload_hash, signature, boc, received_at_ms FROM payment_statements"
)


def statement_params(s: VerifiedStatement, when: datetime) -> tuple[Any, ...]:
    return (s.proxy_key_hex, s.worker_sc_address, s.tokens_committed, str(s.qid),
            s.return_excesses_to, s.payload_hash, s.signature, s.boc, to_ms(when))


def statement_from_row(row: tuple[Any, ...]) -> VerifiedStatement:
    return VerifiedStatement(
        proxy_public_key=bytes.fromhex(row[1]), worker_sc_address=row[2],
        tokens_committed=row[3], qid=int(row[4]), return_excesses_to=row[5],
        payload_hash=bytes(row[6]), signature=bytes(row[7]), boc=bytes(row[8]),
    )


UPSERT_REJECTION = (
    "INSERT INTO rejected_statements (proxy_key, reason, detail, boc_sha256, first_seen_ms, "
    "last_seen_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (proxy_key, boc_sha256) DO UPDATE SET "
    "times_seen = times_seen + 1, last_seen_ms = excluded.last_seen_ms"
)
SELECT_REJECTIONS = (
    "SELECT proxy_key, reason, detail, first_seen_ms, last_seen_ms, times_seen "
    "FROM rejected_statements ORDER BY last_seen_ms"
)


def rejection_from_row(row: tuple[Any, ...]) -> RejectedStatement:
    return RejectedStatement(row[0], row[1], row[2], from_ms(row[3]), from_ms(row[4]), row[5])


@dataclass(frozen=True)
class PayoutDraft:
    """A payout about to be sent: which statement, which token range, how much gas."""

    proxy_key: str
    statement_id: int | None
    worker_sc_address: str
    tokens_from: int
    tokens_to: int
    amount_nanoton: int
    gas_nanoton: int
    reason: PayoutReason
    body_hash: bytes | None
    status: PayoutStatus = PayoutStatus.PREPARED
    tx_hash: str | None = None


@dataclass(frozen=True)
class PayoutChange:
    """A status change; hashes and the error are set only when given."""

    status: PayoutStatus
    tx_hash: str | None = None
    owner_tx_hash: str | None = None
    error: str | None = None
    external_msg_hash: str | None = None


PAYOUT_COLUMNS = (
    "id, proxy_key, statement_id, worker_sc_address, tokens_from, tokens_to, amount_nanoton, "
    "gas_nanoton, reason, status, body_hash, tx_hash, owner_tx_hash, created_at_ms, "
    "submitted_at_ms, confirmed_at_ms, received_at_ms, error, external_msg_hash"
)
INSERT_PAYOUT = (
    "INSERT INTO payouts (proxy_key, statement_id, worker_sc_address, tokens_from, tokens_to, "
    "amount_nanoton, gas_nanoton, reason, status, body_hash, tx_hash, created_at_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_PAYOUTS = f"SELECT {PAYOUT_COLUMNS} FROM payouts"
_STATUS_TIME = {
    PayoutStatus.SUBMITTED: "submitted_at_ms",
    PayoutStatus.CONFIRMED: "confirmed_at_ms",
    PayoutStatus.RECEIVED: "received_at_ms",
}


def payout_params(d: PayoutDraft, when: datetime) -> tuple[Any, ...]:
    return (d.proxy_key, d.statement_id, d.worker_sc_address, d.tokens_from, d.tokens_to,
            d.amount_nanoton, d.gas_nanoton, d.reason.value, d.status.value, d.body_hash,
            d.tx_hash, to_ms(when))


def payout_update(payout_id: int, change: PayoutChange, when_ms: int
                  ) -> tuple[str, tuple[Any, ...]]:
    sets, params = ["status = ?"], [change.status.value]
    for column, value in (("tx_hash", change.tx_hash), ("owner_tx_hash", change.owner_tx_hash),
                          ("error", change.error),
                          ("external_msg_hash", change.external_msg_hash)):
        if value is not None:
            sets.append(f"{column} = ?")
            params.append(value)
    if change.status in _STATUS_TIME:
        column = _STATUS_TIME[change.status]
        sets.append(f"{column} = coalesce({column}, ?)")
        params.append(when_ms)
    return f"UPDATE payouts SET {', '.join(sets)} WHERE id = ?", (*params, payout_id)


def _opt_ms(value: int | None) -> datetime | None:
    return from_ms(value) if value is not None else None


def payout_from_row(row: tuple[Any, ...]) -> PayoutRecord:
    return PayoutRecord(
        id=row[0], proxy_key=row[1], statement_id=row[2], worker_sc_address=row[3],
        tokens_from=row[4], tokens_to=row[5], amount_nanoton=row[6], gas_nanoton=row[7],
        reason=PayoutReason(row[8]), status=PayoutStatus(row[9]),
        body_hash=bytes(row[10]) if row[10] is not None else None, tx_hash=row[11],
        owner_tx_hash=row[12], created_at=from_ms(row[13]), submitted_at=_opt_ms(row[14]),
        confirmed_at=_opt_ms(row[15]), received_at=_opt_ms(row[16]), error=row[17],
        external_msg_hash=row[18],
    )
