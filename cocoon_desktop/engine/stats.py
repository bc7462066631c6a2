"""`GET /v1/engine/status`: what the engine process says about itself, as one frozen snapshot.

The engine builds it, serves it as JSON, and the client turns the JSON back into `EngineStats`,
so the supervisor, the dashboard and the worker (`max_active_requests` follows `capacity`) read
the same typed values.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from cocoon_desktop.engine.types import SandboxStatus

THROUGHPUT_WINDOW_S = 10.0
BUSY_GAP_S = 2.0  # a longer pause between two tokens is idle, not slow generation


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
    tokens_per_second_recent: float  # completion tokens per generating second, last 10 s
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
    sequences_moved_total: int = 0  # moved into a gap in the sequence ids (one pass a step)
    step_seconds_total: float = 0.0  # the decode thread's steps (drafts, decode, sampling, text)
    decode_seconds_total: float = 0.0  # of those, inside llama_decode: the rest is the engine's

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
    """Completion tokens per second of generating time over the last `THROUGHPUT_WINDOW_S`, all
    requests together. Pauses longer than `BUSY_GAP_S` between tokens are idle time and do not
    count, so an answer that streamed at 53 tokens/s reads 53, not 53 spread over the window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, tokens: int) -> None:
        if tokens > 0:
            self._samples.append((self._clock(), tokens))

    def tokens_per_second(self) -> float:
        now = self._clock()
        while self._samples and self._samples[0][0] < now - THROUGHPUT_WINDOW_S:
            self._samples.popleft()
        busy_s, tokens = 0.0, 0
        for (before, _), (at, count) in itertools.pairwise(self._samples):
            if at - before <= BUSY_GAP_S:
                busy_s += at - before
                tokens += count
        return tokens / busy_s if busy_s > 0 else 0.0
