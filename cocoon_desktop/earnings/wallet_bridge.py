"""The wallet area's node wallet and chain service, as earnings' sender and chain reader.

`WalletPayoutSender` signs the payout with the node wallet key (from the OS keyring, read in a
worker thread), runs it in the TVM emulator first when pytvm is present (the node wallet contract
would refuse: used seqno, balance at or below 2 TON, locked by the owner), then hands it to the
liteservers. `WalletChainReader` reads worker contracts and the owner's incoming payouts.
"""

from __future__ import annotations

import time

from pytoniq_core import Address, Cell, ShardAccount

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.earnings.chain_sync import ChainUnavailable, IncomingPayout
from cocoon_desktop.earnings.payout_service import NodeWalletState, PayoutSendError
from cocoon_desktop.earnings.payouts import PayoutMessage
from cocoon_desktop.protocol.cells import (
    CellLayoutError,
    WorkerContractState,
    parse_worker_contract_data,
)
from cocoon_desktop.wallet.address import TonAddress, parse_address
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.chain_types import AccountReading, AccountStatus
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.fees import emulate_fee
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.transactions import TxKind
from cocoon_desktop.wallet.transfer import OutgoingMessage, sign_transfer

_UNREAD = "the chain could not be read just now; it is read again at the next sync"


class WalletPayoutSender:
    """Sends payouts from the node wallet of `manager` through `chain`."""

    def __init__(self, manager: WalletManager, chain: ChainService) -> None:
        self._manager = manager
        self._chain = chain

    def _contract(self) -> WalletContract:
        try:
            return self._manager.node_wallet_contract()
        except WalletError as exc:
            raise PayoutSendError(str(exc)) from None

    async def node_wallet_state(self) -> NodeWalletState:
        contract = self._contract()
        reading = await self._chain.read_account(contract.address, WalletVersion.NODE)
        balance = reading.snapshot.balance_nano if reading.fresh and reading.snapshot else None
        return NodeWalletState(contract.address.to_pytoniq(), contract.display_address, balance)

    async def send_payout(self, message: PayoutMessage) -> str:
        contract = self._contract()
        reading = await self._chain.read_account(contract.address, WalletVersion.NODE)
        snapshot = reading.snapshot
        if not reading.fresh or snapshot is None or snapshot.seqno is None:
            raise PayoutSendError("the node wallet could not be read from the chain just now "
                                  f"({reading.state.message}); the payout is retried later")
        try:
            key = await run_blocking(self._manager.node_wallet_key)
        except WalletError as exc:
            raise PayoutSendError(f"the node wallet key is not available: {exc}") from None
        outgoing = OutgoingMessage(TonAddress.from_pytoniq(message.destination),
                                   message.amount_nanoton, message.bounce, body=message.body)
        deploy = snapshot.status is not AccountStatus.ACTIVE
        now = int(time.time())
        signed = sign_transfer(contract, key, snapshot.seqno, [outgoing], deploy=deploy, now=now)
        fee = await run_blocking(emulate_fee, WalletVersion.NODE, reading.shard_account,
                                      signed.external_message, now, deploy)
        if fee.refusal:
            raise PayoutSendError(f"the node wallet contract would refuse the payout: "
                                  f"{fee.refusal}; nothing was sent")
        outcome = await self._chain.send(signed.boc)
        if not outcome.sent:
            raise PayoutSendError(outcome.message)
        return signed.message_hash_hex


def worker_state_from_reading(reading: AccountReading) -> WorkerContractState | None:
    """The worker contract's data from an account reading; None while not deployed."""
    if reading.shard_account is None:
        return None
    account = ShardAccount.deserialize(reading.shard_account.begin_parse()).account
    state = account.storage.state if account is not None else None
    if state is None or state.type_ != "account_active" or state.state_init.data is None:
        return None
    data: Cell = state.state_init.data
    try:
        return parse_worker_contract_data(data)
    except CellLayoutError as exc:
        raise ChainUnavailable(f"the worker contract's data has an unexpected layout ({exc}); "
                               "this app may need an update") from None


class WalletChainReader:
    """Reads worker contracts and the owner's payouts through the wallet's chain service."""

    def __init__(self, chain: ChainService, owner_address: str, receipts_to_scan: int = 50
                 ) -> None:
        self._chain = chain
        self._owner = parse_address(owner_address).address
        self._limit = receipts_to_scan
        self.known_worker_contracts: frozenset[TonAddress] = frozenset()

    async def worker_contract_state(self, worker_sc_address: str) -> WorkerContractState | None:
        address = TonAddress.from_pytoniq(Address(worker_sc_address))
        self.known_worker_contracts |= {address}
        reading = await self._chain.read_account(address)
        if not reading.fresh:
            raise ChainUnavailable(reading.state.message or _UNREAD)
        return worker_state_from_reading(reading)

    async def owner_payouts(self) -> list[IncomingPayout]:
        reading = await self._chain.read_transactions(self._owner, self._limit,
                                                      self.known_worker_contracts)
        if not reading.fresh:
            raise ChainUnavailable(reading.state.message or _UNREAD)
        return [IncomingPayout(r.hash_hex, r.amount_nano, r.utime, r.counterparty_raw)
                for r in reading.records if r.kind is TxKind.PAYOUT]
