"""A proxy that rolls back what it committed is caught across runs: the node restores each
proxy's newest statement from the ledger into the worker before it connects. Run 1 earns on
a test network (a standalone devnet as its proxy, root config from a file); between the runs
the proxy "loses its database"; run 2, on the same folder, refuses it at the handshake.
Real engine, real ledger, real keyring (the test network's node wallet key), real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    Devnet,
    DevnetSettings,
    start_devnet,
)
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore
from tests.integration.node.node_harness import (
    StatusLog,
    complete,
    devnet_config,
    served_ok,
    wait_until,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.keyring]
OWNER = friendly(DEVNET_WORKER_OWNER)


def proxy_details(node: Node) -> list[str]:
    opened = node.worker.opened
    return [p.detail for p in opened.worker.status().proxies] if opened is not None else []


async def started(config: NodeConfig, store: SecretStore) -> tuple[Node, StatusLog]:
    """A node on `config` that was asked to serve (its node wallet in the keyring)."""
    node = Node(config)
    log = StatusLog(node)
    await node.open()
    WalletManager(WalletRegistry(node.home.paths.data_dir), store,
                  TonNetwork.TESTNET).ensure_node_wallet()
    await node.start_serving()
    return node, log


async def test_a_proxy_that_rolled_back_is_refused_in_the_next_run(
        tmp_path: Path, store: SecretStore) -> None:
    devnet: Devnet = await start_devnet(
        DevnetSettings(worker_policy=AttestationPolicy("fake_tdx"), pow_difficulty=4),
        proxy_provider=FakeTdxProvider())
    root_file = tmp_path / "root.json"
    devnet.write_root_config(root_file)
    config = devnet_config(tmp_path / "home", network=NetworkKind.TESTNET,
                           root_config_file=root_file, owner_address=OWNER, headless=True,
                           root_contract_address=devnet.root_contract_address)
    try:
        node, log = await started(config, store)
        try:
            await log.wait_for(lambda s: s.state is NodeState.SERVING, 120)
            assert node.engine.settings is not None
            model = node.engine.settings.model_name
            assert served_ok(await complete(devnet.http_url, devnet.settings.http_token, model,
                                            max_tokens=8))
            await wait_until(lambda: node.status.earnings is not None
                             and node.status.earnings.all_time.requests == 1, 60)
        finally:
            assert await node.close() is True
        account = devnet.proxy.account(DEVNET_WORKER_OWNER)
        assert account.tokens > 0  # what run 1 earned, signed by the proxy
        account.tokens = 0  # the proxy "lost its database"
        devnet.proxy.sign(account)
        node, _ = await started(config, store)
        try:
            await wait_until(lambda: any("cannot reconcile payment" in d
                                         for d in proxy_details(node)), 120)
            assert node.worker.opened is not None
            assert node.worker.opened.worker.status().connected_proxies == 0
        finally:
            await node.close()
    finally:
        await devnet.stop()
