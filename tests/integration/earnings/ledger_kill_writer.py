"""A ledger writer process for the kill test: writes deterministic rows, reports each commit.

Run as `python -m tests.integration.earnings.ledger_kill_writer LEDGER WRITER_NO`. It resumes a
little before the last request it finds (so it re-sends some already-committed rows, which must
count once), then loops forever. After each write returns it prints one line and flushes:
`R <n>` (request n committed), `S <tokens>` (statement and proxy report committed together),
`P <n> <payout id>` (payout committed). The test kills it with SIGKILL at random moments.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import nacl.signing
from pytoniq_core import Address

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.records import (
    PayoutReason,
    PayoutStatus,
    ProxySession,
    ServedRequest,
)
from cocoon_desktop.protocol.pricing import PriceMultipliers, TokenCounts
from cocoon_desktop.protocol.statements import sign_statement, verify_statement

T0 = datetime(2025, 6, 1, tzinfo=UTC)
FEE = 1000
STATEMENT_EVERY = 7
PAYOUT_EVERY = 50


def proxy_seed(writer: int) -> bytes:
    return bytes([writer + 1]) * 32


@cache
def proxy_key(writer: int) -> str:
    return bytes(nacl.signing.SigningKey(proxy_seed(writer)).verify_key).hex()


def worker_sc(writer: int) -> Address:
    return Address(f"0:{writer:02x}" + "ab" * 31)


def request(writer: int, n: int) -> ServedRequest:
    """Request n of a writer: every field follows from (writer, n), so the test can check rows."""
    return ServedRequest.from_usage(
        request_id=f"{writer:08x}{n:056x}", proxy_key=proxy_key(writer), model=f"model-{n % 3}",
        tokens=TokenCounts(10 + n % 97, n % 7, 1 + n % 31, 0), coefficient=1000 + (n % 5) * 100,
        multipliers=PriceMultipliers(), worker_fee_per_token=FEE,
        started_at=T0 + timedelta(seconds=n),
        finished_at=T0 + timedelta(seconds=n, milliseconds=700),
    )


def cumulative_tokens(writer: int, count: int) -> list[int]:
    """Adjusted tokens of requests 0..n for each n < count: what the statement after n commits."""
    totals, running = [], 0
    for i in range(count):
        running += request(writer, i).adjusted_tokens
        totals.append(running)
    return totals


def write_forever(ledger: Ledger, writer: int) -> None:
    key = proxy_key(writer)
    ledger.register_proxy(ProxySession(key, "0:" + "22" * 32, worker_sc(writer).to_str(False), FEE))
    done = ledger.query("SELECT count(*) FROM served_requests WHERE proxy_key = ?", (key,))[0][0]
    n = max(0, done - 5)
    cumulative = cumulative_tokens(writer, n)[-1] if n else 0
    while True:
        served = request(writer, n)
        cumulative += served.adjusted_tokens
        ledger.record_request(served)
        print(f"R {n}", flush=True)
        if n % STATEMENT_EVERY == 0:
            boc = sign_statement(proxy_seed(writer), cumulative, worker_sc(writer),
                                 Address("0:" + "44" * 32), qid=n)
            ledger.record_statement(verify_statement(boc, bytes.fromhex(key)),
                                    db_tokens=cumulative, max_tokens=cumulative)
            print(f"S {cumulative}", flush=True)
        if n % PAYOUT_EVERY == 0 and n:
            draft = PayoutDraft(key, None, worker_sc(writer).to_str(False), 0, cumulative,
                                cumulative * FEE, 500_000_000, PayoutReason.THRESHOLD,
                                f"{writer}-{n}".encode().ljust(32, b"."))
            exists = ledger.query("SELECT id FROM payouts WHERE body_hash = ?", (draft.body_hash,))
            payout_id = exists[0][0] if exists else ledger.add_payout(draft)
            ledger.update_payout(payout_id, PayoutChange(PayoutStatus.SUBMITTED))
            print(f"P {n} {payout_id}", flush=True)
        n += 1


def main() -> None:
    with Ledger.open(Path(sys.argv[1])) as ledger:
        write_forever(ledger, int(sys.argv[2]))


if __name__ == "__main__":
    main()
