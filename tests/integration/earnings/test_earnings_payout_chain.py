"""Payouts end to end on an emulated chain: the node wallet (upstream's CocoonWallet code, run
in the real TVM emulator, key in the real keyring) sends the repacked statement to the worker
contract; the chain sync confirms it and finds the owner's receipt; every refusal is explained.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from pytoniq_core import Address, begin_cell

from cocoon_desktop.earnings.chain_sync import sync_with_chain
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.payout_service import PayoutService
from cocoon_desktop.earnings.payouts import GAS_NANOTON, build_payout_message
from cocoon_desktop.earnings.reconcile import GapKind, reconcile
from cocoon_desktop.earnings.records import PayoutStatus, ProxySession
from cocoon_desktop.earnings.wallet_bridge import WalletChainReader, WalletPayoutSender
from cocoon_desktop.protocol.cells import OP_PAYOUT
from cocoon_desktop.protocol.statements import sign_statement, verify_statement
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.manager import NODE_KEY_REF, WalletManager
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.registry import WalletRegistry
from tests.helpers.emulated_chain import EmulatedChain
from tests.helpers.keyring_store import throwaway_secret_store
from tests.helpers.ton_config import write_liteserver_config

pytestmark = [pytest.mark.keyring,
              pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")]
TON = 1_000_000_000
OWNER = Address("0:" + "0e" * 32)
PROXY_SEED = b"\x51" * 32
PROXY_SC = Address("0:" + "5c" * 32)
PROXY_WALLET = Address("0:" + "5d" * 32)
WORKER_SC = Address("0:" + "3c" * 32)
FEE = 1000  # nanoTON per adjusted token


class Rig:
    def __init__(self, manager: WalletManager, chain: EmulatedChain, service: ChainService,
                 ledger: Ledger) -> None:
        self.manager, self.chain, self.service, self.ledger = manager, chain, service, ledger
        self.node = manager.node_wallet_contract()
        self.sender = WalletPayoutSender(manager, service)
        self.payouts = PayoutService(ledger, self.sender)
        self.proxy_key = bytes(SigningKey(PROXY_SEED).verify_key).hex()

    def fund_node_wallet(self, amount: int) -> None:
        self.chain.internal(self.node.address, amount, source=OWNER)

    def statement(self, tokens: int) -> None:
        self.ledger.register_proxy(ProxySession(self.proxy_key, PROXY_SC.to_str(False),
                                                WORKER_SC.to_str(False), FEE))
        self.ledger.record_statement(verify_statement(
            sign_statement(PROXY_SEED, tokens, WORKER_SC, PROXY_WALLET),
            bytes.fromhex(self.proxy_key)))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    store = throwaway_secret_store()
    manager = WalletManager(WalletRegistry(tmp_path), store, TonNetwork.TESTNET)
    manager.link_owner(OWNER.to_str(False))
    manager.ensure_node_wallet()
    chain = EmulatedChain()
    service = ChainService(TonNetwork.TESTNET, cache_dir=tmp_path / "cache",
                           config_file=write_liteserver_config(tmp_path),
                           balancer_factory=chain.factory)
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        yield Rig(manager, chain, service, ledger)
    store.delete(NODE_KEY_REF)


async def test_a_payout_goes_out_is_confirmed_and_received(rig: Rig) -> None:
    rig.fund_node_wallet(3 * TON)  # funded, never deployed: the payout deploys it
    rig.statement(5_000_000)  # 5 TON due
    [outcome] = await rig.payouts.run_once(user_proxy_key=rig.proxy_key)
    assert outcome.sent, outcome.message
    # The node wallet contract accepted the signed message and sent exactly upstream's payout.
    [sent] = rig.chain.outbox
    assert Address(sent.info.dest) == WORKER_SC and sent.info.bounce
    assert sent.info.value.grams == GAS_NANOTON
    _, statement = rig.ledger.latest_statement(rig.proxy_key)
    expected = build_payout_message(statement, rig.node.address.to_pytoniq())
    assert sent.body.hash == expected.body.hash
    [payout] = rig.ledger.payouts()
    assert payout.status is PayoutStatus.SUBMITTED and payout.external_msg_hash
    assert (payout.tokens_from, payout.tokens_to, payout.amount_nanoton) == (0, 5_000_000,
                                                                             5 * TON)
    # While the chain has not carried it out, a second round sends nothing.
    [waiting] = await rig.payouts.run_once(user_proxy_key=rig.proxy_key)
    assert not waiting.sent and "on its way" in waiting.message
    # The worker contract pays (its counter moves) and the owner's wallet receives the TON.
    rig.chain.put_worker_contract(WORKER_SC, OWNER, PROXY_SC, bytes.fromhex(rig.proxy_key),
                                  5_000_000)
    body = begin_cell().store_uint(OP_PAYOUT, 32).store_uint(0, 64).end_cell()
    receipt = rig.chain.internal(OWNER, 5 * TON, source=PROXY_SC, body=body)
    report = await sync_with_chain(rig.ledger, WalletChainReader(rig.service, OWNER.to_str()))
    assert report.problems == () and report.confirmed == report.received == (payout.id,)
    [done] = rig.ledger.payouts()
    assert done.status is PayoutStatus.RECEIVED
    assert done.owner_tx_hash == receipt["transaction"].cell.hash.hex()
    [view] = reconcile(rig.ledger).proxies
    assert (view.committed_tokens, view.paid_tokens, view.received_nanoton) == (
        5_000_000, 5_000_000, 5 * TON)
    # Nothing left to explain but that this test signed tokens it never served:
    assert {g.kind for g in view.gaps} == {GapKind.BEYOND_LEDGER}


async def test_too_little_gas_says_how_much_to_send(rig: Rig) -> None:
    rig.fund_node_wallet(1_500_000_000)
    rig.statement(20_000_000)
    [outcome] = await rig.payouts.run_once()  # 20 TON due: above the threshold
    assert not outcome.sent and rig.chain.outbox == [] and rig.ledger.payouts() == []
    assert f"Send at least 0.515 TON to {rig.node.display_address}" in outcome.message


async def test_a_locked_node_wallet_refusal_is_recorded_with_its_reason(rig: Rig) -> None:
    rig.fund_node_wallet(3 * TON)
    lock = begin_cell().store_uint(0, 32).store_snake_string("b").end_cell()
    # The owner locks the node wallet (the message deploys it, as the owner's app would).
    first = rig.chain.internal(rig.node.address, TON // 10, source=OWNER, body=lock,
                               init=rig.node.state_init)
    assert first["success"]
    rig.statement(1_000_000)
    sender_state = await rig.sender.node_wallet_state()
    assert sender_state.balance_nanoton is not None
    [outcome] = await rig.payouts.run_once(user_proxy_key=rig.proxy_key)
    assert not outcome.sent and rig.chain.outbox == []
    [payout] = rig.ledger.payouts()
    assert payout.status is PayoutStatus.FAILED
    assert payout.error and "refuse" in payout.error


async def test_an_unreachable_chain_sends_nothing_and_says_so(rig: Rig) -> None:
    rig.chain.online = False
    rig.statement(1_000_000)
    [outcome] = await rig.payouts.run_once(user_proxy_key=rig.proxy_key)
    assert not outcome.sent and "could not be read" in outcome.message
    assert rig.ledger.payouts() == []
    report = await sync_with_chain(rig.ledger, WalletChainReader(rig.service, OWNER.to_str()))
    assert report.problems and report.confirmed == ()

