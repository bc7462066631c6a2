"""Status lines say each thing once ("Engine ready: The engine is ready." was the bug)."""

from __future__ import annotations

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NodeState, NodeStatus
from cocoon_desktop.ui_logic.status_text import (
    WAITING_FOR_ENGINE,
    engine_line,
    panel_headline,
    speculation_line,
)
from tests.helpers.engine_stats import engine_stats


def test_the_engine_line_is_its_own_sentence() -> None:
    assert engine_line(EngineState.READY, "The engine is ready.") == "The engine is ready."
    assert engine_line(EngineState.LOADING, "Loading smollm.") == "Loading smollm."
    assert engine_line(EngineState.STOPPED, "  ") == "Engine stopped."
    for state in EngineState:
        line = engine_line(state, f"The engine is {state.value}.")
        assert line.lower().count("engine") == 1 and line.count(state.value) == 1


def test_the_panel_headline_leaves_the_engine_sentence_to_the_engine_line() -> None:
    waiting = NodeStatus(NodeState.STARTING, "Waiting for the engine: Loading smollm.",
                         engine_state=EngineState.LOADING, engine_detail="Loading smollm.")
    assert panel_headline(waiting) == WAITING_FOR_ENGINE
    starting = NodeStatus(NodeState.STARTING, "Starting the engine.",
                          engine_state=EngineState.LOADING, engine_detail="Starting the engine.")
    assert panel_headline(starting) == WAITING_FOR_ENGINE
    connecting = NodeStatus(NodeState.STARTING, "Connecting to the network…",
                            engine_state=EngineState.READY, engine_detail="The engine is ready.")
    assert panel_headline(connecting) == "Connecting to the network…"
    serving = NodeStatus(NodeState.SERVING, "Serving on the local devnet: …",
                         engine_state=EngineState.READY, engine_detail="The engine is ready.")
    assert panel_headline(serving) == serving.headline


def test_the_speculation_line_says_how_drafts_are_made_and_how_many_are_kept() -> None:
    assert speculation_line(engine_stats()) == "Off"
    assert speculation_line(engine_stats(speculation="prompt lookup")) == \
        "Prompt lookup · no drafts yet"
    assert speculation_line(engine_stats(speculation="draft model small.gguf",
                                         draft_tokens_total=1500,
                                         draft_tokens_accepted_total=1230)) == \
        "Draft model small.gguf · 82% of 1,500 drafted tokens accepted"
