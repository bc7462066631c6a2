"""Transfers built offline: amounts, comments, and signatures each contract can verify."""

from __future__ import annotations

import pytest
from nacl.signing import VerifyKey
from pytoniq_core import Builder, Cell, MessageAny

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import WalletVersion, v5r1_wallet_id, wallet_contract
from cocoon_desktop.wallet.errors import AmountError, TransferError
from cocoon_desktop.wallet.mnemonic import keypair_from_seed
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transactions import read_body
from cocoon_desktop.wallet.transfer import (
    MAX_COMMENT_BYTES,
    OutgoingMessage,
    comment_body,
    parse_ton_amount,
    sign_transfer,
)

KEY = keypair_from_seed(b"\x05" * 32)
OWNER = TonAddress(0, b"\x44" * 32)
DEST = TonAddress(0, b"\x33" * 32)
NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("text", "nano"),
    [("1", 10**9), ("1.5", 1_500_000_000), ("1,5", 1_500_000_000), (" 2 TON ", 2 * 10**9),
     ("0.000000001", 1), ("1_000", 1000 * 10**9), ("12 345.6", 12345_600_000_000)],
)
def test_amounts_in_ton_become_nanotons(text: str, nano: int) -> None:
    assert parse_ton_amount(text) == nano


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("abc", "type a number"), ("0", "more than zero"), ("-1", "without a sign"),
     ("0.0000000001", "more than 9 decimals"), ("nan", "type a number"), ("", "type a number")],
)
def test_bad_amounts_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(AmountError, match=fragment):
        parse_ton_amount(text)


def test_comments_round_trip_and_have_a_limit() -> None:
    text = "payout for March ✓ " * 10
    assert read_body(comment_body(text)) == (0, text)
    with pytest.raises(TransferError, match="Shorten"):
        comment_body("x" * (MAX_COMMENT_BYTES + 1))


def _payload_and_signature(version: WalletVersion, body: Cell) -> tuple[Cell, bytes]:
    """Split a signed body the way each contract does before checking the signature."""
    cs = body.begin_parse()
    if version is WalletVersion.V5R1:  # signature last
        payload_bits = cs.load_bits(cs.remaining_bits - 512)
        signature = cs.load_bytes(64)
    else:  # signature first
        signature = cs.load_bytes(64)
        payload_bits = cs.load_bits(cs.remaining_bits)
    builder = Builder().store_bits(payload_bits)
    for ref in body.refs:
        builder.store_ref(ref)
    return builder.end_cell(), signature


@pytest.mark.parametrize("version", list(WalletVersion))
def test_signatures_verify_with_the_wallet_key(version: WalletVersion) -> None:
    owner = OWNER if version is WalletVersion.NODE else None
    wallet = wallet_contract(version, KEY.public_key, TonNetwork.MAINNET, owner)
    signed = sign_transfer(wallet, KEY, 7, [OutgoingMessage(DEST, 10**9, False, "hi")], now=NOW)
    message = MessageAny.deserialize(signed.external_message.begin_parse())
    assert message.init is None  # not deploying
    payload, signature = _payload_and_signature(version, message.body)
    VerifyKey(KEY.public_key).verify(payload.hash, signature)  # raises if wrong
    cs = payload.begin_parse()
    if version is WalletVersion.V5R1:
        assert cs.load_uint(32) == 0x7369676E
        assert cs.load_uint(32) == v5r1_wallet_id(TonNetwork.MAINNET)
    else:
        cs.load_uint(32)  # wallet id / subwallet
    assert cs.load_uint(32) == NOW + 600  # valid_until
    assert cs.load_uint(32) == 7  # seqno
    assert signed.valid_until == NOW + 600 and signed.seqno == 7


def test_deploying_transfers_carry_the_state_init() -> None:
    wallet = wallet_contract(WalletVersion.V4R2, KEY.public_key, TonNetwork.MAINNET)
    signed = sign_transfer(wallet, KEY, 0, [OutgoingMessage(DEST, 1, False)], deploy=True, now=NOW)
    message = MessageAny.deserialize(signed.external_message.begin_parse())
    assert message.init is not None
    assert message.init.serialize().hash == wallet.address.hash_part


def test_signing_refuses_a_foreign_key_and_bad_message_counts() -> None:
    wallet = wallet_contract(WalletVersion.V4R2, KEY.public_key, TonNetwork.MAINNET)
    other = keypair_from_seed(b"\x06" * 32)
    with pytest.raises(TransferError, match="does not belong"):
        sign_transfer(wallet, other, 1, [OutgoingMessage(DEST, 1, False)])
    with pytest.raises(TransferError, match="1 to 4"):
        sign_transfer(wallet, KEY, 1, [OutgoingMessage(DEST, 1, False)] * 5)
    with pytest.raises(AmountError):
        sign_transfer(wallet, KEY, 1, [OutgoingMessage(DEST, 0, False)])
