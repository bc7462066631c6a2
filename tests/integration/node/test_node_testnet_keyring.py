"""A node on a test network (not the devnet): root config from upstream's fake-TON JSON file,
software attestation both ways, the owner linked and the node wallet key read from the real
keyring before serving, payouts wired to the node wallet."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    Devnet,
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
from tests.integration.node.node_harness import StatusLog, devnet_config

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.keyring]
OWNER = friendly(DEVNET_WORKER_OWNER)


async def test_serving_a_test_network_reads_its_key_from_the_keyring(
        tmp_path: Path, store: SecretStore) -> None:
    devnet: Devnet = await start_devnet(
        DevnetSettings(worker_policy=AttestationPolicy("fake_tdx"), pow_difficulty=8),
        proxy_provider=FakeTdxProvider())
    root_file = tmp_path / "root.json"
    devnet.write_root_config(root_file)
    config = devnet_config(tmp_path / "home", network=NetworkKind.TESTNET,
                           root_config_file=root_file, owner_address=OWNER, headless=True,
                           root_contract_address=devnet.root_contract_address)
    node = Node(config)
    log = StatusLog(node)
    try:
        await node.open()
        missing = await node.start_serving()
        assert missing.state is NodeState.FAILED
        assert "has no node wallet yet" in missing.headline
        assert "--import-worker-conf" in missing.what_to_do
        manager = WalletManager(WalletRegistry(node.home.paths.data_dir), store,
                                TonNetwork.TESTNET)
        info = manager.ensure_node_wallet()
        await node.start_serving()
        serving = await log.wait_for(lambda s: s.state is NodeState.SERVING, 120)
        assert serving.where == "Cocoon testnet"
        assert devnet.proxy.public_key  # a fake_tdx proxy accepted our fake_tdx worker
        assert node.earnings is not None and node.earnings.payouts is not None
        node_wallet = manager.node_wallet()
        assert node_wallet is not None and node_wallet.address  # owner linked by the node
        assert node_wallet.public_key_hex == info.public_key_hex
    finally:
        await node.close()
        await devnet.stop()


def liteservers_that_refuse(path: Path) -> Path:
    """A TON config naming one loopback liteserver where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    zero = base64.b64encode(bytes(32)).decode()
    key = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    path.write_text(json.dumps({
        "liteservers": [{"ip": 2130706433, "port": port,
                         "id": {"@type": "pub.ed25519", "key": key}}],
        "validator": {"init_block": {"root_hash": zero, "file_hash": zero, "seqno": 0,
                                     "workchain": -1, "shard": -9223372036854775808}}}))
    return path


async def test_an_unreachable_root_contract_is_retried_not_fatal(
        tmp_path: Path, store: SecretStore) -> None:
    config = devnet_config(tmp_path / "home", network=NetworkKind.TESTNET,
                           root_contract_address=OWNER, owner_address=OWNER,
                           ton_config_file=liteservers_that_refuse(tmp_path / "ton.json"))
    node = Node(config)
    try:
        await node.open()
        WalletManager(WalletRegistry(node.home.paths.data_dir), store,
                      TonNetwork.TESTNET).ensure_node_wallet()
        status = await asyncio.wait_for(node.start_serving(), 120)  # returns after one try
        assert status.state is NodeState.RETRYING and not status.needs_user
        assert status.headline.startswith("The root contract could not be read from the chain")
        assert "Trying again in 1" in status.headline and "keeps trying" in status.what_to_do
        assert status.retry_in_s is not None and 0 < status.retry_in_s <= 15
        assert await node.stop_serving() is True
        assert node.status.state is NodeState.STOPPED
    finally:
        await node.close()
