"""Withdrawals planned by the app and run in the TVM emulator, the node wallet's rules included:
its 2 TON floor, and the owner's "w" (withdraw all), "b" (lock) and "u" (unlock) commands."""

from __future__ import annotations

import pytest

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion, wallet_contract
from cocoon_desktop.wallet.errors import AddressError, AmountError, TransferError
from cocoon_desktop.wallet.fees import explain_refusal
from cocoon_desktop.wallet.mnemonic import KeyPair, keypair_from_seed
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transfer import OutgoingMessage, sign_transfer
from cocoon_desktop.wallet.withdraw import (
    NodeWalletCommand,
    TransferConfirmation,
    plan_node_wallet_command,
    plan_transfer,
)
from tests.helpers.emulated_chain import EmulatedChain

TON = 1_000_000_000
NET = TonNetwork.MAINNET
OWNER_KEY = keypair_from_seed(b"\x0a" * 32)
NODE_KEY = keypair_from_seed(b"\x0b" * 32)
OWNER_WALLET = wallet_contract(WalletVersion.V4R2, OWNER_KEY.public_key, NET)
NODE_WALLET = wallet_contract(WalletVersion.NODE, NODE_KEY.public_key, NET, OWNER_WALLET.address)
DEST = TonAddress(0, b"\x33" * 32)
DEST_TEXT = DEST.wallet_form(NET)


def deploy(ledger: EmulatedChain, wallet: WalletContract, key: KeyPair, balance: int) -> None:
    """Fund and deploy `wallet` with a tiny first transfer, as a real first use would."""
    ledger.fund_and_deploy(wallet, key, balance, DEST)


def plan(
    ledger: EmulatedChain, wallet: WalletContract, key: KeyPair, amount: str, to: str = DEST_TEXT
) -> TransferConfirmation:
    snapshot = ledger.snapshot(wallet.address, wallet.version, NET)
    return plan_transfer(wallet, key, snapshot, to, amount, "thanks",
                         shard_account=ledger.shard_account(wallet.address), now=ledger.now)


def test_a_planned_node_wallet_withdrawal_is_accepted_and_confirmed(ledger: EmulatedChain) -> None:
    deploy(ledger, NODE_WALLET, NODE_KEY, 10 * TON)
    confirmation = plan(ledger, NODE_WALLET, NODE_KEY, "3.5")
    assert (confirmation.amount_nano, confirmation.network) == (3_500_000_000, NET)
    assert confirmation.fee_emulated and 0 < confirmation.fee_nano < TON // 50
    assert confirmation.total_nano == confirmation.amount_nano + confirmation.fee_nano
    assert confirmation.from_address == NODE_WALLET.display_address
    assert confirmation.to_address == DEST_TEXT and confirmation.warnings == ()
    rows = dict(confirmation.summary_lines())
    assert rows["Amount"] == "3.50 TON" and rows["Comment"] == "thanks"
    before = ledger.balance(NODE_WALLET.address)
    result = ledger.send_external(confirmation.transfer.external_message)
    assert result["success"]
    assert result["transaction"].out_msgs[0].info.value.grams == 3_500_000_000
    assert before - ledger.balance(NODE_WALLET.address) == confirmation.total_nano  # exact fee


def test_sending_everything_empties_the_wallet(ledger: EmulatedChain) -> None:
    deploy(ledger, OWNER_WALLET, OWNER_KEY, 4 * TON)
    confirmation = plan(ledger, OWNER_WALLET, OWNER_KEY, "all")
    assert confirmation.sends_all and confirmation.total_nano == confirmation.balance_nano
    result = ledger.send_external(confirmation.transfer.external_message)
    assert result["success"]
    assert ledger.balance(OWNER_WALLET.address) == 0
    received = result["transaction"].out_msgs[0].info.value.grams
    assert received == confirmation.amount_nano  # the estimate shown was exact


def test_the_node_wallet_floor_is_explained_before_signing(ledger: EmulatedChain) -> None:
    deploy(ledger, NODE_WALLET, NODE_KEY, 3 * TON)
    confirmation = plan(ledger, NODE_WALLET, NODE_KEY, "1.5")
    assert any("keeps" in w and "2.1" in w for w in confirmation.warnings)
    assert ledger.send_external(confirmation.transfer.external_message)["success"]
    with pytest.raises(TransferError, match="at least 2 TON") as info:
        plan(ledger, NODE_WALLET, NODE_KEY, "0.1")
    assert "'w'" in info.value.what_to_do
    # The contract itself refuses below the floor (exit 1035), as the message says.
    raw = sign_transfer(NODE_WALLET, NODE_KEY, 2, [OutgoingMessage(DEST, TON // 10, False)],
                        now=ledger.now)
    result = ledger.send_external(raw.external_message)
    assert not result["success"]
    assert "less than 2 TON" in explain_refusal(WalletVersion.NODE, result["vm_exit_code"])


def test_bad_withdrawals_are_refused_with_reasons(ledger: EmulatedChain) -> None:
    deploy(ledger, OWNER_WALLET, OWNER_KEY, 2 * TON)
    with pytest.raises(AmountError, match="Not enough TON") as info:
        plan(ledger, OWNER_WALLET, OWNER_KEY, "2")
    assert "at most 1.9" in str(info.value)
    with pytest.raises(TransferError, match="own address"):
        plan(ledger, OWNER_WALLET, OWNER_KEY, "1", to=OWNER_WALLET.display_address)
    with pytest.raises(AddressError, match="test-only"):
        plan(ledger, OWNER_WALLET, OWNER_KEY, "1", to=DEST.wallet_form(TonNetwork.TESTNET))
    with pytest.raises(AmountError):
        plan(ledger, OWNER_WALLET, OWNER_KEY, "-1")


def test_owner_withdraw_all_command_empties_the_node_wallet(ledger: EmulatedChain) -> None:
    deploy(ledger, OWNER_WALLET, OWNER_KEY, 5 * TON)
    deploy(ledger, NODE_WALLET, NODE_KEY, 7 * TON)
    node_before = ledger.balance(NODE_WALLET.address)
    owner_before = ledger.balance(OWNER_WALLET.address)
    command = plan_node_wallet_command(
        OWNER_WALLET, OWNER_KEY, ledger.snapshot(OWNER_WALLET.address, WalletVersion.V4R2, NET),
        NODE_WALLET, NodeWalletCommand.WITHDRAW_ALL,
        shard_account=ledger.shard_account(OWNER_WALLET.address), now=ledger.now,
    )
    sent = ledger.send_external(command.transfer.external_message)
    (at_node,) = ledger.deliver(sent)
    assert at_node["success"]
    (back_home,) = ledger.deliver(at_node)
    assert back_home["success"]
    assert ledger.balance(NODE_WALLET.address) == 10_000_000  # the contract keeps 0.01 TON
    gained = ledger.balance(OWNER_WALLET.address) - owner_before
    # All of it but the 0.01 TON kept and the fees of both transactions (about 0.02 TON).
    assert node_before - 4 * TON // 100 < gained < node_before


def test_owner_can_empty_a_never_deployed_node_wallet_under_2_ton(ledger: EmulatedChain) -> None:
    deploy(ledger, OWNER_WALLET, OWNER_KEY, 5 * TON)
    ledger.internal(NODE_WALLET.address, TON)  # funded, but its worker never ran
    command = plan_node_wallet_command(
        OWNER_WALLET, OWNER_KEY, ledger.snapshot(OWNER_WALLET.address, WalletVersion.V4R2, NET),
        NODE_WALLET, NodeWalletCommand.WITHDRAW_ALL, node_wallet_deployed=False, now=ledger.now,
    )
    (at_node,) = ledger.deliver(ledger.send_external(command.transfer.external_message))
    assert at_node["success"]
    assert ledger.snapshot(NODE_WALLET.address, WalletVersion.NODE, NET).status.value == "active"
    assert ledger.balance(NODE_WALLET.address) == 10_000_000


def test_owner_lock_stops_the_node_key_and_unlock_restores_it(ledger: EmulatedChain) -> None:
    deploy(ledger, OWNER_WALLET, OWNER_KEY, 5 * TON)
    deploy(ledger, NODE_WALLET, NODE_KEY, 5 * TON)

    def command(which: NodeWalletCommand) -> None:
        planned = plan_node_wallet_command(
            OWNER_WALLET, OWNER_KEY,
            ledger.snapshot(OWNER_WALLET.address, WalletVersion.V4R2, NET), NODE_WALLET, which,
            now=ledger.now,
        )
        (at_node,) = ledger.deliver(ledger.send_external(planned.transfer.external_message))
        assert at_node["success"]

    command(NodeWalletCommand.LOCK)
    with pytest.raises(TransferError, match="locked"):
        plan(ledger, NODE_WALLET, NODE_KEY, "1")
    command(NodeWalletCommand.UNLOCK)
    assert ledger.send_external(plan(ledger, NODE_WALLET, NODE_KEY, "1").transfer.external_message)[
        "success"
    ]


def test_only_the_owner_wallet_can_command(ledger: EmulatedChain) -> None:
    stranger = wallet_contract(WalletVersion.V4R2, NODE_KEY.public_key, NET)
    with pytest.raises(TransferError, match="not the owner"):
        plan_node_wallet_command(
            stranger, NODE_KEY, ledger.snapshot(stranger.address, WalletVersion.V4R2, NET),
            NODE_WALLET, NodeWalletCommand.WITHDRAW_ALL, now=ledger.now,
        )
