"""Status lines that say each thing once.

The engine's details are full sentences ("The engine is ready.", "Loading smollm.", "The engine
crashed: …"), so a line never puts "Engine ready:" in front of them; and the serving panel, which
shows the engine's line right under the node's headline, does not repeat the engine's sentence
in the headline.
"""

from __future__ import annotations

from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NodeState, NodeStatus

WAITING_FOR_ENGINE = "Starting: waiting for the engine."


def engine_line(state: EngineState, detail: str) -> str:
    """The engine's state in one sentence: its detail, or "Engine <state>." without one."""
    return detail.strip() or f"Engine {state.value}."


def panel_headline(status: NodeStatus) -> str:
    """The node's headline where the engine's own line is shown beside it."""
    detail = status.engine_detail.strip()
    if (status.state is NodeState.STARTING and status.engine_state is not EngineState.READY
            and detail and status.headline.endswith(detail)):
        return WAITING_FOR_ENGINE
    return status.headline


def speculation_line(stats: EngineStats) -> str:
    """The engine panel's Speculation row: how drafts are made and how many the model kept."""
    if stats.speculation == "off":
        return "Off"
    acceptance = stats.draft_acceptance
    if acceptance is None:
        return f"{stats.speculation.capitalize()} · no drafts yet"
    return (f"{stats.speculation.capitalize()} · {acceptance:.0%} of "
            f"{stats.draft_tokens_total:,} drafted tokens accepted")
