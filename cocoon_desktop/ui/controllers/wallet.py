"""WalletController: owner address, full wallet, node wallet and balances, as signals.

It works on one network's wallet and chain (`WalletSource`): the node's, which it replaces when
the node reopens its wallet for another network (`use()`), or, for the wizard, the network
chosen there (the node's `wallet_for`: the node is the one place wallets are opened).

Every keyring access and key derivation runs on the blocking pool (D-Bus, PBKDF2); chain reads
are asyncio calls on the app's loop. On the local devnet there is no chain: balances are not
read and the page says so. Secrets pass through here only on their way to the keyring (new or
imported words) or to the user who explicitly asked (Export key); they are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import cancel_and_wait, run_blocking, spawn
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.address import parse_address
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.chain_types import AccountReading, ChainState, SendOutcome
from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.errors import TransferError, WalletError, WalletStateError
from cocoon_desktop.wallet.manager import FullWalletInfo, NodeWalletInfo, OwnerLink, WalletManager
from cocoon_desktop.wallet.secret_store import SecretStoreStatus
from cocoon_desktop.wallet.transactions import TransactionRecord, TxKind
from cocoon_desktop.wallet.withdraw import TransferConfirmation, plan_transfer

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 30.0


class WalletSource(Protocol):
    """One network's wallet and chain (`node.wallet_host.NodeWallet`)."""

    @property
    def wallet(self) -> WalletManager: ...

    @property
    def chain(self) -> ChainService | None: ...


@dataclass(frozen=True)
class WalletView:
    network: NetworkKind
    owner_address: str | None  # as the user gave it (their wallet app's form)
    full_wallet: FullWalletInfo | None
    node_wallet: NodeWalletInfo | None
    keyring: SecretStoreStatus
    on_chain: bool  # False on the local devnet
    owner_network_form: str | None = None  # how the network served writes the same account


class WalletController(QObject):
    wallet_changed = Signal(object)  # WalletView
    balance_updated = Signal(str, object)  # display address, AccountReading
    chain_state_changed = Signal(object)  # ChainState
    payout_received = Signal(object)  # TransactionRecord: a worker contract paid the owner

    def __init__(self, source: WalletSource | None, network: NetworkKind,
                 parent: QObject | None = None) -> None:
        """`source`: None until the node has opened its wallet (then `use()`)."""
        super().__init__(parent)
        self.source: WalletSource | None = None
        self.network = network
        self.view: WalletView | None = None
        self.balances: dict[str, AccountReading] = {}
        self._poll: asyncio.Task[None] | None = None
        self._follow: asyncio.Task[None] | None = None
        self._last_payout_lt: int | None = None  # None until the first read sets the baseline
        self._followed: weakref.WeakSet[ChainService] = weakref.WeakSet()
        if source is not None:
            self.use(source)

    def use(self, source: WalletSource) -> None:
        """Work on this wallet and chain from now on (the node reopened its wallet, or the
        wizard's network changed); follow the chain's state."""
        self.source = source
        chain = source.chain
        if chain is not None and chain not in self._followed:
            self._followed.add(chain)
            chain.add_listener(self.chain_state_changed.emit)

    @property
    def manager(self) -> WalletManager:
        if self.source is None:
            raise WalletStateError("The wallet is not open yet.", "Wait a moment.")
        return self.source.wallet

    @property
    def chain(self) -> ChainService | None:
        return self.source.chain if self.source is not None else None

    @property
    def chain_state(self) -> ChainState | None:
        return self.chain.state if self.chain is not None else None

    def set_network(self, network: NetworkKind) -> None:
        """The network served changed (the node reopened its wallet and chain)."""
        if network is not self.network:
            self.network = network
            self.balances.clear()
            self._last_payout_lt = None

    async def refresh(self) -> WalletView:
        self.view = await run_blocking(self._read_view)
        self.wallet_changed.emit(self.view)
        return self.view

    def _read_view(self) -> WalletView:
        if self.source is None:
            return WalletView(self.network, None, None, None,
                              SecretStoreStatus(False, "", "The wallet is not open yet."),
                              self.chain is not None)
        keyring = self.manager.store.status()
        if keyring.usable:
            self.manager.recover_from_keyring()
        owner = self.manager.owner_address()
        network_form = owner.wallet_form(self.manager.network) if owner else None
        return WalletView(self.network, self.manager.owner_shown(), self.manager.full_wallet(),
                          self.manager.node_wallet(), keyring, self.chain is not None,
                          network_form)

    # -- changes -------------------------------------------------------------------------
    async def link_owner(self, text: str) -> OwnerLink:
        link = await run_blocking(self.manager.link_owner, text.strip())
        await self.refresh()
        return link

    async def new_mnemonic(self) -> list[str]:
        return await run_blocking(self.manager.new_mnemonic)

    async def save_words(self, words: list[str], origin: str) -> FullWalletInfo:
        """Keep the words in the keyring; the wallet's preferred address becomes the owner."""
        info = await run_blocking(lambda: self.manager.save_full_wallet(
            words, origin=origin, use_as_owner=True))
        await self.refresh()
        return info

    async def ensure_node_wallet(self) -> NodeWalletInfo:
        info = await run_blocking(self.manager.ensure_node_wallet)
        await self.refresh()
        return info

    async def export_node_key(self) -> str:
        """The node wallet key for the user's backup: only when they asked for it."""
        return await run_blocking(self.manager.export_node_key)

    async def forget_full_wallet(self) -> None:
        await run_blocking(self.manager.forget_full_wallet)
        await self.refresh()

    # -- balances ------------------------------------------------------------------------
    def watched_addresses(self) -> list[tuple[str, WalletVersion]]:
        view = self.view
        if view is None:
            return []
        out: list[tuple[str, WalletVersion]] = []
        if view.node_wallet is not None and view.node_wallet.address:
            out.append((view.node_wallet.address, WalletVersion.NODE))
        if view.full_wallet is not None:
            out += [(a, v) for v, a in view.full_wallet.addresses.items()]
        return out

    async def read_balance(self, address: str, version: WalletVersion | None = None
                           ) -> AccountReading | None:
        if self.chain is None:
            return None
        reading = await self.chain.read_account(parse_address(address).address, version)
        self.balances[address] = reading
        self.balance_updated.emit(address, reading)
        return reading

    async def read_all_balances(self) -> None:
        for address, version in self.watched_addresses():
            await self.read_balance(address, version)

    def follow(self) -> None:
        """Read the (re)opened wallet, then poll its balances; a follow in progress is
        replaced, and `stop()` ends it, so nothing reads or signals after the app stopped."""
        if self._follow is not None:
            self._follow.cancel()
        self._follow = spawn(self._refresh_then_poll(), name="wallet.follow")

    async def _refresh_then_poll(self) -> None:
        await self.refresh()
        self.start_polling()

    def start_polling(self, interval_s: float = POLL_INTERVAL_S) -> None:
        if self.chain is not None and (self._poll is None or self._poll.done()):
            self._poll = spawn(self._poll_loop(interval_s), name="wallet.poll")

    async def stop(self) -> None:
        """Stop following and polling (the chain belongs to its source, which closes it)."""
        await cancel_and_wait(self._follow, "wallet refresh", timeout_s=3.0)
        await cancel_and_wait(self._poll, "wallet polling", timeout_s=3.0)

    async def _poll_loop(self, interval_s: float) -> None:
        while True:
            await self.read_all_balances()
            await self.check_payouts()
            await asyncio.sleep(interval_s)

    async def check_payouts(self) -> list[TransactionRecord]:
        """New payouts on the owner address since the last look (none on the first look)."""
        view = self.view
        if self.chain is None or view is None or not view.owner_address:
            return []
        reading = await self.chain.read_transactions(parse_address(view.owner_address).address)
        if not reading.fresh:
            return []
        payouts = [r for r in reading.records if r.kind is TxKind.PAYOUT]
        baseline = self._last_payout_lt
        self._last_payout_lt = max([r.lt for r in payouts] + [baseline or 0])
        if baseline is None:
            return []
        new = [r for r in payouts if r.lt > baseline]
        for record in new:
            self.payout_received.emit(record)
        return new

    # -- withdraw ------------------------------------------------------------------------
    async def plan_withdraw(self, source: str, to_text: str, amount_text: str,
                            comment: str = "") -> TransferConfirmation:
        """Check, sign and price a transfer from the node or full wallet; nothing is sent."""
        if self.chain is None:
            raise TransferError("The local devnet has no chain to send TON on.",
                                "Switch to a test network or mainnet in Settings.")
        if source == "node":
            contract = await run_blocking(self.manager.node_wallet_contract)
            key = await run_blocking(self.manager.node_wallet_key)
        else:
            contract = await run_blocking(self.manager.full_wallet_contract)
            key = await run_blocking(self.manager.full_wallet_key)
        reading = await self.chain.read_account(contract.address, contract.version)
        if reading.snapshot is None or not reading.fresh:
            raise TransferError("The wallet's balance could not be read from the chain now.",
                                "Check the connection and try again; nothing was sent.")
        return await run_blocking(lambda: plan_transfer(
            contract, key, reading.snapshot, to_text, amount_text, comment,
            shard_account=reading.shard_account))

    async def send(self, confirmation: TransferConfirmation) -> SendOutcome:
        if self.chain is None:
            raise WalletError("There is no chain on the local devnet.")
        outcome = await self.chain.send(confirmation.transfer.boc)
        log.info("transfer of %d nanoTON: %s", confirmation.amount_nano, outcome.message)
        return outcome
