"""Helpers for the inference-core integration tests: an event collector and runners."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cocoon_desktop.engine.process.inference import (
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    InferenceCore,
    SamplingParams,
    TokenDelta,
)

WAIT_S = 120


class Collector:
    """An event sink that records what arrived and lets the test wait for the end."""

    def __init__(self, on_delta: Callable[[TokenDelta], None] | None = None) -> None:
        self.events: list[GenerationEvent] = []
        self.done = threading.Event()
        self.delta_seen = threading.Event()
        self._on_delta = on_delta

    def __call__(self, event: GenerationEvent) -> None:
        self.events.append(event)
        if isinstance(event, TokenDelta):
            self.delta_seen.set()
            if self._on_delta is not None:
                self._on_delta(event)
        else:
            self.done.set()

    def wait(self) -> GenerationFinished:
        assert self.done.wait(WAIT_S), "the request never finished"
        finished = [e for e in self.events if isinstance(e, GenerationFinished)]
        assert len(finished) == 1 and self.events[-1] is finished[0]
        return finished[0]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TokenDelta))


def chat_tokens(core: InferenceCore, user_text: str) -> tuple[int, ...]:
    prompt = core.render_chat([{"role": "user", "content": user_text}])
    return tuple(core.tokenize(prompt, add_special=False))


def generate(core: InferenceCore, prompt: tuple[int, ...], params: SamplingParams,
             request_id: str = "solo") -> tuple[str, GenerationFinished]:
    sink = Collector()
    core.start(GenerationRequest(request_id, prompt, params), sink)
    finished = sink.wait()
    return sink.text, finished


def generate_together(core: InferenceCore,
                      jobs: list[tuple[tuple[int, ...], SamplingParams]]
                      ) -> list[tuple[str, GenerationFinished]]:
    sinks = [Collector() for _ in jobs]
    for index, ((prompt, params), sink) in enumerate(zip(jobs, sinks, strict=True)):
        core.start(GenerationRequest(f"job-{index}", prompt, params), sink)
    finished = [sink.wait() for sink in sinks]
    return [(sink.text, done) for sink, done in zip(sinks, finished, strict=True)]
