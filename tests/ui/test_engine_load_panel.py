"""The serving panel while the model loads: a real progress bar that moves to the end, and a
Cancel that stops the load (serving too) and leaves the engine stopped with no process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NodeState, NodeStatus
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.dashboard.engine_panel import LOAD_STEPS, EnginePanel
from tests.integration.engine_core.big_model import write_big_model

SLOW_MS = 120_000


class BarLog:
    """What the panel's bar showed at every node status: (shown, minimum, maximum, value)."""

    def __init__(self, panel: EnginePanel, node: NodeController) -> None:
        self.panel = panel
        self.seen: list[tuple[bool, int, int, int]] = []
        node.status_changed.connect(self.record)  # after the panel's own slot

    def record(self, _status: NodeStatus) -> None:
        bar = self.panel.load_bar
        self.seen.append((not bar.isHidden(), bar.minimum(), bar.maximum(), bar.value()))


@pytest.mark.engine
def test_the_bar_moves_and_cancel_stops_the_load(qtbot: Any, tmp_path: Path,
                                                 node_factory: Any) -> None:
    node = node_factory(model_path=str(write_big_model(tmp_path)))
    engine = EngineController(node)
    panel = EnginePanel(engine, node)
    qtbot.addWidget(panel)
    bars = BarLog(panel, node)
    try:
        serve_cancel_then_load(qtbot, panel, engine, node, bars)
    finally:
        node.status_changed.disconnect(bars.record)  # the panel goes before the node


def serve_cancel_then_load(qtbot: Any, panel: EnginePanel, engine: EngineController,
                           node: NodeController, bars: BarLog) -> None:
    assert panel.load_bar.isHidden() and panel.cancel_load_button.isHidden()

    # Serve: the engine loads; Cancel while it does stops the load and serving.
    clicked: list[tuple[int | None, bool]] = []

    def click_cancel_while_loading(status: NodeStatus) -> None:
        loading = status.engine
        if not clicked and loading.state is EngineState.LOADING and loading.pid is not None:
            shown = not panel.cancel_load_button.isHidden()
            panel.cancel_load_button.click()
            clicked.append((loading.pid, shown and not panel.cancel_load_button.isEnabled()))

    node.status_changed.connect(click_cancel_while_loading)  # after the panel's own slot
    panel.serve_button.click()
    qtbot.waitUntil(lambda: bool(clicked), timeout=SLOW_MS)
    node.status_changed.disconnect(click_cancel_while_loading)
    [(pid, shown_then_disabled)] = clicked
    assert shown_then_disabled  # Cancel was there while loading; one click is enough
    qtbot.waitUntil(lambda: engine.status.state is EngineState.STOPPED, timeout=SLOW_MS)
    qtbot.waitUntil(lambda: not node.status.wanted, timeout=10_000)
    assert "was cancelled" in engine.status.detail
    assert "was cancelled" in panel.engine_state.text()
    assert node.status.state is NodeState.STOPPED and not node.status.needs_user
    assert not panel.serve_button.isChecked() and panel.serve_button.text() == "Start serving"
    assert panel.load_bar.isHidden() and panel.cancel_load_button.isHidden()
    assert pid is not None and not psutil.pid_exists(pid)

    # Start the engine: the bar goes from busy to a rising fraction, to the end, then away.
    bars.seen.clear()
    panel.engine_button.click()
    qtbot.waitUntil(lambda: engine.status.state is EngineState.READY, timeout=SLOW_MS)
    shown = [(low, high, value) for visible, low, high, value in bars.seen if visible]
    assert shown[0][:2] == (0, 0)  # busy until the weights start
    values = [value for low, high, value in shown if high == LOAD_STEPS]
    assert len(values) >= 10 and values == sorted(values) and values[-1] == LOAD_STEPS
    assert panel.load_bar.isHidden() and panel.cancel_load_button.isHidden()
    assert panel.cancel_load_button.isEnabled()  # ready for the next load
