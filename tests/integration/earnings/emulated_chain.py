"""A local TON chain for the earnings integration tests, in place of pytoniq's LiteBalancer
(no liteserver is reachable from the test machines): every external message runs in the real
TVM transaction emulator (pytvm) against the accounts held here, with their real contract code
(the node wallet is upstream's CocoonWallet). Internal messages the node wallet sends are kept
in `outbox` for the test to inspect, not delivered: the worker contract code that upstream's
C++ expects is not published (see docs/areas/earnings.md), so its effect is set by the test.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
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

from cocoon_desktop.earnings.cells import store_std_address


def raw(address: Address) -> str:
    return address.to_str(is_user_friendly=False)


class EmulatedChain:
    """Implements the LiteBalancer calls the wallet's ChainService makes."""

    alive_peers_num = 1

    def __init__(self, now: int) -> None:
        self.now = now
        self.emulator = TransactionEmulator()
        self.emulator.set_unixtime(now)
        self.states: dict[str, Cell] = {}
        self.transactions: dict[str, list[Transaction]] = {}
        self.outbox: list[MessageAny] = []
        self.online = True
        self._lt = 1_000_000

    # -- what ChainService calls -----------------------------------------------------------
    async def start_up(self) -> None:
        if not self.online:
            raise ConnectionRefusedError("the emulated liteserver is switched off")

    async def raw_get_account_state(self, address: Address) -> tuple[Any, Any]:
        self._require_online()
        cell = self.states.get(raw(address))
        if cell is None:
            return None, None
        shard = ShardAccount.deserialize(cell.begin_parse())
        return shard.account, shard

    async def get_transactions(self, address: Address, count: int, **_: Any) -> list[Any]:
        self._require_online()
        return list(reversed(self.transactions.get(raw(address), [])))[:count]

    async def raw_send_message(self, boc: bytes) -> int:
        self._require_online()
        message = MessageAny.deserialize(Cell.one_from_boc(boc).begin_parse())
        result = self.run(message.info.dest, Cell.one_from_boc(boc))
        if not result["success"]:
            raise RuntimeError(f"the external message was refused: {result.get('error')}")
        self.outbox += [m for m in result["transaction"].out_msgs if m.is_internal]
        return 1  # what a liteserver answers for an accepted message

    # -- test controls ------------------------------------------------------------------------
    def _require_online(self) -> None:
        if not self.online:
            raise ConnectionRefusedError("the emulated liteserver is switched off")

    def run(self, destination: Address, message: Cell) -> dict[str, Any]:
        self._lt += 1_000
        self.emulator.set_lt(self._lt)
        key = raw(destination)
        result = self.emulator.emulate_transaction(self.states.get(key, EMPTY_STATE), message)
        if result["success"]:
            self.states[key] = result["shard_account"].serialize()
            self.transactions.setdefault(key, []).append(result["transaction"])
        return result

    def internal(self, source: Address, destination: Address, amount: int,
                 body: Cell | None = None, bounce: bool = False,
                 init: StateInit | None = None) -> dict[str, Any]:
        info = InternalMsgInfo(True, bounce, False, source, destination,
                               CurrencyCollection(amount), 0, 0, self._lt, self.now)
        message = MessageAny(info=info, init=init, body=body or Cell.empty())
        return self.run(destination, message.serialize())

    def put_worker_contract(self, address: Address, owner: Address, proxy_sc: Address,
                            proxy_key: bytes, tokens_processed: int) -> None:
        """An active account holding the worker contract's data in upstream's layout."""
        builder = store_std_address(begin_cell(), owner)
        store_std_address(builder, proxy_sc).store_bytes(proxy_key)
        data = builder.store_uint(0, 2).store_uint(tokens_processed, 64).store_ref(
            begin_cell().end_cell()).end_cell()
        state = StateInit(code=begin_cell().end_cell(), data=data)
        account = Account(address, StorageInfo(StorageUsed(0, 0),
                                               StorageExtraInfo("storage_extra_none"), 0, None),
                          AccountStorage(0, CurrencyCollection(10**9),
                                         AccountState("account_active", state_init=state)))
        self.states[raw(address)] = ShardAccount(account, bytes(32), 0).serialize()

    def balance(self, address: Address) -> int:
        cell = self.states.get(raw(address))
        account = ShardAccount.deserialize(cell.begin_parse()).account if cell else None
        return account.storage.balance.grams if account else 0


def liteserver_config_file(folder: Path) -> Path:
    """A well-formed TON config naming one (unused) liteserver, for ChainService."""
    zero = base64.b64encode(bytes(32)).decode()
    key = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    path = folder / "ton.config.json"
    path.write_text(json.dumps({
        "liteservers": [{"ip": 2130706433, "port": 1, "id": {"@type": "pub.ed25519",
                                                             "key": key}}],
        "validator": {"init_block": {"root_hash": zero, "file_hash": zero, "seqno": 0,
                                     "workchain": -1, "shard": -9223372036854775808}},
    }))
    return path
