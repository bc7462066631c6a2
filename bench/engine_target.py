"""The engine side of bench/concurrency.py: the engine process reached through its HTTP API
(started by the app's own `EngineSupervisor`), or with `--in-process` the `InferenceCore` called
directly, which shows what the HTTP layer costs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.engine.process.inference import (
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    InferenceCore,
    SamplingParams,
    TokenDelta,
)
from cocoon_desktop.engine.types import EngineSettings

MODEL_NAME = "smollm2-135m"


@dataclass
class EngineTarget:
    kind: str  # "http" or "in-process"
    base_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    core: InferenceCore | None = None
    pid: int | None = None  # the engine process (HTTP)

    def run_in_process(self, texts: list[str], tokens: int) -> tuple[int, float, list[float]]:
        """N requests at once straight on the core: (completion tokens, wall s, TTFTs)."""
        assert self.core is not None
        core = self.core
        done = [threading.Event() for _ in texts]
        firsts: list[float] = [0.0] * len(texts)
        completion = [0] * len(texts)
        started = time.perf_counter()

        def sink_for(index: int) -> Callable[[GenerationEvent], None]:
            def sink(event: GenerationEvent) -> None:
                if isinstance(event, TokenDelta) and not firsts[index]:
                    firsts[index] = time.perf_counter() - started
                elif isinstance(event, GenerationFinished):
                    completion[index] = event.completion_tokens
                    done[index].set()
            return sink

        for index, text in enumerate(texts):
            prompt = core.render_chat([{"role": "user", "content": text}])
            request = GenerationRequest(f"bench-{index}",
                                        tuple(core.tokenize(prompt, add_special=False)),
                                        SamplingParams(max_tokens=tokens, temperature=0))
            core.start(request, sink_for(index))
        for event in done:
            event.wait()
        return sum(completion), time.perf_counter() - started, firsts


@asynccontextmanager
async def open_engine(model: Path, *, parallel: int, context_tokens: int, threads: int,
                      in_process: bool, speculative: bool = False, gpu_layers: int = 0
                      ) -> AsyncIterator[EngineTarget]:
    """The engine as the app runs it (speculative decoding off unless asked for: the
    benchmarks compare it with llama-server doing the same work)."""
    settings = EngineSettings(model_path=model, model_name=MODEL_NAME,
                              context_tokens=context_tokens, parallel_sequences=parallel,
                              threads=threads, speculative=speculative, gpu_layers=gpu_layers)
    if in_process:
        core = await asyncio.to_thread(InferenceCore, settings)
        try:
            yield EngineTarget(kind="in-process", core=core)
        finally:
            await asyncio.to_thread(core.close)
        return
    supervisor = EngineSupervisor(settings, probe_interval_s=30.0)
    await supervisor.start()
    try:
        endpoint = await supervisor.wait_ready(120)
        yield EngineTarget(kind="http", base_url=endpoint.base_url, headers=endpoint.auth_header,
                           pid=supervisor.status.pid)
    finally:
        await supervisor.stop()
