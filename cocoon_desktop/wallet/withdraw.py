"""Plan a withdrawal: check it, sign it offline, price it, and describe it for confirmation.

`plan_transfer` needs the wallet's key and its on-chain state (balance, seqno, deployed or not,
which the chain service reads) and returns a `TransferConfirmation`: everything the user must
see before saying yes (from, to, amount, fee, total, network, warnings) plus the signed message
that `ChainService.send` hands to the liteservers. Nothing is sent here.

The node wallet contract (upstream CocoonWallet) only signs transfers while it holds at least
2 TON; its owner can always empty it by sending it the one-letter comment "w" (and lock or
unlock it with "b"/"u"): `plan_node_wallet_command` builds that message from a full wallet that
is the owner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from pytoniq_core import Cell, StateInit

from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.wallet.address import check_network, parse_address
from cocoon_desktop.wallet.chain_types import AccountSnapshot, AccountStatus
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion
from cocoon_desktop.wallet.errors import AmountError, TransferError
from cocoon_desktop.wallet.fees import FeeEstimate, emulate_fee
from cocoon_desktop.wallet.mnemonic import KeyPair
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transfer import (
    SEND_MODE_CARRY_ALL_BALANCE,
    SEND_MODE_IGNORE_ERRORS,
    SEND_MODE_PAY_FEES_SEPARATELY,
    OutgoingMessage,
    SignedTransfer,
    parse_ton_amount,
    sign_transfer,
)

SEND_ALL = "all"
NODE_WALLET_SEND_FLOOR_NANO = 2_000_000_000  # the contract refuses externals below this
NODE_WALLET_WORKING_NANO = 2_100_000_000  # upstream's worker stops below about this
NODE_COMMAND_AMOUNT_NANO = 50_000_000  # attached to an owner command; "w" returns it


class NodeWalletCommand(StrEnum):
    """One-letter comments the node wallet obeys when its owner sends them."""

    WITHDRAW_ALL = "w"  # send everything but 0.01 TON to the owner
    LOCK = "b"  # refuse transfers signed with the node key (a leaked key)
    UNLOCK = "u"


@dataclass(frozen=True)
class TransferConfirmation:
    """What the confirmation dialog shows, and the signed transfer it confirms."""

    network: TonNetwork
    wallet_version: WalletVersion
    from_address: str
    to_address: str
    amount_nano: int  # what the recipient gets (for "send all", the estimate)
    sends_all: bool
    fee_nano: int
    fee_emulated: bool
    total_nano: int  # what leaves the wallet
    balance_nano: int
    comment: str
    warnings: tuple[str, ...]
    transfer: SignedTransfer = field(repr=False)

    @property
    def valid_until(self) -> int:
        return self.transfer.valid_until

    def summary_lines(self) -> list[tuple[str, str]]:
        """Label/value rows for the confirmation dialog."""
        amount = format_ton(self.amount_nano)
        if self.sends_all:
            amount = f"everything: about {amount}"
        fee = ("" if self.fee_emulated else "at most ") + format_ton(self.fee_nano)
        rows = [
            ("Network", self.network.value), ("From", self.from_address),
            ("To", self.to_address), ("Amount", amount), ("Network fee", fee),
            ("Total", format_ton(self.total_nano)),
        ]
        return rows + ([("Comment", self.comment)] if self.comment else [])


def plan_transfer(
    wallet: WalletContract,
    key: KeyPair,
    snapshot: AccountSnapshot,
    to_text: str,
    amount_text: str,
    comment: str = "",
    *,
    shard_account: Cell | None = None,
    destination_init: StateInit | None = None,
    now: float | None = None,
) -> TransferConfirmation:
    """Check, sign and price a transfer of `amount_text` TON (or "all") to `to_text`.

    `shard_account` (the wallet's state as read) lets the fee be emulated exactly;
    `destination_init` deploys the destination contract with the transfer.
    """
    now_s = int(now if now is not None else time.time())
    parsed = parse_address(to_text)
    warnings = list(parsed.warnings) + list(check_network(parsed, wallet.network))
    if parsed.address == wallet.address:
        raise TransferError("This is the wallet's own address.", "Enter another destination.")
    seqno = _usable_seqno(wallet, snapshot)
    sends_all = amount_text.strip().lower() in (SEND_ALL, "max")
    amount_nano = 0 if sends_all else parse_ton_amount(amount_text)
    _check_node_floor(wallet, snapshot.balance_nano)
    # Raw addresses carry no flag: send non-bounceable, as wallets do for an address that may
    # not be deployed yet (a bounceable message to it would come back).
    bounce = bool(parsed.bounceable)
    mode = SEND_MODE_IGNORE_ERRORS | (
        SEND_MODE_CARRY_ALL_BALANCE if sends_all else SEND_MODE_PAY_FEES_SEPARATELY
    )
    message = OutgoingMessage(
        parsed.address, amount_nano, bounce, comment, mode, state_init=destination_init
    )
    deploy = snapshot.status is not AccountStatus.ACTIVE
    signed = sign_transfer(wallet, key, seqno, [message], deploy=deploy, now=now_s)
    fee = emulate_fee(wallet.version, shard_account, signed.external_message, now_s, deploy)
    if fee.refusal:
        raise TransferError(
            f"The wallet contract would refuse this transfer: {fee.refusal}.",
            "Refresh the wallet and try again.",
        )
    received, total = _amounts(snapshot.balance_nano, amount_nano, sends_all, fee)
    warnings += _balance_warnings(wallet, snapshot.balance_nano - total)
    to_display = parsed.address.for_network(wallet.network, bounceable=bounce)
    return TransferConfirmation(
        wallet.network, wallet.version, wallet.display_address, to_display, received, sends_all,
        fee.fee_nano, fee.emulated, total, snapshot.balance_nano, comment, tuple(warnings),
        signed,
    )


def plan_node_wallet_command(
    owner_wallet: WalletContract,
    key: KeyPair,
    owner_snapshot: AccountSnapshot,
    node_wallet: WalletContract,
    command: NodeWalletCommand,
    *,
    node_wallet_deployed: bool = True,
    shard_account: Cell | None = None,
    now: float | None = None,
) -> TransferConfirmation:
    """A transfer from the owner's full wallet telling the node wallet to act.

    A node wallet never deployed (funded, but its worker never ran) is deployed by this very
    message, so "w" also empties a node wallet that holds less than 2 TON.
    """
    if node_wallet.owner != owner_wallet.address:
        raise TransferError(
            "This full wallet is not the owner of the node wallet.",
            "Only the owner address can command the node wallet; use the owner's wallet app "
            f"to send the comment '{command.value}' to it.",
        )
    amount = format_ton(NODE_COMMAND_AMOUNT_NANO)
    return plan_transfer(
        owner_wallet, key, owner_snapshot, node_wallet.display_address, amount, command.value,
        shard_account=shard_account, now=now,
        destination_init=None if node_wallet_deployed else node_wallet.state_init,
    )


def _usable_seqno(wallet: WalletContract, snapshot: AccountSnapshot) -> int:
    if snapshot.network is not wallet.network or snapshot.address_raw != wallet.address.raw:
        raise TransferError("The wallet state read belongs to another wallet.", "Refresh it.")
    if snapshot.status is AccountStatus.FROZEN:
        raise TransferError(
            "This wallet is frozen on the chain (it ran out of funds for storage).",
            "Send it some TON from another wallet to unfreeze it first.",
        )
    if snapshot.seqno is None:
        raise TransferError(
            "This wallet's sequence number could not be read.",
            "Check that the right wallet version is selected, then refresh.",
        )
    return snapshot.seqno


def _check_node_floor(wallet: WalletContract, balance_nano: int) -> None:
    if wallet.version is WalletVersion.NODE and balance_nano < NODE_WALLET_SEND_FLOOR_NANO:
        raise TransferError(
            f"The node wallet holds {format_ton(balance_nano)}; its contract signs "
            "transfers only while it holds at least 2 TON.",
            "To take everything out, send the comment 'w' to it from the owner wallet "
            "(the app does it when your full wallet is the owner).",
        )


def _amounts(
    balance_nano: int, amount_nano: int, sends_all: bool, fee: FeeEstimate
) -> tuple[int, int]:
    """(what the recipient gets, what leaves the wallet)."""
    if sends_all:
        received = balance_nano - fee.fee_nano
        if received <= 0:
            raise AmountError(
                f"The balance ({format_ton(balance_nano)}) does not cover the network fee.",
                "Top the wallet up first.",
            )
        return received, balance_nano
    total = amount_nano + fee.fee_nano
    if total > balance_nano:
        most = max(0, balance_nano - fee.fee_nano)
        raise AmountError(
            f"Not enough TON: the wallet holds {format_ton(balance_nano)} and the fee is "
            f"{'about' if fee.emulated else 'up to'} {format_ton(fee.fee_nano)}.",
            f"Send at most {format_ton(most)}, or choose to send everything.",
        )
    return amount_nano, total


def _balance_warnings(wallet: WalletContract, left_nano: int) -> list[str]:
    if wallet.version is WalletVersion.NODE and left_nano < NODE_WALLET_WORKING_NANO:
        return [
            f"The node wallet keeps {format_ton(max(0, left_nano))} after this; the worker "
            f"needs about {format_ton(NODE_WALLET_WORKING_NANO)} to keep serving and "
            "claiming payouts."
        ]
    return []
