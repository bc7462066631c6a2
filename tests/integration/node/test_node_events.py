"""What a real node tells its front ends besides its status: the ledger it records into and the
wallet it opened, as events when they change (never found by comparing objects); and the
engine, started alone, refused while a GPU fault stands. No engine runs in these tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cocoon_desktop.engine.host.supervisor import EngineStartError
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.events import LedgerSwitched
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState
from cocoon_desktop.node.wallet_host import NodeWallet
from cocoon_desktop.settings import NetworkKind
from tests.helpers.fake_nvml import FakeGpu, FakeNvml
from tests.integration.node.node_harness import StatusLog, devnet_config, wait_until

OWNER = "0:" + "ab" * 32


async def test_the_ledger_and_the_wallet_are_announced_when_they_change(tmp_path: Path) -> None:
    node = Node(devnet_config(tmp_path / "home"))
    ledgers: list[LedgerSwitched] = []
    wallets: list[NodeWallet] = []
    node.ledger_switched.add(ledgers.append)
    node.wallet_reopened.add(wallets.append)
    await node.open()
    try:
        [opened] = ledgers
        assert opened.network is NetworkKind.DEVNET and opened.problem == ""
        assert opened.ledger is not None
        assert opened.ledger.path == node.home.paths.data_dir / "ledger-devnet.sqlite3"
        [devnet] = wallets
        assert devnet.network is NetworkKind.DEVNET and devnet.chain is None  # no chain there

        node.apply_live_settings(replace(node.config, network=NetworkKind.TESTNET))
        await wait_until(lambda: len(ledgers) == 2 and len(wallets) == 2, 30)
        testnet = ledgers[1]
        assert testnet.network is NetworkKind.TESTNET and testnet.ledger is not None
        assert testnet.ledger.path.name == "ledger-testnet.sqlite3"
        assert wallets[1].network is NetworkKind.TESTNET and wallets[1].chain is not None
        assert wallets[1].wallet is not devnet.wallet

        # Another owner on the same network: a new wallet, but the same ledger (no event).
        node.apply_live_settings(replace(node.config, owner_address=OWNER))
        await wait_until(lambda: len(wallets) == 3, 30)  # a ledger's would have come first
        assert len(ledgers) == 2 and wallets[2].network is NetworkKind.TESTNET
    finally:
        await node.close()


async def test_the_engine_alone_is_refused_while_a_gpu_fault_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    node = Node(devnet_config(tmp_path / "home"))
    log = StatusLog(node)
    await node.open()
    try:
        fake.raise_xid(0, 79)  # fallen off the bus
        fault = await log.wait_for(lambda s: s.state is NodeState.GPU_FAULT, 30)
        assert fault.protection.stopped_because is not None
        with pytest.raises(EngineStartError, match="stopped after a GPU error"):
            await node.start_engine()
        with pytest.raises(EngineStartError, match="stopped after a GPU error"):
            await node.ensure_engine()  # the chat's way in
        assert node.engine.supervisor is None  # no engine process was ever started
        assert node.status.engine.state is EngineState.STOPPED
    finally:
        await node.close()
