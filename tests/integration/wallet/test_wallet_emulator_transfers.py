"""Signed transfers run in the real TVM emulator: each wallet contract accepts ours, moves the
right amount, and rejects a replayed, a wrongly signed and an expired one."""

from __future__ import annotations

from typing import Any

import pytest

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion, wallet_contract
from cocoon_desktop.wallet.fees import (
    STATIC_DEPLOY_FEE_NANO,
    STATIC_TRANSFER_FEE_NANO,
    emulate_fee,
    explain_refusal,
)
from cocoon_desktop.wallet.mnemonic import KeyPair, keypair_from_seed
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transfer import OutgoingMessage, sign_transfer
from tests.helpers.emulated_chain import EmulatedChain

TON = 1_000_000_000
KEY = keypair_from_seed(b"\x05" * 32)
INTRUDER = keypair_from_seed(b"\x06" * 32)
OWNER = TonAddress(0, b"\x44" * 32)
DEST = TonAddress(0, b"\x33" * 32)
ALL_VERSIONS = list(WalletVersion)


def make_wallet(version: WalletVersion, key: KeyPair = KEY) -> WalletContract:
    owner = OWNER if version is WalletVersion.NODE else None
    return wallet_contract(version, key.public_key, TonNetwork.MAINNET, owner)


def send(
    ledger: EmulatedChain, wallet: WalletContract, key: KeyPair, seqno: int, amount: int, *,
    deploy: bool = False, valid_until: int | None = None,
) -> dict[str, Any]:
    message = OutgoingMessage(DEST, amount, False, "hi")
    signed = sign_transfer(wallet, key, seqno, [message], deploy=deploy,
                           valid_until=valid_until, now=ledger.now)
    return ledger.send_external(signed.external_message)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_deploy_then_transfers_move_the_exact_amount(
    ledger: EmulatedChain, version: WalletVersion
) -> None:
    wallet = make_wallet(version)
    ledger.internal(wallet.address, 5 * TON)  # funds an undeployed (uninit) wallet
    first = send(ledger, wallet, KEY, 0, 1 * TON, deploy=True)
    assert first["success"], first.get("error")
    (out,) = first["transaction"].out_msgs
    assert TonAddress.from_pytoniq(out.info.dest) == DEST
    assert out.info.value.grams == 1 * TON
    second = send(ledger, wallet, KEY, 1, 2 * TON)
    assert second["success"]
    assert second["transaction"].out_msgs[0].info.value.grams == 2 * TON
    snapshot = ledger.snapshot(wallet.address, version, TonNetwork.MAINNET)
    assert snapshot.seqno == 2 and snapshot.status.value == "active"
    spent_on_fees = 5 * TON - 3 * TON - snapshot.balance_nano
    assert 0 < spent_on_fees < STATIC_DEPLOY_FEE_NANO + STATIC_TRANSFER_FEE_NANO


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_replayed_wrongly_signed_and_expired_transfers_are_rejected(
    ledger: EmulatedChain, version: WalletVersion
) -> None:
    wallet = make_wallet(version)
    ledger.internal(wallet.address, 10 * TON)
    first = sign_transfer(wallet, KEY, 0, [OutgoingMessage(DEST, TON, False)], deploy=True,
                          now=ledger.now)
    assert ledger.send_external(first.external_message)["success"]
    balance = ledger.balance(wallet.address)

    replay = ledger.send_external(first.external_message)
    assert not replay["success"]
    assert "sequence number was already used" in explain_refusal(version, replay["vm_exit_code"])

    # The right body for our wallet (wallet id, seqno) signed with another key.
    impostor = KeyPair(public_key=wallet.public_key, seed=INTRUDER.seed)
    forged = sign_transfer(wallet, impostor, 1, [OutgoingMessage(DEST, TON, False)],
                           now=ledger.now)
    forged_result = ledger.send_external(forged.external_message)
    assert not forged_result["success"]
    assert "signature does not match" in explain_refusal(version, forged_result["vm_exit_code"])

    expired = send(ledger, wallet, KEY, 1, TON, valid_until=ledger.now - 1)
    assert not expired["success"]
    assert "expired" in explain_refusal(version, expired["vm_exit_code"])
    assert ledger.balance(wallet.address) == balance  # nothing moved


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_emulated_fees_stay_under_the_static_bounds(
    ledger: EmulatedChain, version: WalletVersion
) -> None:
    wallet = make_wallet(version)
    ledger.internal(wallet.address, 5 * TON)
    deploy = sign_transfer(wallet, KEY, 0, [OutgoingMessage(DEST, TON, False)], deploy=True,
                           now=ledger.now)
    fee = emulate_fee(version, ledger.shard_account(wallet.address), deploy.external_message,
                      ledger.now, True)
    assert fee.emulated and 0 < fee.fee_nano <= STATIC_DEPLOY_FEE_NANO
    before = ledger.balance(wallet.address)
    ledger.send_external(deploy.external_message)
    assert before - ledger.balance(wallet.address) - TON == fee.fee_nano  # exact
    transfer = sign_transfer(wallet, KEY, 1, [OutgoingMessage(DEST, TON, False)], now=ledger.now)
    fee = emulate_fee(version, ledger.shard_account(wallet.address), transfer.external_message,
                      ledger.now, False)
    assert fee.emulated and 0 < fee.fee_nano <= STATIC_TRANSFER_FEE_NANO
    refused = emulate_fee(version, ledger.shard_account(wallet.address), deploy.external_message,
                          ledger.now, False)
    assert refused.refusal and "sequence number" in refused.refusal
