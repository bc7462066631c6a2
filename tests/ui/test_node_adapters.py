"""The UI reaches the node only through its adapters: the engine button goes through the node
(refused after a GPU fault), the node's ledger and wallet events reach the earnings and wallet
adapters, and the serving panel shows each node status once, its engine included."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineState, SandboxStatus
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState, NodeStatus
from cocoon_desktop.settings import AppSettings, NetworkKind, save_settings
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.dashboard.engine_panel import LOAD_STEPS, EnginePanel


def test_the_engine_button_cannot_start_the_engine_after_a_gpu_fault(
        qtbot: Any, fake_gpu: Any, node_factory: Any, run_async: Any) -> None:
    node = node_factory()  # monitoring the fake card
    engine = EngineController(node)
    panel = EnginePanel(engine, node)
    qtbot.addWidget(panel)
    assert panel.engine_button.isEnabled()
    fake_gpu.raise_xid(0, 79)
    qtbot.waitUntil(lambda: node.status.state is NodeState.GPU_FAULT, timeout=30_000)
    assert not panel.engine_button.isEnabled()  # only serving again lifts the stop
    with pytest.raises(EngineStartError, match="stopped after a GPU error"):
        run_async(engine.start())
    assert engine.status.state is EngineState.STOPPED and engine.status.pid is None
    assert node.status.engine.pid is None


class CountingPanel(EnginePanel):
    def __init__(self, engine: EngineController, node: NodeController) -> None:
        self.shown: list[NodeStatus] = []
        super().__init__(engine, node)

    def show_status(self, status: NodeStatus) -> None:
        self.shown.append(status)
        super().show_status(status)


def test_the_panel_shows_each_status_once_with_its_engine(qtbot: Any, tmp_path: Path) -> None:
    node = NodeController(Node(NodeConfig(home=tmp_path / "home")))  # not opened: no I/O
    engine = EngineController(node)
    panel = CountingPanel(engine, node)
    qtbot.addWidget(panel)
    panel.shown.clear()
    loading = NodeStatus(state=NodeState.STARTING, headline="Waiting for the engine: Loading.",
                         wanted=True, engine=EngineStatus(EngineState.LOADING, "Loading smollm.",
                                                          pid=4242, load_fraction=0.25))
    node.status_changed.emit(loading)
    assert panel.shown == [loading]
    assert not panel.load_bar.isHidden() and panel.load_bar.value() == LOAD_STEPS // 4
    assert panel.engine_state.text() == "Loading smollm."
    assert panel.serve_button.text() == "Stop serving"
    stats = EngineStats(
        state="ready", detail="", model_name="smollm@abc:def", pid=4242, uptime_s=1,
        capacity=3, active_requests=1, queued_requests=0, queue_limit=8,
        context_tokens_per_sequence=1024, supports_gpu_offload=False, gpu_layers_requested=-1,
        gpu_layers_offloaded=0, tokens_per_second_recent=42.0, requests_completed=0,
        requests_cancelled=0, requests_failed=0, requests_rejected=0, prompt_tokens_total=0,
        cached_tokens_total=0, completion_tokens_total=0,
        sandbox=SandboxStatus("none", False, "no isolation here"), sequences_moved_total=3)
    ready = NodeStatus(state=NodeState.STARTING, headline="Connecting to the network…",
                       wanted=True, engine=EngineStatus(EngineState.READY,
                                                        "The engine is ready.", stats=stats))
    node.status_changed.emit(ready)
    assert panel.shown == [loading, ready]
    assert panel.load_bar.isHidden() and panel.engine_state.text() == "The engine is ready."
    assert panel.engine_button.text() == "Stop engine"
    assert panel.values["Model"].text() == "smollm"
    assert panel.values["Throughput"].text().startswith("42.0 tokens/s")
    assert "moved so that each step stays one pass: 3" in panel.values["Throughput"].toolTip()
    assert engine.status is ready.engine  # the engine adapter reads the same status
    node.status_changed.emit(replace(ready, engine=EngineStatus(EngineState.STOPPED, "",
                                                                stats=stats)))
    assert panel.values["Throughput"].toolTip() == ""  # nothing of a stopped engine stays


def test_ledger_and_wallet_events_reach_the_adapters(qtbot: Any, paths: Any, run_async: Any,
                                                     shell_factory: Any) -> None:
    save_settings(paths.settings_file, AppSettings(wizard_completed=True))  # the devnet
    shell = shell_factory()
    with qtbot.waitSignals([shell.node.ledger_switched, shell.node.wallet_reopened],
                           timeout=30_000):
        run_async(shell.start(), 30_000)
    assert shell.earnings.ledger.path == paths.data_dir / "ledger-devnet.sqlite3"
    assert shell.earnings.network is NetworkKind.DEVNET
    assert shell.wallet.source is shell.node.wallet and shell.wallet.chain is None

    with qtbot.waitSignals([shell.node.ledger_switched, shell.node.wallet_reopened],
                           timeout=30_000):
        run_async(shell.settings.update(network=NetworkKind.TESTNET), 10_000)
    assert shell.earnings.ledger.path == paths.data_dir / "ledger-testnet.sqlite3"
    assert shell.earnings.network is NetworkKind.TESTNET
    assert shell.node.wallet is not None and shell.node.wallet.network is NetworkKind.TESTNET
    assert shell.wallet.source is shell.node.wallet and shell.wallet.chain is not None
    qtbot.waitUntil(lambda: shell.wallet.view is not None
                    and shell.wallet.view.network is NetworkKind.TESTNET, timeout=30_000)


def test_a_status_repeated_each_second_reaches_the_screens_once(qtbot: Any,
                                                                tmp_path: Path) -> None:
    core = Node(NodeConfig(home=tmp_path / "home"))  # not opened: no I/O
    node = NodeController(core)
    sent: list[NodeStatus] = []
    node.status_changed.connect(sent.append)
    first = replace(core.status, headline="Not serving.", updated_at_unix=1000.0)
    core.status_changed.emit(first)
    for second in (1, 2, 3):  # the node's 1 Hz status with nothing new: only its time moves
        core.status_changed.emit(replace(first, updated_at_unix=1000.0 + second))
    assert sent == [first]
    assert node.status.updated_at_unix == 1003.0  # the latest is kept all the same
    paused = replace(first, paused_reasons=("GPU at 91 °C",), updated_at_unix=1004.0)
    core.status_changed.emit(paused)
    assert sent == [first, paused]  # anything new is sent at once
