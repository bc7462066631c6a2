"""Helpers for the wallet integration tests: a tiny chain whose transactions run in the real
TVM transaction emulator (pytvm, the engine validators run), and loopback ports."""

from __future__ import annotations

import base64
import socket
import time
from typing import Any

from nacl.signing import SigningKey
from pytoniq_core import (
    Cell,
    CurrencyCollection,
    InternalMsgInfo,
    MessageAny,
    ShardAccount,
    StateInit,
    Transaction,
)
from pytvm.transaction_emulator import TransactionEmulator
from pytvm.transaction_emulator.trace import EMPTY_STATE

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.chain import snapshot_from_account
from cocoon_desktop.wallet.chain_types import AccountSnapshot
from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.networks import TonNetwork

FUNDER = TonAddress(0, b"\x99" * 32)
NOW = int(time.time())


class Ledger:
    """Accounts whose transactions run in the real TVM transaction emulator (pytvm)."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now
        self.emulator = TransactionEmulator()
        self.emulator.set_unixtime(now)
        self.states: dict[TonAddress, Cell] = {}
        self.transactions: dict[TonAddress, list[Transaction]] = {}  # newest first
        self._lt = 1_000_000

    def run(self, address: TonAddress, message: Cell) -> dict[str, Any]:
        """Run one inbound message on `address`; keep the new state when it succeeds."""
        self._lt += 1_000
        self.emulator.set_lt(self._lt)
        result = self.emulator.emulate_transaction(self.states.get(address, EMPTY_STATE), message)
        if result["success"]:
            self.states[address] = result["shard_account"].serialize()
            self.transactions.setdefault(address, []).insert(0, result["transaction"])
        return result

    def send_external(self, message: Cell) -> dict[str, Any]:
        parsed = MessageAny.deserialize(message.begin_parse())
        return self.run(TonAddress.from_pytoniq(parsed.info.dest), message)

    def internal(
        self,
        destination: TonAddress,
        amount_nano: int,
        *,
        source: TonAddress = FUNDER,
        body: Cell | None = None,
        bounce: bool = False,
        init: StateInit | None = None,
    ) -> dict[str, Any]:
        info = InternalMsgInfo(
            True, bounce, False, source.to_pytoniq(), destination.to_pytoniq(),
            CurrencyCollection(amount_nano), 0, 0, self._lt, self.now,
        )
        message = MessageAny(info=info, init=init, body=body or Cell.empty())
        return self.run(destination, message.serialize())

    def deliver(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the internal messages a transaction sent, at their destinations."""
        results = []
        for out in result["transaction"].out_msgs:
            if out.is_internal:
                destination = TonAddress.from_pytoniq(out.info.dest)
                results.append(self.run(destination, out.serialize()))
        return results

    def shard_account(self, address: TonAddress) -> Cell | None:
        return self.states.get(address)

    def balance(self, address: TonAddress) -> int:
        state = self.states.get(address)
        if state is None:
            return 0
        account = ShardAccount.deserialize(state.begin_parse()).account
        return account.storage.balance.grams if account else 0

    def snapshot(
        self, address: TonAddress, version: WalletVersion | None, network: TonNetwork
    ) -> AccountSnapshot:
        state = self.states.get(address)
        shard = ShardAccount.deserialize(state.begin_parse()) if state is not None else None
        account = shard.account if shard is not None else None
        return snapshot_from_account(address, network, account, shard, version, float(self.now))


def liteserver_config(ports: list[int]) -> dict[str, Any]:
    """A global config naming loopback liteservers on `ports` (fresh, valid server keys)."""
    zero = base64.b64encode(bytes(32)).decode()
    return {
        "liteservers": [
            {"ip": 2130706433, "port": port, "id": {
                "@type": "pub.ed25519",
                "key": base64.b64encode(bytes(SigningKey.generate().verify_key)).decode(),
            }} for port in ports
        ],
        "validator": {"init_block": {
            "root_hash": zero, "file_hash": zero, "seqno": 0, "workchain": -1,
            "shard": -9223372036854775808,
        }},
    }


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatedLiteBalancer:
    """Answers the few liteserver calls the chain service makes from a `Ledger`.

    There is no network here, so this stands in for pytoniq's LiteBalancer (at the balancer
    boundary, built by the service's `balancer_factory`) to test the online half of the
    service's state machine; `online = False` makes it behave like dead liteservers.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.online = True
        self.alive_peers_num = 0
        self._peers: list[Any] = []
        self._checker = None

    def factory(self, config: dict[str, Any], timeout_s: float) -> EmulatedLiteBalancer:
        return self

    async def start_up(self) -> None:
        self.alive_peers_num = 1 if self.online else 0

    def _check(self) -> None:
        if not self.online:
            self.alive_peers_num = 0
            raise TimeoutError

    async def raw_get_account_state(self, address: Any) -> tuple[Any, Any]:
        self._check()
        state = self.ledger.states.get(TonAddress.from_pytoniq(address))
        if state is None:
            return None, None
        shard = ShardAccount.deserialize(state.begin_parse())
        return shard.account, shard

    async def get_transactions(self, address: Any, count: int) -> list[Transaction]:
        self._check()
        return self.ledger.transactions.get(TonAddress.from_pytoniq(address), [])[:count]

    async def raw_send_message(self, message: bytes) -> int:
        from pytoniq.liteclient.client import LiteServerError

        self._check()
        result = self.ledger.send_external(Cell.one_from_boc(message))
        if not result["success"]:
            raise LiteServerError(0, "cannot apply external message to current state")
        return 1
