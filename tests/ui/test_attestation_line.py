"""The serving panel says what attests the engine that runs: on a test network, software
attestation labelled as such, with the measurement of exactly what runs; nothing while the
engine is stopped."""

from __future__ import annotations

from typing import Any

import pytest

from cocoon_desktop.engine.attestation.measurement import measure_runtime
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.protocol.model_names import CocoonModelName
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.dashboard.attestation_line import NOT_RUNNING
from cocoon_desktop.ui.dashboard.engine_panel import EnginePanel

SLOW_MS = 120_000


@pytest.mark.engine
def test_the_panel_says_what_attests_the_running_engine(qtbot: Any, node_factory: Any,
                                                        run_async: Any) -> None:
    node = node_factory(network=NetworkKind.TESTNET)
    engine = EngineController(node)
    panel = EnginePanel(engine, node)
    qtbot.addWidget(panel)
    line = panel.attestation
    assert line.text() == NOT_RUNNING
    run_async(engine.start(), SLOW_MS)
    qtbot.waitUntil(lambda: engine.status.state is EngineState.READY, timeout=SLOW_MS)
    qtbot.waitUntil(lambda: line.text().startswith("Fake TDX"), timeout=SLOW_MS)
    assert line.text() == "Fake TDX (software): Test networks and private deployments only."
    assert line.objectName() == "warn"  # never shown as good
    settings = engine.status.settings
    assert settings is not None
    measured = measure_runtime(settings, CocoonModelName.parse(settings.model_name).hash)
    assert measured.sha256_hex in line.toolTip()
    assert "Why not Intel TDX" in line.toolTip()
    run_async(engine.stop(), SLOW_MS)
    qtbot.waitUntil(lambda: line.text() == NOT_RUNNING, timeout=SLOW_MS)
    assert line.toolTip() == ""
