"""An `EngineStats` for tests that need the engine's figures without an engine.

Usage: `from tests.helpers.engine_stats import engine_stats`; `engine_stats(draft_tokens_total=4)`.
"""

from __future__ import annotations

from dataclasses import replace

from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import SandboxStatus


def engine_stats(**changes: object) -> EngineStats:
    """A ready engine's stats with nothing counted yet, `changes` applied."""
    base = EngineStats(
        state="ready", detail="", model_name="x", pid=1, uptime_s=1, capacity=4,
        active_requests=0, queued_requests=0, queue_limit=8, context_tokens_per_sequence=1024,
        supports_gpu_offload=False, gpu_layers_requested=0, gpu_layers_offloaded=0,
        tokens_per_second_recent=0, requests_completed=0, requests_cancelled=0,
        requests_failed=0, requests_rejected=0, prompt_tokens_total=0, cached_tokens_total=0,
        completion_tokens_total=0, sandbox=SandboxStatus("none", False, ""))
    return replace(base, **changes)  # type: ignore[arg-type]
