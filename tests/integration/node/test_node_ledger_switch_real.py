"""Serve on the in-app devnet, then switch the running node to a test network: the devnet's
rows stay in the devnet's ledger and never reach the test network's figures, and the figures
say which network they are for. Real engine, real devnet proxies, real keyring, real SQLite."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.headless.journal import heartbeat
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    DevnetSettings,
    start_devnet,
)
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore
from tests.integration.node.node_harness import (
    StatusLog,
    client_of,
    complete,
    devnet_config,
    served_ok,
    wait_until,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.keyring]


def requests_in(node: Node) -> int:
    summary = node.status.earnings
    return -1 if summary is None else summary.all_time.requests


async def test_devnet_rows_stay_out_of_the_test_networks_figures(
        tmp_path: Path, store: SecretStore) -> None:
    node = Node(devnet_config(tmp_path / "home"))
    log = StatusLog(node)
    testnet = await start_devnet(
        DevnetSettings(worker_policy=AttestationPolicy("fake_tdx"), pow_difficulty=8),
        proxy_provider=FakeTdxProvider())
    root_file = tmp_path / "root.json"
    testnet.write_root_config(root_file)
    data = tmp_path / "home" / "data"
    try:
        await node.open()
        await node.start_serving()
        await log.wait_for(lambda s: s.state is NodeState.SERVING)
        assert node.engine is not None and node.engine.settings is not None
        model = node.engine.settings.model_name
        url, token = client_of(node.home.run_file)
        for _ in range(2):
            assert served_ok(await complete(url, token, model, max_tokens=6))
        await wait_until(lambda: requests_in(node) == 2, 30)
        assert node.status.earnings_network is NetworkKind.DEVNET
        assert "Devnet: test tokens, not real TON" in heartbeat(node.status)

        WalletManager(WalletRegistry(data), store, TonNetwork.TESTNET).ensure_node_wallet()
        node.apply_live_settings(dataclasses.replace(
            node.config, network=NetworkKind.TESTNET, root_config_file=root_file,
            root_contract_address=testnet.root_contract_address,
            owner_address=friendly(DEVNET_WORKER_OWNER), headless=True))
        serving = await log.wait_for(lambda s: s.state is NodeState.SERVING
                                     and s.where == "Cocoon testnet", 180)
        assert serving.earnings_network in (NetworkKind.TESTNET, None)
        await wait_until(lambda: requests_in(node) == 0, 30)  # the testnet's own: empty
        assert node.status.earnings_network is NetworkKind.TESTNET
        assert "Testnet: test tokens, not real TON" in heartbeat(node.status)
        assert served_ok(await complete(testnet.http_url, testnet.settings.http_token, model,
                                        max_tokens=6))
        await wait_until(lambda: requests_in(node) == 1, 30)  # one, not three
    finally:
        await node.close()
        await testnet.stop()
    with Ledger.open(data / "ledger-devnet.sqlite3") as devnet_ledger:
        devnet_rows = devnet_ledger.requests()
    with Ledger.open(data / "ledger-testnet.sqlite3") as testnet_ledger:
        testnet_rows = testnet_ledger.requests()
    assert len(devnet_rows) == 2 and len(testnet_rows) == 1
    assert not {r.request_id for r in devnet_rows} & {r.request_id for r in testnet_rows}
    assert not (data / "ledger.sqlite3").exists()  # no shared ledger any more
