"""The node's wallets: the one place a `WalletManager` and its `ChainService` are put together.

A node serves one network: `current` is that network's wallet (the instance's registry and
keyring service) and chain (none on the devnet), reopened when the user picks another network.
The first-run wizard lets the user choose a network before the node serves it: `for_network`
gives that network's wallet from the same registry and keyring, kept until the node serves
that network (it then becomes `current`) or closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.core.paths import AppPaths
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import ton_network_for
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore


@dataclass(frozen=True)
class NodeWallet:
    """One network's wallet and chain connection (no chain on the devnet: nothing settles)."""

    network: NetworkKind
    wallet: WalletManager
    chain: ChainService | None
    ton_config_file: Path | None = None  # the liteservers the chain reads through


def open_wallet(paths: AppPaths, store: SecretStore, network: NetworkKind,
                ton_config_file: Path | None) -> NodeWallet:
    """A wallet over the registry in `paths` and the keyring behind `store`, for `network`."""
    ton = ton_network_for(network)
    manager = WalletManager(WalletRegistry(paths.data_dir), store, ton)
    chain = (ChainService(ton, cache_dir=paths.cache_dir, config_file=ton_config_file)
             if ton is not None else None)
    return NodeWallet(network, manager, chain, ton_config_file)


class WalletHost:
    def __init__(self, paths: AppPaths, store: SecretStore) -> None:
        self._paths = paths
        self.store = store
        self.current: NodeWallet | None = None
        self._spares: dict[tuple[NetworkKind, Path | None], NodeWallet] = {}

    async def open(self, network: NetworkKind, ton_config_file: Path | None) -> NodeWallet:
        """Serve `network`'s wallet from now on; the previous chain connection is closed."""
        if self.current is not None and self.current.chain is not None:
            await self.current.chain.close()
        spare = self._spares.pop((network, ton_config_file), None)
        self.current = spare or open_wallet(self._paths, self.store, network, ton_config_file)
        return self.current

    def for_network(self, network: NetworkKind, ton_config_file: Path | None) -> NodeWallet:
        """`network`'s wallet (the current one when the node serves that network)."""
        current = self.current
        if (current is not None and current.network is network
                and current.ton_config_file == ton_config_file):
            return current
        key = (network, ton_config_file)
        if key not in self._spares:
            self._spares[key] = open_wallet(self._paths, self.store, network, ton_config_file)
        return self._spares[key]

    async def close(self) -> None:
        for opened in [*self._spares.values(), *([self.current] if self.current else [])]:
            if opened.chain is not None:
                await opened.chain.close()
        self._spares.clear()
