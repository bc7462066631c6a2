"""Status lines say each thing once ("Engine ready: The engine is ready." was the bug)."""

from __future__ import annotations

from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NodeState, NodeStatus
from cocoon_desktop.ui_logic.status_text import WAITING_FOR_ENGINE, engine_line, panel_headline


def test_the_engine_line_is_its_own_sentence() -> None:
    assert engine_line(EngineState.READY, "The engine is ready.") == "The engine is ready."
    assert engine_line(EngineState.LOADING, "Loading smollm.") == "Loading smollm."
    assert engine_line(EngineState.STOPPED, "  ") == "Engine stopped."
    for state in EngineState:
        line = engine_line(state, f"The engine is {state.value}.")
        assert line.lower().count("engine") == 1 and line.count(state.value) == 1


def test_the_panel_headline_leaves_the_engine_sentence_to_the_engine_line() -> None:
    waiting = NodeStatus(state=NodeState.STARTING,
                         headline="Waiting for the engine: Loading smollm.",
                         engine=EngineStatus(EngineState.LOADING, "Loading smollm."))
    assert panel_headline(waiting) == WAITING_FOR_ENGINE
    starting = NodeStatus(state=NodeState.STARTING, headline="Starting the engine.",
                          engine=EngineStatus(EngineState.LOADING, "Starting the engine."))
    assert panel_headline(starting) == WAITING_FOR_ENGINE
    connecting = NodeStatus(state=NodeState.STARTING, headline="Connecting to the network…",
                            engine=EngineStatus(EngineState.READY, "The engine is ready."))
    assert panel_headline(connecting) == "Connecting to the network…"
    serving = NodeStatus(state=NodeState.SERVING, headline="Serving on the local devnet: …",
                         engine=EngineStatus(EngineState.READY, "The engine is ready."))
    assert panel_headline(serving) == serving.headline
