"""The node opens wallets in one place: the network it serves, and the wizard's choice from the
same registry and keyring; the wizard's becomes the node's when the node serves that network,
and every chain connection is closed with the node."""

from __future__ import annotations

from pathlib import Path

from cocoon_desktop.node.config import paths_under
from cocoon_desktop.node.wallet_host import WalletHost
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.chain_types import ChainStatus
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.secret_store import SecretStore


async def test_one_place_opens_the_wallets_of_each_network(tmp_path: Path) -> None:
    paths = paths_under(tmp_path).ensure()
    host = WalletHost(paths, SecretStore(service="cocoon-test-unused", prompt_to_unlock=False))
    devnet = await host.open(NetworkKind.DEVNET, None)
    assert devnet.chain is None and devnet.wallet.network is None  # nothing settles there
    assert host.for_network(NetworkKind.DEVNET, None) is devnet  # the one being served
    wizard = host.for_network(NetworkKind.TESTNET, None)
    assert wizard.chain is not None and wizard.chain.network is TonNetwork.TESTNET
    assert wizard.wallet.store is devnet.wallet.store  # the same keyring service
    assert wizard.wallet.registry.path == devnet.wallet.registry.path
    assert host.for_network(NetworkKind.TESTNET, None) is wizard  # asked twice: one wallet

    served = await host.open(NetworkKind.TESTNET, None)  # the wizard's choice, now served
    assert served is wizard and host.current is wizard
    mainnet = await host.open(NetworkKind.MAINNET, None)
    assert mainnet.chain is not None and mainnet.chain.network is TonNetwork.MAINNET
    assert wizard.chain.state.message == "Disconnected."  # closed when no longer served
    await host.close()
    assert mainnet.chain.state.status is ChainStatus.IDLE
    assert mainnet.chain.state.message == "Disconnected."
