"""A local TON chain for the wallet and earnings tests, in place of pytoniq's LiteBalancer (no
liteserver is reachable from the test machines).

Every message runs in the real TVM transaction emulator (pytvm) against the accounts held here,
with their real contract code (wallets, upstream's CocoonWallet). It answers the liteserver calls
the wallet's `ChainService` makes (pass `chain.factory` as its `balancer_factory`); `online =
False` makes it behave like dead liteservers. Internal messages that externals send are kept in
`outbox`, and delivered only when a test asks (`deliver`): the worker contract code upstream's
C++ expects is not published (see docs/areas/earnings.md), so its effect is set by the test
(`put_worker_contract`).

Usage: `from tests.helpers.emulated_chain import EmulatedChain`.
"""

from __future__ import annotations

import time
from typing import Any

from pytoniq_core import (
    Address,
    Cell,
    CurrencyCollection,
    InternalMsgInfo,
    MessageAny,
    ShardAccount,
    StateInit,
    Transaction,
    begin_cell,
)
from pytoniq_core.tlb.account import (
    Account,
    AccountState,
    AccountStorage,
    StorageExtraInfo,
    StorageInfo,
    StorageUsed,
)
from pytvm.transaction_emulator import TransactionEmulator
from pytvm.transaction_emulator.trace import EMPTY_STATE

from cocoon_desktop.protocol.cells import store_std_address
from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.chain import snapshot_from_account
from cocoon_desktop.wallet.chain_types import AccountSnapshot
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion
from cocoon_desktop.wallet.mnemonic import KeyPair
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transfer import OutgoingMessage, sign_transfer

FUNDER = TonAddress(0, b"\x99" * 32)
AnyAddress = TonAddress | Address


def _pytoniq(address: AnyAddress) -> Address:
    return address.to_pytoniq() if isinstance(address, TonAddress) else address


def _key(address: AnyAddress) -> str:
    return _pytoniq(address).to_str(is_user_friendly=False)


class EmulatedChain:
    """Accounts whose transactions run in the real TVM transaction emulator (pytvm)."""

    def __init__(self, now: int | None = None) -> None:
        self.now = int(time.time()) if now is None else now
        self.emulator = TransactionEmulator()
        self.emulator.set_unixtime(self.now)
        self.states: dict[str, Cell] = {}
        self.transactions: dict[str, list[Transaction]] = {}  # newest first
        self.outbox: list[MessageAny] = []  # internal messages sent by accepted externals
        self.online = True
        self.alive_peers_num = 0
        self._lt = 1_000_000

    # -- the chain ----------------------------------------------------------------------------
    def run(self, address: AnyAddress, message: Cell) -> dict[str, Any]:
        """Run one inbound message on `address`; keep the new state when it succeeds."""
        self._lt += 1_000
        self.emulator.set_lt(self._lt)
        key = _key(address)
        result = self.emulator.emulate_transaction(self.states.get(key, EMPTY_STATE), message)
        if result["success"]:
            self.states[key] = result["shard_account"].serialize()
            self.transactions.setdefault(key, []).insert(0, result["transaction"])
        return result

    def send_external(self, message: Cell) -> dict[str, Any]:
        parsed = MessageAny.deserialize(message.begin_parse())
        result = self.run(parsed.info.dest, message)
        if result["success"]:
            self.outbox += [m for m in result["transaction"].out_msgs if m.is_internal]
        return result

    def internal(self, destination: AnyAddress, amount_nano: int, *,
                 source: AnyAddress = FUNDER, body: Cell | None = None, bounce: bool = False,
                 init: StateInit | None = None) -> dict[str, Any]:
        info = InternalMsgInfo(True, bounce, False, _pytoniq(source), _pytoniq(destination),
                               CurrencyCollection(amount_nano), 0, 0, self._lt, self.now)
        message = MessageAny(info=info, init=init, body=body or Cell.empty())
        return self.run(destination, message.serialize())

    def deliver(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the internal messages a transaction sent, at their destinations."""
        return [self.run(out.info.dest, out.serialize())
                for out in result["transaction"].out_msgs if out.is_internal]

    def fund_and_deploy(self, wallet: WalletContract, key: KeyPair, balance_nano: int,
                        first_to: TonAddress) -> dict[str, Any]:
        """Fund `wallet`, then deploy it with a first transfer of 1 nanoTON to `first_to`, as
        a real first use would; that transaction must succeed."""
        self.internal(wallet.address, balance_nano)
        first = sign_transfer(wallet, key, 0, [OutgoingMessage(first_to, 1, False)],
                              deploy=True, now=self.now)
        result = self.send_external(first.external_message)
        assert result["success"], result.get("error")
        return result

    def put_worker_contract(self, address: AnyAddress, owner: AnyAddress, proxy_sc: AnyAddress,
                            proxy_key: bytes, tokens_processed: int) -> None:
        """An active account holding the worker contract's data in upstream's layout."""
        builder = store_std_address(begin_cell(), _pytoniq(owner))
        store_std_address(builder, _pytoniq(proxy_sc)).store_bytes(proxy_key)
        data = builder.store_uint(0, 2).store_uint(tokens_processed, 64).store_ref(
            begin_cell().end_cell()).end_cell()
        state = StateInit(code=begin_cell().end_cell(), data=data)
        storage = StorageInfo(StorageUsed(0, 0), StorageExtraInfo("storage_extra_none"), 0, None)
        account = Account(_pytoniq(address), storage, AccountStorage(
            0, CurrencyCollection(10**9), AccountState("account_active", state_init=state)))
        self.states[_key(address)] = ShardAccount(account, bytes(32), 0).serialize()

    def shard_account(self, address: AnyAddress) -> Cell | None:
        return self.states.get(_key(address))

    def balance(self, address: AnyAddress) -> int:
        state = self.states.get(_key(address))
        account = ShardAccount.deserialize(state.begin_parse()).account if state else None
        return account.storage.balance.grams if account else 0

    def snapshot(self, address: TonAddress, version: WalletVersion | None,
                 network: TonNetwork) -> AccountSnapshot:
        state = self.states.get(_key(address))
        shard = ShardAccount.deserialize(state.begin_parse()) if state is not None else None
        account = shard.account if shard is not None else None
        return snapshot_from_account(address, network, account, shard, version, float(self.now))

    # -- what ChainService calls on a LiteBalancer --------------------------------------------
    def factory(self, config: dict[str, Any], timeout_s: float) -> EmulatedChain:
        return self

    async def start_up(self) -> None:
        self.alive_peers_num = 1 if self.online else 0

    def _check(self) -> None:
        if not self.online:
            self.alive_peers_num = 0
            raise TimeoutError

    async def raw_get_account_state(self, address: Address) -> tuple[Any, Any]:
        self._check()
        state = self.states.get(_key(address))
        if state is None:
            return None, None
        shard = ShardAccount.deserialize(state.begin_parse())
        return shard.account, shard

    async def get_transactions(self, address: Address, count: int, **_: Any
                               ) -> list[Transaction]:
        self._check()
        return self.transactions.get(_key(address), [])[:count]

    async def raw_send_message(self, message: bytes) -> int:
        from pytoniq.liteclient.client import LiteServerError

        self._check()
        result = self.send_external(Cell.one_from_boc(message))
        if not result["success"]:
            raise LiteServerError(0, "cannot apply external message to current state")
        return 1  # what a liteserver answers for an accepted message
