"""A record the ledger cannot hold never jams the queue: it is set aside with its reason (shown
by reconcile and `earnings reconcile`) and every write after it is stored."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.reconcile import GapKind, reconcile
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.network.tl.worker import SignedPayment
from cocoon_desktop.network.worker.accounts import ProxyAccount
from cocoon_desktop.network.worker.types import RequestFinished
from cocoon_desktop.protocol.pricing import AdjustedTokens, TokenCounts
from cocoon_desktop.protocol.statements import (
    RejectReason,
    StatementRejected,
    sign_statement,
    verify_statement,
)
from tests.unit.earnings.test_earnings_recorder import T0, finished

HUGE = 2**63 - 1
ROOT = Path(__file__).resolve().parents[3]


def jammed(proxy_key: str) -> RequestFinished:
    """What an unchecked coefficient of 2^63-1 made: adjusted tokens no INTEGER can hold."""
    return RequestFinished(
        request_id="ff" * 32, proxy_key=proxy_key, model="m", succeeded=True, error=None,
        tokens=TokenCounts(10, 0, 5, 0), adjusted=AdjustedTokens(HUGE, 0, HUGE, 0),
        coefficient=HUGE, worker_fee_per_token=1000, started_at=T0,
        finished_at=T0 + timedelta(seconds=1))


def test_an_unwritable_record_is_quarantined_and_the_queue_moves_on(ledger: Ledger, proxy,
                                                                     tmp_path) -> None:
    recorder = EarningsRecorder(ledger)
    recorder.on_worker_event(jammed(proxy.key_hex))
    for n in (1, 2, 3):
        recorder.on_worker_event(finished(n, proxy.key_hex))
    recorder.close()
    assert [r.request_id[-1] for r in ledger.requests()] == ["1", "2", "3"]
    assert recorder.backlog == 0
    [(what, reason, _)] = ledger.quarantined_writes()
    assert what.startswith("request ffffffffffffffff") and "OverflowError" in reason
    gaps = [g for g in reconcile(ledger).rejections if g.kind is GapKind.QUARANTINED]
    assert len(gaps) == 1 and "not counted" in gaps[0].message
    path = ledger.path
    ledger.close()
    with Ledger.open(path) as reopened:  # still there after a reopen
        assert len(reopened.requests()) == 3 and len(reopened.quarantined_writes()) == 1
    shown = subprocess.run([sys.executable, "-m", "cocoon_desktop", "earnings", "--ledger",
                            str(path), "reconcile"], capture_output=True, text=True,
                           timeout=120, cwd=ROOT,
                           env={"COCOON_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert "set aside on" in shown.stdout and "OverflowError" in shown.stdout, shown.stderr


def test_a_validly_signed_statement_beyond_int64_is_refused_as_malformed(ledger: Ledger,
                                                                          proxy) -> None:
    boc = sign_statement(proxy.seed, 2**64 - 1, proxy.worker_sc, proxy.proxy_wallet)
    with pytest.raises(StatementRejected, match="beyond upstream's 64-bit signed limit") as info:
        verify_statement(boc, bytes.fromhex(proxy.key_hex))
    assert info.value.reason is RejectReason.MALFORMED
    # The worker refuses it on the wire; the refusal, not the statement, reaches the ledger.
    ledger.register_proxy(proxy.session)
    recorder = EarningsRecorder(ledger)
    account = ProxyAccount(recorder.on_worker_event, bytes.fromhex(proxy.key_hex),
                           proxy.session.proxy_sc_address, proxy.session.worker_sc_address,
                           proxy.fee_per_token)
    assert not account.update_payment(SignedPayment(boc))
    recorder.close()
    assert ledger.statements() == [] and len(ledger.rejected_statements()) == 1
