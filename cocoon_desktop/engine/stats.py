"""`GET /v1/engine/status`: what the engine process says about itself, as one frozen snapshot.

The engine builds it, serves it as JSON, and the client turns the JSON back into `EngineStats`,
so the supervisor, the dashboard and the worker (`max_active_requests` follows `capacity`) read
the same typed values.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any

from cocoon_desktop.engine.types import SandboxStatus

THROUGHPUT_WINDOW_S = 10.0


@dataclass(frozen=True)
class EngineStats:
    state: str  # "loading", "ready", "failed" or "stopping"
    detail: str  # a sentence for people, e.g. why loading failed
    model_name: str  # the Cocoon name, `name@commit:hash`
    pid: int
    uptime_s: float
    capacity: int  # requests decoded together (parallel sequences)
    active_requests: int
    queued_requests: int
    queue_limit: int
    context_tokens_per_sequence: int
    supports_gpu_offload: bool
    gpu_layers_requested: int  # -1 = every layer
    gpu_layers_offloaded: int
    tokens_per_second_recent: float  # completion tokens, all requests, last 10 s
    requests_completed: int
    requests_cancelled: int
    requests_failed: int
    requests_rejected: int  # refused with 503 because the queue was full
    prompt_tokens_total: int
    cached_tokens_total: int
    completion_tokens_total: int
    sandbox: SandboxStatus
    speculation: str = "off"  # "off", "prompt lookup" or "draft model <file>"
    draft_tokens_total: int = 0  # drafted and verified (speculative decoding)
    draft_tokens_accepted_total: int = 0  # of those, confirmed by the model
    shared_prefix_tokens_total: int = 0  # cached prompt tokens copied from another sequence

    @property
    def draft_acceptance(self) -> float | None:
        """Share of drafted tokens the model confirmed; None before any was drafted."""
        if not self.draft_tokens_total:
            return None
        return self.draft_tokens_accepted_total / self.draft_tokens_total

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineStats:
        """Build from the engine's JSON; raises ValueError when a field is missing or odd."""
        try:
            values = {f.name: data[f.name] for f in fields(cls) if f.name != "sandbox"}
            sandbox = SandboxStatus(**data["sandbox"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"the engine's status is incomplete ({exc})") from None
        return cls(sandbox=sandbox, **values)


class ThroughputMeter:
    """Completion tokens per second over the last `THROUGHPUT_WINDOW_S`, all requests together."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, tokens: int) -> None:
        if tokens > 0:
            self._samples.append((time.monotonic(), tokens))

    def tokens_per_second(self) -> float:
        now = time.monotonic()
        while self._samples and self._samples[0][0] < now - THROUGHPUT_WINDOW_S:
            self._samples.popleft()
        if not self._samples:
            return 0.0
        span_s = max(1.0, now - self._samples[0][0])
        return sum(n for _, n in self._samples) / span_s
