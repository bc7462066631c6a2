"""Reconciliation and chain settlement: every gap has a reason, payouts map to requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cocoon_desktop.earnings.chain_sync import (
    IncomingPayout,
    apply_contract_state,
    match_receipts,
)
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.reconcile import GapKind, match_payouts, reconcile
from cocoon_desktop.earnings.records import PayoutReason, PayoutRecord, PayoutStatus
from cocoon_desktop.protocol.statements import StatementRejected
from tests.unit.earnings.earnings_helpers import record

T0 = datetime(2025, 8, 1, 12, tzinfo=UTC)


def serve(ledger: Ledger, proxy, *amounts: int) -> list[str]:
    ids = []
    for i, adjusted in enumerate(amounts):
        ids.append(record(ledger, T0 + timedelta(seconds=i), proxy=proxy.key_hex,
                          adjusted=adjusted).request_id)
    return ids


def sign(ledger: Ledger, proxy, tokens: int, db: int | None = None, top: int | None = None
         ) -> None:
    ledger.record_statement(proxy.statement(tokens), db_tokens=db if db is not None else tokens,
                            max_tokens=top if top is not None else tokens)


def submit(ledger: Ledger, proxy, tokens_from: int, tokens_to: int, at: datetime) -> int:
    payout_id = ledger.add_payout(PayoutDraft(
        proxy.key_hex, None, proxy.worker_sc.to_str(False), tokens_from, tokens_to,
        (tokens_to - tokens_from) * proxy.fee_per_token, 500_000_000, PayoutReason.USER,
        None), now=at)
    ledger.update_payout(payout_id, PayoutChange(PayoutStatus.SUBMITTED), now=at)
    return payout_id


def kinds(ledger: Ledger) -> dict[GapKind, str]:
    [proxy_view] = reconcile(ledger).proxies
    return {gap.kind: gap.message for gap in proxy_view.gaps}


def test_the_whole_path_from_earned_to_received(ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    ids = serve(ledger, proxy, 400, 600, 1_000, 234)
    sign(ledger, proxy, 2_000, top=2_234)
    gaps = kinds(ledger)
    assert "proxy has not yet committed 234 tokens (0.000234 TON)" in gaps[GapKind.NOT_COMMITTED]
    assert "2,000 tokens signed but not paid out yet" in gaps[GapKind.NOT_PAID]
    assert GapKind.NOT_SYNCED in gaps
    payout_id = submit(ledger, proxy, 0, 2_000, T0 + timedelta(minutes=5))
    assert "was sent and waits for the chain" in kinds(ledger)[GapKind.IN_FLIGHT]
    report = apply_contract_state(ledger, proxy.key_hex, 2_000, T0 + timedelta(minutes=6))
    assert report.confirmed == (payout_id,) and report.found_on_chain == ()
    assert "payout tx seen but not yet in the owner's wallet" in kinds(ledger)[GapKind.NOT_RECEIVED]
    receipt = IncomingPayout("f0" * 32, 2_000_000, int((T0 + timedelta(minutes=7)).timestamp()),
                             None)
    assert match_receipts(ledger, [receipt], T0 + timedelta(minutes=8)).received == (payout_id,)
    assert match_receipts(ledger, [receipt], T0 + timedelta(minutes=9)).received == ()
    [view] = reconcile(ledger).proxies
    assert (view.earned_tokens, view.committed_tokens, view.paid_tokens) == (2_234, 2_000, 2_000)
    assert view.received_nanoton == 2_000_000
    assert {g.kind for g in view.gaps} == {GapKind.NOT_COMMITTED}
    [match] = view.matches
    assert match.request_ids == tuple(ids[:3]) and not match.first_partial
    assert not match.last_partial and match.tokens_beyond_ledger == 0


def test_an_expired_payout_fails_and_unexplained_chain_payouts_are_recorded(
        ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    serve(ledger, proxy, 5_000)
    sign(ledger, proxy, 5_000)
    stuck = submit(ledger, proxy, 0, 5_000, T0)
    report = apply_contract_state(ledger, proxy.key_hex, 1_200, T0 + timedelta(minutes=20))
    assert report.failed == (stuck,)
    [found] = report.found_on_chain
    chain_payout = next(p for p in ledger.payouts() if p.id == found)
    assert (chain_payout.reason, chain_payout.status) == (PayoutReason.CHAIN,
                                                          PayoutStatus.CONFIRMED)
    assert (chain_payout.tokens_from, chain_payout.tokens_to) == (0, 1_200)
    assert "failed: not carried out on chain within 15 minutes" in kinds(ledger)[GapKind.FAILED]
    # Applying the same state again records nothing new.
    again = apply_contract_state(ledger, proxy.key_hex, 1_200, T0 + timedelta(minutes=21))
    assert again.found_on_chain == () and again.failed == ()


def test_a_proxy_that_counts_less_or_signs_more_is_explained(ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    serve(ledger, proxy, 1_000)
    sign(ledger, proxy, 900, top=950)
    message = kinds(ledger)[GapKind.NOT_COMMITTED]
    assert message.startswith("proxy has not yet committed 100 tokens (0.0001 TON)")
    assert "its last report counted 950 tokens in all, fewer than the 1,000" in message
    sign(ledger, proxy, 1_500, top=1_500)
    gaps = kinds(ledger)
    assert GapKind.NOT_COMMITTED not in gaps
    assert "signed 500 tokens more than this ledger recorded" in gaps[GapKind.BEYOND_LEDGER]


def test_rejected_statements_are_listed_with_their_reason(ledger: Ledger, proxy) -> None:
    with pytest.raises(StatementRejected):
        ledger.record_statement(proxy.statement(10))
    [gap] = reconcile(ledger).rejections
    assert gap.message.startswith("statement from an unknown proxy key rejected (1x")
    assert not reconcile(ledger).all_clear


def _paid(payout_id: int, tokens_from: int, tokens_to: int) -> PayoutRecord:
    return PayoutRecord(payout_id, "aa" * 32, None, "0:00", tokens_from, tokens_to, 0, 0,
                        PayoutReason.USER, PayoutStatus.CONFIRMED, None, None, None, T0, None,
                        None, None, None, None)


def test_matching_splits_requests_at_payout_boundaries() -> None:
    ordered = [("r1", 100), ("r2", 100), ("r3", 100)]
    first, second = match_payouts(ordered, [_paid(1, 0, 150), _paid(2, 150, 400)])
    assert first.request_ids == ("r1", "r2") and first.last_partial and not first.first_partial
    assert second.request_ids == ("r2", "r3") and second.first_partial
    assert second.tokens_beyond_ledger == 100  # tokens 300..400 are not in this ledger
