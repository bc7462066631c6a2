"""Payout decisions, the node wallet gas check, and the payout message's byte layout."""

from __future__ import annotations

import pytest
from pytoniq_core import Address, Cell

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.payouts import (
    GAS_NANOTON,
    PayoutPolicy,
    build_payout_message,
    check_gas,
    decide,
    payout_candidates,
)
from cocoon_desktop.earnings.records import PayoutReason, PayoutStatus
from cocoon_desktop.protocol.cells import OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED
from cocoon_desktop.protocol.statements import sign_statement, verify_statement
from tests.unit.earnings.earnings_helpers import address_bits, bits

NODE_WALLET = Address("0:" + "5e" * 32)
TON = 1_000_000_000


def with_statement(ledger: Ledger, proxy, tokens: int) -> None:
    ledger.register_proxy(proxy.session)
    ledger.record_statement(proxy.statement(tokens))


def candidate(ledger: Ledger):
    [only] = payout_candidates(ledger)
    return only


def test_the_amount_due_is_signed_minus_paid(ledger: Ledger, proxy) -> None:
    with_statement(ledger, proxy, 5_000_000)  # at 1000 nanoTON a token: 5 TON
    assert candidate(ledger).amount_nanoton == 5 * TON
    ledger.record_chain_state(proxy.key_hex, 1_000_000)  # the contract already paid 1 TON
    assert candidate(ledger).tokens_due == 4_000_000
    with_statement(ledger, proxy, 3_000_000)  # an older, smaller statement changes nothing
    assert candidate(ledger).statement.tokens_committed == 5_000_000


@pytest.mark.parametrize(
    ("due_ton", "idle_s", "asked", "reason"),
    [(12, 0.0, False, PayoutReason.THRESHOLD), (3, 0.0, False, None),
     (3, 3600.0, False, PayoutReason.IDLE), (3, None, False, PayoutReason.IDLE),
     (0.1, 3600.0, False, None), (0.1, 0.0, True, PayoutReason.USER)],
)
def test_decisions_follow_upstream_thresholds(ledger: Ledger, proxy, due_ton: float,
                                              idle_s: float | None, asked: bool,
                                              reason: PayoutReason | None) -> None:
    with_statement(ledger, proxy, int(due_ton * 1_000_000))
    decision = decide(candidate(ledger), PayoutPolicy(), idle_s=idle_s, user_asked=asked)
    assert decision.reason is reason
    if reason is None:
        assert "TON is due; payouts start at 10.00 TON" in decision.explanation


def test_no_second_payout_while_one_is_in_flight(ledger: Ledger, proxy) -> None:
    with_statement(ledger, proxy, 20_000_000)
    payout_id = ledger.add_payout(PayoutDraft(proxy.key_hex, 1, "0:00", 0, 20_000_000, 20 * TON,
                                              GAS_NANOTON, PayoutReason.THRESHOLD, None))
    decision = decide(candidate(ledger), PayoutPolicy(), idle_s=0.0, user_asked=True)
    assert decision.reason is None and f"payout #{payout_id} is on its way" in decision.explanation
    ledger.update_payout(payout_id, PayoutChange(PayoutStatus.CONFIRMED))
    assert decide(candidate(ledger), PayoutPolicy(), idle_s=0.0).explanation.startswith(
        "nothing to pay out")


def test_gas_check_says_how_much_to_send_and_where() -> None:
    policy = PayoutPolicy()
    short = check_gas(1_200_000_000, "EQnode", policy)
    assert not short.ok and short.shortfall_nanoton == 815_000_000
    assert "Send at least 0.815 TON to EQnode" in short.message
    assert "holds 1.20 TON" in short.message
    assert check_gas(2_015_000_000, "EQnode", policy).ok
    unknown = check_gas(None, "EQnode", policy)
    assert not unknown.ok and "could not be read" in unknown.message


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="idle threshold"):
        PayoutPolicy(threshold_nanoton=1, idle_threshold_nanoton=2)


def test_payout_message_is_upstream_repack_with_the_node_wallet(proxy) -> None:
    boc = sign_statement(proxy.seed, 777_000, proxy.worker_sc, proxy.proxy_wallet, qid=31)
    statement = verify_statement(boc, bytes.fromhex(proxy.key_hex))
    message = build_payout_message(statement, NODE_WALLET)
    assert (message.destination, message.amount_nanoton, message.bounce, message.qid) == (
        proxy.worker_sc, GAS_NANOTON, True, 31)
    # WorkerContract::repack_signed_pay_message: op, qid, send_excesses_to, signature, ^payload
    expected = (bits(OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED, 32) + bits(31, 64)
                + address_bits(NODE_WALLET) + bits(int.from_bytes(statement.signature), 512))
    assert message.body.bits.to01() == expected
    signed_payload = Cell.one_from_boc(boc).refs[0]
    assert message.body.refs[0].hash == signed_payload.hash  # the proxy's signature still holds
    # The repacked message still passes the contract's own checks (check_signed_pay_message).
    repacked = verify_statement(message.body.to_boc(), bytes.fromhex(proxy.key_hex),
                                proxy.worker_sc.to_str(False))
    assert repacked.tokens_committed == 777_000
    assert repacked.return_excesses_to == NODE_WALLET.to_str(False)


def test_candidates_skip_proxies_without_statements(ledger: Ledger, proxy) -> None:
    ledger.register_proxy(proxy.session)
    assert payout_candidates(ledger) == []
