"""Real transactions (produced by the TVM emulator, read back by pytoniq-core) are described
right: Cocoon payouts recognised and labelled, excesses, comments, bounces, outgoing sends."""

from __future__ import annotations

from pytoniq_core import Builder

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import WalletVersion, wallet_contract
from cocoon_desktop.wallet.mnemonic import keypair_from_seed
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transactions import (
    OP_EXCESSES,
    OP_PAYOUT,
    TransactionRecord,
    TxKind,
    parse_transaction,
)
from cocoon_desktop.wallet.transfer import OutgoingMessage, comment_body, sign_transfer
from tests.helpers.emulated_chain import EmulatedChain

TON = 1_000_000_000
KEY = keypair_from_seed(b"\x0c" * 32)
WALLET = wallet_contract(WalletVersion.V4R2, KEY.public_key, TonNetwork.MAINNET)
WORKER_CONTRACT = TonAddress(0, b"\x57" * 32)
STRANGER = TonAddress(0, b"\x58" * 32)


def incoming(ledger: EmulatedChain, source: TonAddress, body_op: int | None, amount: int,
             known: frozenset[TonAddress] = frozenset({WORKER_CONTRACT})) -> TransactionRecord:
    body = Builder().store_uint(body_op, 32).store_uint(42, 64).end_cell() if body_op else None
    result = ledger.internal(WALLET.address, amount, source=source, body=body)
    assert result["success"]
    return parse_transaction(result["transaction"], known)


def deploy(ledger: EmulatedChain) -> None:
    ledger.fund_and_deploy(WALLET, KEY, TON, STRANGER)


def test_a_payout_to_a_never_deployed_owner_wallet_is_credited_and_recognised(
    ledger: EmulatedChain,
) -> None:
    record = incoming(ledger, WORKER_CONTRACT, OP_PAYOUT, 3 * TON)
    assert record.kind is TxKind.PAYOUT and ledger.balance(WALLET.address) == 3 * TON


def test_a_payout_from_the_worker_contract_is_recognised(ledger: EmulatedChain) -> None:
    deploy(ledger)
    record = incoming(ledger, WORKER_CONTRACT, OP_PAYOUT, 3 * TON)
    assert record.kind is TxKind.PAYOUT and record.from_known_worker
    assert record.amount_nano == 3 * TON and record.op == OP_PAYOUT
    assert record.counterparty_raw == WORKER_CONTRACT.raw
    assert record.label == "Cocoon payout from your worker contract"
    assert record.utime == ledger.now and len(record.hash_hex) == 64


def test_a_payout_opcode_from_an_unknown_sender_is_labelled_as_unverified(
    ledger: EmulatedChain,
) -> None:
    record = incoming(ledger, STRANGER, OP_PAYOUT, TON)
    assert record.kind is TxKind.PAYOUT and not record.from_known_worker
    assert "not yet seen" in record.label


def test_other_incoming_kinds(ledger: EmulatedChain) -> None:
    deploy(ledger)
    assert incoming(ledger, WORKER_CONTRACT, OP_EXCESSES, TON // 10).kind is TxKind.EXCESS
    assert incoming(ledger, WORKER_CONTRACT, None, TON).kind is TxKind.PAYOUT  # plain, from it
    plain = incoming(ledger, STRANGER, None, TON)
    assert (plain.kind, plain.label) == (TxKind.INCOMING, "Received")
    result = ledger.internal(WALLET.address, TON, source=STRANGER, body=comment_body("gm ☀"))
    record = parse_transaction(result["transaction"])
    assert (record.kind, record.comment, record.op) == (TxKind.INCOMING, "gm ☀", 0)


def test_a_refused_bounceable_message_is_reported_as_sent_back(ledger: EmulatedChain) -> None:
    node = wallet_contract(WalletVersion.NODE, KEY.public_key, TonNetwork.MAINNET, WALLET.address)
    ledger.internal(node.address, TON, init=node.state_init)  # deployed node wallet
    # The node wallet refuses ops from anyone but its owner: the value bounces back.
    body = Builder().store_uint(0x1234, 32).end_cell()
    result = ledger.internal(node.address, TON, source=STRANGER, body=body, bounce=True)
    record = parse_transaction(result["transaction"])
    assert record.kind is TxKind.FAILED and "sent back" in record.label


def test_outgoing_and_bounced_transfers(ledger: EmulatedChain) -> None:
    ledger.internal(WALLET.address, 5 * TON)
    # Bounceable transfer to an account that does not exist: it comes back bounced.
    signed = sign_transfer(WALLET, KEY, 0, [OutgoingMessage(STRANGER, TON, True, "rent")],
                           deploy=True, now=ledger.now)
    sent = ledger.send_external(signed.external_message)
    record = parse_transaction(sent["transaction"])
    assert (record.kind, record.amount_nano, record.comment) == (TxKind.OUTGOING, TON, "rent")
    assert record.counterparty_raw == STRANGER.raw and record.fee_nano > 0
    (at_stranger,) = ledger.deliver(sent)
    (bounce,) = ledger.deliver(at_stranger)
    back = parse_transaction(bounce["transaction"])
    assert back.kind is TxKind.BOUNCED and back.amount_nano < TON


def test_records_survive_json(ledger: EmulatedChain) -> None:
    record = incoming(ledger, WORKER_CONTRACT, OP_PAYOUT, TON)
    assert TransactionRecord.from_json(record.to_json()) == record
