"""What a transfer costs, and whether the wallet contract would accept it, before sending.

With the account's current state (read from a liteserver) and pytvm installed, the signed
message is run in the real TVM transaction emulator: the fee is exact for the emulator's
network config, and a refusal (used seqno, expired, wrong key, the node wallet's 2 TON floor)
is known before anything is sent. Without them, a fixed upper bound is used, measured in the
emulator and checked by the tests (`STATIC_*_FEE_NANO`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from pytoniq_core import Cell, ShardAccount

from cocoon_desktop.wallet.contracts import WalletVersion

log = logging.getLogger(__name__)

# Upper bounds of what a wallet pays for one transfer (gas, storage, forward fees), with and
# without deploying the wallet in the same transaction. Measured with the emulator: about
# 0.007 and 0.014 TON at most across V3R2, V4R2, V5R1 and the node wallet.
STATIC_TRANSFER_FEE_NANO = 15_000_000
STATIC_DEPLOY_FEE_NANO = 30_000_000

_REFUSALS: dict[WalletVersion, dict[int, str]] = {
    WalletVersion.V3R2: {
        33: "its sequence number was already used (another transfer went first)",
        34: "it was signed for another subwallet",
        35: "its signature does not match this wallet's key, or it expired",
    },
    WalletVersion.V4R2: {
        33: "its sequence number was already used (another transfer went first)",
        34: "it was signed for another subwallet",
        35: "its signature does not match this wallet's key",
        36: "it expired before it reached the chain",
    },
    WalletVersion.V5R1: {
        132: "signing is disabled on this wallet",
        133: "its sequence number was already used (another transfer went first)",
        134: "it was signed for another network or subwallet",
        135: "its signature does not match this wallet's key",
        136: "it expired before it reached the chain",
        137: "its send mode lacks 'ignore errors', which W5 requires",
    },
    WalletVersion.NODE: {
        1030: "it expired before it reached the chain",
        1031: "the owner has locked this node wallet (unlock it from the owner wallet)",
        1032: "its sequence number was already used (another transfer went first)",
        1033: "it was signed for another subwallet",
        1034: "its signature does not match the node wallet key",
        1035: "the node wallet holds less than 2 TON, the least it keeps to send anything",
    },
}


@dataclass(frozen=True)
class FeeEstimate:
    """The cost of a transfer to the sender, and how it was found."""

    fee_nano: int
    emulated: bool
    refusal: str | None = None  # why the contract would refuse the message, when it would


def explain_refusal(version: WalletVersion, exit_code: int | None) -> str:
    reason = _REFUSALS.get(version, {}).get(exit_code or 0)
    return reason or f"the wallet contract refused it (exit code {exit_code})"


def static_fee(deploy: bool) -> FeeEstimate:
    return FeeEstimate(STATIC_DEPLOY_FEE_NANO if deploy else STATIC_TRANSFER_FEE_NANO, False)


def emulate_fee(
    version: WalletVersion,
    shard_account: Cell | None,
    external_message: Cell,
    now: int,
    deploy: bool,
) -> FeeEstimate:
    """Run the message in the TVM emulator when possible; the static bound otherwise."""
    if shard_account is None:
        return static_fee(deploy)
    try:
        with warnings.catch_warnings():  # pytvm imports pkg_resources, which warns
            warnings.simplefilter("ignore")
            from pytvm.transaction_emulator import TransactionEmulator
    except ImportError:  # pytvm is optional at run time (the tests always have it)
        return static_fee(deploy)
    try:
        with warnings.catch_warnings():  # its engine loads through pkg_resources, which warns
            warnings.simplefilter("ignore")
            emulator = TransactionEmulator()
        emulator.set_unixtime(now)
        result = emulator.emulate_transaction(shard_account, external_message)
    except Exception as exc:
        log.info("fee emulation failed (%s); using the fixed estimate", type(exc).__name__)
        return static_fee(deploy)
    if not result.get("success"):
        refusal = explain_refusal(version, result.get("vm_exit_code"))
        return FeeEstimate(static_fee(deploy).fee_nano, False, refusal)
    before = ShardAccount.deserialize(shard_account.begin_parse()).account
    before_nano = before.storage.balance.grams if before is not None else 0
    after_nano = result["shard_account"].account.storage.balance.grams
    sent_nano = sum(
        out.info.value.grams for out in result["transaction"].out_msgs if out.is_internal
    )
    return FeeEstimate(max(0, before_nano - after_nano - sent_nano), True)
