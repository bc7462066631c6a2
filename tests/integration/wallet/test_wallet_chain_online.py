"""The online half of the chain service, with liteserver answers coming from the TVM-emulated
ledger (no network exists here): fresh readings, persistence of the last known values, an outage
and the recovery, a withdrawal sent through the service and seen on the chain, a refused send."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.chain_types import AccountStatus, ChainStatus
from cocoon_desktop.wallet.contracts import WalletVersion, wallet_contract
from cocoon_desktop.wallet.manager import versions_holding_funds
from cocoon_desktop.wallet.mnemonic import keypair_from_seed
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transactions import TxKind
from cocoon_desktop.wallet.withdraw import plan_transfer
from tests.helpers.emulated_chain import EmulatedChain
from tests.helpers.ton_config import write_liteserver_config

TON = 1_000_000_000
NET = TonNetwork.MAINNET
KEY = keypair_from_seed(b"\x0d" * 32)
WALLET = wallet_contract(WalletVersion.V5R1, KEY.public_key, NET)
DEST = TonAddress(0, b"\x33" * 32)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def balancer(ledger: EmulatedChain) -> EmulatedChain:
    """The same chain, seen as the liteservers the chain service talks to."""
    return ledger


def make_service(tmp_path: Path, balancer: EmulatedChain, clock: Clock) -> ChainService:
    # Unused but valid: the service validates the config before using the balancer.
    config = write_liteserver_config(tmp_path)
    return ChainService(NET, cache_dir=tmp_path / "cache", config_file=config, clock=clock,
                        balancer_factory=balancer.factory)


def deploy(ledger: EmulatedChain, balance: int) -> None:
    ledger.fund_and_deploy(WALLET, KEY, balance, DEST)


async def test_fresh_readings_and_last_known_values_after_a_restart(
    tmp_path: Path, ledger: EmulatedChain, balancer: EmulatedChain
) -> None:
    deploy(ledger, 3 * TON)
    clock = Clock(float(ledger.now))
    chain = make_service(tmp_path, balancer, clock)
    reading = await chain.read_account(WALLET.address, WalletVersion.V5R1)
    assert reading.fresh and reading.state.status is ChainStatus.ONLINE
    snapshot = reading.snapshot
    assert snapshot is not None
    assert (snapshot.balance_nano, snapshot.seqno) == (ledger.balance(WALLET.address), 1)
    assert snapshot.status is AccountStatus.ACTIVE and reading.shard_account is not None
    await chain.close()

    balancer.online = False  # the app restarts while the liteservers are gone
    clock.now += 600
    restarted = make_service(tmp_path, balancer, clock)
    offline = await restarted.read_account(WALLET.address, WalletVersion.V5R1)
    assert not offline.fresh and offline.snapshot == snapshot
    assert offline.snapshot is not None and offline.snapshot.age_s(clock.now) == 600
    assert offline.state.status is ChainStatus.UNREACHABLE


async def test_an_outage_and_the_recovery(
    tmp_path: Path, ledger: EmulatedChain, balancer: EmulatedChain
) -> None:
    deploy(ledger, 3 * TON)
    clock = Clock(float(ledger.now))
    chain = make_service(tmp_path, balancer, clock)
    assert (await chain.read_account(WALLET.address)).fresh
    balancer.online = False  # the connection dies mid-session
    during = await chain.read_account(WALLET.address)
    assert not during.fresh and during.snapshot is not None
    assert during.state.status is ChainStatus.UNREACHABLE
    assert "did not answer in time" in during.state.message
    balancer.online = True
    assert not (await chain.read_account(WALLET.address)).fresh  # still backing off
    clock.now = (during.state.next_retry_at or 0) + 1
    after = await chain.read_account(WALLET.address)
    assert after.fresh and after.state.status is ChainStatus.ONLINE
    assert after.state.failures == 0 and after.state.last_success_at == clock.now


async def test_a_withdrawal_sent_through_the_service_lands_on_the_chain(
    tmp_path: Path, ledger: EmulatedChain, balancer: EmulatedChain
) -> None:
    deploy(ledger, 5 * TON)
    chain = make_service(tmp_path, balancer, Clock(float(ledger.now)))
    reading = await chain.read_account(WALLET.address, WalletVersion.V5R1)
    assert reading.snapshot is not None
    confirmation = plan_transfer(WALLET, KEY, reading.snapshot, DEST.wallet_form(NET), "2",
                                 "withdraw", shard_account=reading.shard_account, now=ledger.now)
    outcome = await chain.send(confirmation.transfer.boc)
    assert outcome.sent and outcome.state.status is ChainStatus.ONLINE
    after = await chain.read_account(WALLET.address, WalletVersion.V5R1)
    assert after.snapshot is not None and after.snapshot.seqno == 2
    assert reading.snapshot.balance_nano - after.snapshot.balance_nano == confirmation.total_nano
    history = await chain.read_transactions(WALLET.address, limit=5)
    latest = history.records[0]
    assert (latest.kind, latest.amount_nano, latest.comment) == (TxKind.OUTGOING, 2 * TON,
                                                                 "withdraw")
    assert latest.counterparty_raw == DEST.raw

    replay = await chain.send(confirmation.transfer.boc)  # the same message again
    assert not replay.sent and "refused" in replay.message
    assert replay.state.status is ChainStatus.ONLINE  # a refusal is not an outage


async def test_which_wallet_version_holds_funds(
    tmp_path: Path, ledger: EmulatedChain, balancer: EmulatedChain
) -> None:
    v4 = wallet_contract(WalletVersion.V4R2, KEY.public_key, NET)
    ledger.internal(v4.address, 2 * TON)  # only the V4R2 address was ever paid
    chain = make_service(tmp_path, balancer, Clock(float(ledger.now)))
    readings = {
        version: await chain.read_account(
            wallet_contract(version, KEY.public_key, NET).address, version)
        for version in (WalletVersion.V4R2, WalletVersion.V5R1)
    }
    assert versions_holding_funds(readings) == [WalletVersion.V4R2]
    deploy(ledger, 5 * TON)
    readings[WalletVersion.V5R1] = await chain.read_account(WALLET.address, WalletVersion.V5R1)
    assert versions_holding_funds(readings) == [WalletVersion.V5R1, WalletVersion.V4R2]
