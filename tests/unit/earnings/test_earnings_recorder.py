"""The recorder: worker events become ledger rows in order, energy is priced, and a failed
write (a full disk) is kept and retried instead of dropped."""

from __future__ import annotations

import errno
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.reconcile import reconcile
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.hardware.energy import EnergyMeter, EnergyReading, Tariff
from cocoon_desktop.network.worker.types import (
    PaymentReceived,
    PaymentRejected,
    ProxyStateChanged,
    RequestFinished,
    RequestStarted,
)
from cocoon_desktop.protocol.pricing import AdjustedTokens, TokenCounts
from cocoon_desktop.protocol.statements import RejectReason, sign_statement

T0 = datetime(2025, 9, 1, 12, tzinfo=UTC)


class Clocked:
    """Stands in for NVML (no GPU here): 200 W, time advanced by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def read(self) -> EnergyReading:
        return EnergyReading(self.now, None, 200.0)


def finished(n: int, proxy_key: str) -> RequestFinished:
    return RequestFinished(
        request_id=f"{n:064x}", proxy_key=proxy_key, model="m", succeeded=True, error=None,
        tokens=TokenCounts(10, 0, 5, 0), adjusted=AdjustedTokens(10, 0, 5, 0), coefficient=1000,
        worker_fee_per_token=1000, started_at=T0, finished_at=T0 + timedelta(seconds=2))


def test_events_become_rows_with_energy_and_statements(ledger: Ledger, proxy) -> None:
    gpu = Clocked()
    served = []
    recorder = EarningsRecorder(ledger, energy_meter=EnergyMeter(gpu),
                                tariff=lambda: Tariff(Decimal("0.36"), "EUR"),
                                on_request=lambda: served.append(1))
    sc, wsc = proxy.proxy_sc.to_str(False), proxy.worker_sc.to_str(False)
    recorder.on_worker_event(ProxyStateChanged("127.0.0.1:1", "ready", "", proxy.key_hex, sc,
                                               wsc, 1000))
    recorder.on_worker_event(RequestStarted(f"{1:064x}", proxy.key_hex, "m", T0))
    gpu.now += 3.0  # 3 s at 200 W: 600 J
    recorder.on_worker_event(finished(1, proxy.key_hex))
    statement = proxy.statement(15)
    recorder.on_worker_event(PaymentReceived(proxy.key_hex, sc, wsc, 1000, statement, 15, 15))
    recorder.close()
    [row] = ledger.requests()
    assert row.energy_j == 600.0 and row.energy_currency == "EUR"
    assert row.energy_cost_nano == 60_000  # 600 J = 1/6000 kWh at 0.36 EUR = 0.00006 EUR
    assert ledger.latest_statement(proxy.key_hex)[1] == statement  # stored as verified
    assert ledger.proxy(proxy.key_hex).worker_fee_per_token == 1000
    assert served == [1] and recorder.backlog == 0


def test_the_fee_comes_on_the_events_and_nowhere_else(ledger: Ledger, proxy) -> None:
    """The recorder is given no fee: the proxy's comes with the handshake's events (a
    statement may arrive in the handshake, before "ready"), each request's with the request."""
    recorder = EarningsRecorder(ledger)
    sc, wsc = proxy.proxy_sc.to_str(False), proxy.worker_sc.to_str(False)
    recorder.on_worker_event(PaymentReceived(proxy.key_hex, sc, wsc, 7, proxy.statement(15),
                                             15, 15))
    recorder.flush()
    assert ledger.proxy(proxy.key_hex).worker_fee_per_token == 7
    assert ledger.latest_statement(proxy.key_hex)[1].tokens_committed == 15
    recorder.on_worker_event(ProxyStateChanged("127.0.0.1:1", "ready", "", proxy.key_hex, sc,
                                               wsc, 9))  # the root config changed on reconnect
    recorder.on_worker_event(finished(1, proxy.key_hex))  # at 1000 a token, its own
    recorder.close()
    assert ledger.proxy(proxy.key_hex).worker_fee_per_token == 9
    [row] = ledger.requests()
    assert row.worker_fee_per_token == 1000 and row.earned_nanoton == 15 * 1000


def test_a_failed_write_is_kept_and_retried(ledger: Ledger, proxy, monkeypatch) -> None:
    recorder = EarningsRecorder(ledger)
    real = Ledger.record_request
    failures = iter([OSError(errno.ENOSPC, "No space left on device")])

    def full_disk_once(self: Ledger, request: object) -> bool:
        for exc in failures:
            raise exc
        return real(self, request)

    monkeypatch.setattr(Ledger, "record_request", full_disk_once)
    recorder.on_worker_event(finished(1, proxy.key_hex))
    recorder.flush()
    assert recorder.backlog == 1 and ledger.requests() == []  # kept, not dropped
    recorder.on_worker_event(finished(2, proxy.key_hex))  # the next write retries it first
    recorder.close()
    assert [r.request_id[-1] for r in ledger.requests()] == ["1", "2"]
    assert recorder.backlog == 0


def test_statements_refused_on_the_wire_reach_the_rejection_log(ledger: Ledger, proxy) -> None:
    recorder = EarningsRecorder(ledger)
    boc = sign_statement(b"\x66" * 32, 15, proxy.worker_sc, proxy.proxy_wallet)  # wrong key
    wrong = PaymentRejected(proxy.key_hex, boc, RejectReason.BAD_SIGNATURE, "does not match")
    recorder.on_worker_event(wrong)
    recorder.on_worker_event(wrong)  # the same statement again: counted, not doubled
    recorder.on_worker_event(PaymentRejected("ee" * 32, b"", RejectReason.UNKNOWN_PROXY, "who?"))
    recorder.on_worker_event(PaymentRejected(proxy.key_hex, b"", RejectReason.ROLLBACK,
                                             "it signed 5 tokens, fewer than the 15"))
    recorder.close()
    seen = {(r.proxy_key, r.reason): r.times_seen for r in ledger.rejected_statements()}
    assert seen == {(proxy.key_hex, "bad_signature"): 2, ("ee" * 32, "unknown_proxy"): 1,
                    (proxy.key_hex, "rollback"): 1}
    assert ledger.statements() == []  # nothing of them was stored as a statement
    said = " | ".join(g.message for g in reconcile(ledger).rejections)
    assert "tampered or wrongly signed statement rejected (2x" in said
    assert "statement from an unknown proxy key rejected (1x" in said and "who?" in said
    assert "statement that went backwards rejected (1x" in said and "fewer than the 15" in said
    # and each says what to do next
    assert said.count("raise it with the proxy's operator") == 3
    assert "nothing of it was counted" in said and "stays payable" in said
