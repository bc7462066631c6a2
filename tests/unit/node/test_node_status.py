"""One rule for what the node is doing, so the GUI and the headless log say the same thing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.network.worker.types import ProxyStatus, WorkerStatus
from cocoon_desktop.node.status import (
    GPU_FAULT_TO_DO,
    NodeFacts,
    NodeProblem,
    NodeState,
    NodeStatus,
    describe,
)


def worker(connected: bool = True, active: int = 1) -> WorkerStatus:
    proxy = ProxyStatus("127.0.0.1:1", "ready" if connected else "connecting",
                        "" if connected else "connection refused", None, None, None, 0, 0, None)
    return WorkerStatus(True, False, 1000, active, 4, (proxy,))


SERVING = NodeFacts(wanted=True, stopping=False, engine_state=EngineState.READY,
                    engine_ready=True, engine_detail="The engine is ready.", worker=worker(),
                    where="the local devnet", paused_reasons=())


def test_serving() -> None:
    state, headline, todo = describe(SERVING)
    assert state is NodeState.SERVING and todo == ""
    assert headline == "Serving on the local devnet: 1 proxy connected, 1/4 jobs running."


def test_each_rule_in_order_of_importance() -> None:
    problem = NodeProblem("No keyring.", "Start one.")
    cases = [
        (replace(SERVING, gpu_fault="GPU 0 reported xid 79", failure=problem),
         NodeState.GPU_FAULT, "Stopped: GPU 0 reported xid 79", GPU_FAULT_TO_DO),
        (replace(SERVING, failure=problem, stopping=True), NodeState.FAILED, "No keyring.",
         "Start one."),
        (replace(SERVING, stopping=True, wanted=False), NodeState.STOPPING,
         "Finishing 1 running job(s), then stopping.", ""),
        (replace(SERVING, wanted=False, paused_reasons=("hot",)), NodeState.STOPPED,
         "Not serving.", ""),
        (replace(SERVING, retrying=NodeProblem("Chain down.", "Check it."), retry_in_s=30,
                 paused_reasons=("hot",)), NodeState.RETRYING,
         "Chain down. Trying again in 30 s.", "Check it."),
        (replace(SERVING, paused_reasons=("GPU 0 reached 84 °C.",), engine_ready=False),
         NodeState.PAUSED, "Paused: GPU 0 reached 84 °C.", ""),
        (replace(SERVING, engine_ready=False, engine_state=EngineState.LOADING,
                 engine_detail="Loading smollm."), NodeState.STARTING,
         "Waiting for the engine: Loading smollm.", ""),
        (replace(SERVING, engine_ready=False, engine_state=EngineState.LOADING,
                 engine_detail="Starting the engine."), NodeState.STARTING,
         "Starting the engine.", ""),  # said once, not "Waiting for the engine: … engine."
        (replace(SERVING, engine_ready=False, engine_state=EngineState.STOPPED,
                 engine_detail=""), NodeState.STARTING, "The engine is stopped.", ""),
        (replace(SERVING, worker=None), NodeState.STARTING, "Connecting to the network…", ""),
        (replace(SERVING, worker=worker(connected=False)), NodeState.STARTING,
         "Connecting to a proxy on the local devnet (connection refused)…", ""),
    ]
    for facts, state, headline, todo in cases:
        assert describe(facts) == (state, headline, todo)


def test_a_status_is_built_with_keywords_only() -> None:
    """Two dozen fields: a positional call would put a value under the wrong name silently."""
    with pytest.raises(TypeError):
        NodeStatus(NodeState.SERVING, "Serving.")  # type: ignore[misc]
    status = NodeStatus(state=NodeState.SERVING, headline="Serving.")
    assert status.engine_state is EngineState.STOPPED and status.engine_load_fraction is None
