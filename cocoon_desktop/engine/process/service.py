"""The engine process's request service: prompt preparation, admission, and the core's events.

It sits between the HTTP handlers (asyncio) and the `InferenceCore` (its own decode thread):
requests are tokenized and checked against the context, take a place in the `AdmissionQueue`,
start on the core when a sequence is theirs, and receive the core's events through the event
loop (`call_soon_threadsafe`). When a request's `GenerationFinished` arrives its sequence goes to
the next waiting request. A client that leaves cancels its generation (or its place in line).
A streamed answer's text deltas usually skip the loop: the decode thread writes them to the
client itself (`DirectStream`), and hands the loop only their count, a few times a second.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.engine.api import ApiError, Lane
from cocoon_desktop.engine.process.generation import Generation, PreparedRequest
from cocoon_desktop.engine.process.inference_types import (
    EngineClosed,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    InferenceError,
    InvalidRequest,
    LoadCancelled,
    NoFreeSequence,
    PromptTooLong,
    SamplingParams,
    TokenDelta,
)
from cocoon_desktop.engine.process.load_progress import LoadWatch
from cocoon_desktop.engine.process.openai_api import ApiRequest, Endpoint
from cocoon_desktop.engine.process.queue import AdmissionQueue, QueueFull, Ticket
from cocoon_desktop.engine.stats import EngineStats, ThroughputMeter
from cocoon_desktop.engine.types import EngineSettings, SandboxStatus

if TYPE_CHECKING:
    from cocoon_desktop.engine.process.inference import InferenceCore

log = logging.getLogger(__name__)
NO_SEQUENCE_RETRY_S = 0.005
INLINE_TOKENIZE_CHARS = 16_384  # longer prompts are tokenized off the event loop
ENGINE_STOPPING = "engine stopping"  # the core's error text for requests ended by close()
# With nothing else to hand over, the loop hears of deltas written directly this often (they
# only move counters: the throughput meter and the stats).
COUNT_DIRECT_WRITES_EVERY_S = 0.25


def _tokenize(core: InferenceCore, api: ApiRequest) -> list[int]:
    try:
        if api.endpoint is Endpoint.CHAT:
            text = core.render_chat([dict(m) for m in api.messages])
            return core.tokenize(text, add_special=False)
        return core.tokenize(api.prompt, add_special=True)
    except EngineClosed:
        raise stopping_error() from None
    except InvalidRequest as exc:
        raise ApiError(400, str(exc), param="messages") from None


class ServiceState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPING = "stopping"


def stopping_error() -> ApiError:
    return ApiError(503, "The engine is stopping and takes no new requests. Retry when it is "
                    "running again.", type="server_error", code="engine_stopping",
                    headers={"Retry-After": "5"})


class EngineService:
    def __init__(self, settings: EngineSettings, sandbox: SandboxStatus,
                 on_load_progress: Callable[[float], None] | None = None) -> None:
        """`on_load_progress(fraction)`: runs on the event loop while the model loads (thinned
        to steps of about one per cent, ending at 1.0)."""
        self.settings = settings
        self.sandbox = sandbox
        self.state = ServiceState.LOADING
        self.detail = "loading the model"
        self.core: InferenceCore | None = None
        self._queue = AdmissionQueue(max(1, settings.parallel_sequences),
                                     settings.max_queued_requests)
        self._generations: dict[Ticket, Generation] = {}
        self._loop = asyncio.get_running_loop()
        # (generation, event, rest): rest None, deliver the event; bytes, the decode thread
        # wrote the delta itself, all but `rest` (usually empty).
        self._mailbox: deque[tuple[Generation, GenerationEvent, bytes | None]] = deque()
        self._drain_scheduled = False
        self._handover_waiting = False  # the mailbox holds more than counts (decode thread)
        self._drained_at = 0.0  # when the decode thread last scheduled a drain
        self._load_watch = LoadWatch(self._progress_reporter(on_load_progress))
        self._meter = ThroughputMeter()
        self._durations_s: deque[float] = deque(maxlen=20)
        self._started_at = time.monotonic()
        self._idle = asyncio.Event()
        self._idle.set()
        self.counters = dict.fromkeys(
            ("completed", "cancelled", "failed", "rejected", "prompt", "cached", "completion"), 0)

    async def load(self) -> None:
        """Load the model in a worker thread; state becomes READY, FAILED (with `detail`), or
        STOPPING when `cancel_load` stopped it."""
        try:
            self.core = await run_blocking(self._load_core)
        except LoadCancelled as exc:
            self.state, self.detail = ServiceState.STOPPING, str(exc)
            return
        except InferenceError as exc:
            self.state, self.detail = ServiceState.FAILED, str(exc)
            return
        self._queue = AdmissionQueue(self.core.info.capacity, self.settings.max_queued_requests)
        self.state, self.detail = ServiceState.READY, "ready"

    def cancel_load(self) -> None:
        """Stop a load in progress at llama.cpp's next tensor (any thread; no-op after it)."""
        self._load_watch.cancel()

    def _load_core(self) -> InferenceCore:
        # Imported here, on the loading thread: importing llama.cpp takes a while, and the
        # event loop meanwhile answers "loading" and hears a stop command.
        from cocoon_desktop.engine.process.inference import InferenceCore

        if self._load_watch.cancelled:
            raise LoadCancelled("Loading the model was cancelled before it began.")
        return InferenceCore(self.settings, on_load_progress=self._load_watch,
                             flush_events=self._wake_loop)

    def _progress_reporter(self, listener: Callable[[float], None] | None
                           ) -> Callable[[float], None]:
        def report(fraction: float) -> None:  # on the loading thread
            if listener is not None:
                with suppress(RuntimeError):  # the loop is closed: the process is exiting
                    self._loop.call_soon_threadsafe(listener, fraction)

        return report

    def check_accepting(self) -> None:
        if self.state is ServiceState.READY:
            return
        if self.state is ServiceState.LOADING:
            raise ApiError(503, "The engine is still loading the model. Retry in a few seconds.",
                           type="server_error", code="engine_loading",
                           headers={"Retry-After": "2"})
        if self.state is ServiceState.FAILED:
            raise ApiError(503, f"The engine could not load its model: {self.detail}",
                           type="server_error", code="engine_failed")
        raise stopping_error()

    async def prepare(self, api: ApiRequest) -> PreparedRequest:
        """Tokenize the prompt, fit the answer in the context, build the core's request."""
        core = self._ready_core()
        chars = len(api.prompt) + sum(len(m["content"]) for m in api.messages)
        if chars > INLINE_TOKENIZE_CHARS:  # a long prompt must not stall the other streams
            tokens = await run_blocking(_tokenize, core, api)
        else:
            tokens = _tokenize(core, api)
        context = core.info.context_tokens_per_sequence
        if len(tokens) + 1 > context:
            raise ApiError(
                400, f"The prompt is {len(tokens)} tokens, but a request here can hold at most "
                f"{context} tokens, prompt and answer together. Shorten the prompt to at most "
                f"{context - 1} tokens.", code="context_length_exceeded",
                param="messages" if api.endpoint is Endpoint.CHAT else "prompt")
        # An answer never runs past the context: a larger max_tokens ends with "length".
        max_tokens = min(api.max_tokens or self.settings.max_completion_tokens,
                         context - len(tokens))
        try:  # without a seed the core uses the engine's (settings.seed), or a random one
            sampling = SamplingParams(max_tokens=max_tokens, **api.sampling_options)
        except InvalidRequest as exc:
            raise ApiError(400, str(exc)) from None
        request_id = os.urandom(8).hex()
        return PreparedRequest(api, GenerationRequest(request_id, tuple(tokens), sampling))

    @asynccontextmanager
    async def generation(self, prepared: PreparedRequest, lane: Lane
                         ) -> AsyncIterator[Generation]:
        """Queue and start `prepared`; leaving the block early cancels it (or its place)."""
        self.check_accepting()
        gen = Generation(prepared, Ticket(lane))
        try:
            admitted = self._queue.submit(gen.ticket)
        except QueueFull:
            self.counters["rejected"] += 1
            raise self._queue_full_error() from None
        self._generations[gen.ticket] = gen
        self._idle.clear()
        if admitted:
            self._start(gen)
        try:
            yield gen
        finally:
            if not gen.finished:
                self._abandon(gen)

    def _queue_full_error(self) -> ApiError:
        wait_s = sum(self._durations_s) / len(self._durations_s) if self._durations_s else 2.0
        retry_s = min(60, max(1, math.ceil(wait_s)))
        return ApiError(
            503, f"The engine is busy: all {self._queue.capacity} sequences are in use and "
            f"{self._queue.queued_count} requests are waiting, the most it queues. Retry in "
            f"about {retry_s} s.", type="server_error", code="queue_full",
            headers={"Retry-After": str(retry_s)})

    def _ready_core(self) -> InferenceCore:
        self.check_accepting()
        assert self.core is not None
        return self.core

    def _start(self, gen: Generation) -> None:
        assert self.core is not None
        try:
            gen.handle = self.core.start(gen.prepared.generation, self._sink(gen))
        except NoFreeSequence:
            # The core frees a sequence just after it reports Finished: try again shortly.
            self._queue.requeue_front(gen.ticket)
            self._loop.call_later(NO_SEQUENCE_RETRY_S, self._admit_waiting)
        except PromptTooLong as exc:
            self._fail(gen, ApiError(400, str(exc), code="context_length_exceeded"))
        except EngineClosed:
            self._fail(gen, stopping_error())
        except InferenceError as exc:
            self._fail(gen, ApiError(400 if isinstance(exc, InvalidRequest) else 500, str(exc),
                                     type="server_error"))

    def _sink(self, gen: Generation) -> Callable[[GenerationEvent], None]:
        """The core's callback for `gen`: runs on the decode thread, must be quick and not raise.

        A text delta of a stream whose handler allows it is written to the client here
        (`DirectStream`, whose module says why and how order is kept). Events of every
        generation share one mailbox; the core wakes the loop for them once per decode step
        (`_wake_loop`), however many sequences the step advanced."""
        mailbox = self._mailbox

        def on_event(event: GenerationEvent) -> None:
            direct = gen.direct
            rest = None
            if direct is not None and isinstance(event, TokenDelta) and \
                    gen.handed == gen.written:
                rest = direct.send(event.text)
            if rest is None or rest:
                self._handover_waiting = True
                if isinstance(event, TokenDelta):
                    gen.handed += 1
            mailbox.append((gen, event, rest))

        return on_event

    def _wake_loop(self) -> None:
        """The core's `flush_events` (decode thread): schedule a drain unless one is pending,
        or the mailbox holds only counts of direct writes and the last drain is recent.
        Called right before a decode, so the loop's work runs while the decode has released
        the GIL."""
        if not self._mailbox or self._drain_scheduled:
            return
        now = time.monotonic()
        if not self._handover_waiting and now - self._drained_at < COUNT_DIRECT_WRITES_EVERY_S:
            return
        self._handover_waiting = False
        self._drained_at = now
        self._drain_scheduled = True
        with suppress(RuntimeError):  # the loop is closed: the process is exiting
            self._loop.call_soon_threadsafe(self._drain_mailbox)

    def _drain_mailbox(self) -> None:
        self._drain_scheduled = False  # before draining: an event added meanwhile is drained
        mailbox = self._mailbox        # now, or schedules the next drain
        while mailbox:
            self._on_event(*mailbox.popleft())

    def _on_event(self, gen: Generation, event: GenerationEvent, rest: bytes | None) -> None:
        if isinstance(event, TokenDelta):
            self._meter.add(event.completion_tokens - gen.completion_tokens)
            gen.completion_tokens = event.completion_tokens
        else:
            self._meter.add(event.completion_tokens - gen.completion_tokens)
            if event.finish_reason == "cancelled" and gen.stopped_by_engine:
                # The client did not leave: it must learn that the engine stopped.
                event = replace(event, finish_reason="error", error=ENGINE_STOPPING)
            self._count_finished(gen, event)
            self._release(gen)
        if rest is None:
            gen.deliver(event)
        elif rest:
            gen.deliver(rest)

    def _count_finished(self, gen: Generation, event: GenerationFinished) -> None:
        key = {"stop": "completed", "length": "completed", "cancelled": "cancelled"}
        self.counters[key.get(event.finish_reason, "failed")] += 1
        self.counters["prompt"] += event.prompt_tokens
        self.counters["cached"] += event.cached_tokens
        self.counters["completion"] += event.completion_tokens
        if event.finish_reason in ("stop", "length"):
            self._durations_s.append(time.monotonic() - gen.started_at)

    def _release(self, gen: Generation) -> None:
        self._generations.pop(gen.ticket, None)
        for ticket in self._queue.release(gen.ticket):
            self._start(self._generations[ticket])
        if not self._generations:
            self._idle.set()

    def _admit_waiting(self) -> None:
        for ticket in self._queue.admit_waiting():
            self._start(self._generations[ticket])

    def _fail(self, gen: Generation, error: ApiError) -> None:
        self.counters["failed"] += 1
        self._release(gen)
        gen.deliver(error)

    def _abandon(self, gen: Generation) -> None:
        """The client left: cancel the generation, or give up the place in line."""
        if gen.handle is not None:
            gen.handle.cancel()  # Finished("cancelled") follows within one decode step
        elif self._queue.withdraw(gen.ticket):
            self.counters["cancelled"] += 1
            self._generations.pop(gen.ticket, None)
            if not self._generations:
                self._idle.set()

    async def shutdown(self, drain_timeout_s: float) -> None:
        """Stop taking requests, let running ones finish for `drain_timeout_s`, then cancel the
        rest and free the model."""
        if self.state is ServiceState.READY:
            self.state, self.detail = ServiceState.STOPPING, "stopping"
        if drain_timeout_s > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), drain_timeout_s)
        for ticket in self._queue.drain_waiting():
            gen = self._generations.pop(ticket)
            self.counters["cancelled"] += 1
            gen.deliver(stopping_error())
        for gen in list(self._generations.values()):
            if gen.handle is not None:
                gen.stopped_by_engine = True
                gen.handle.cancel()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), 2.0)
        if self.core is not None:
            core, self.core = self.core, None
            await run_blocking(core.close)

    def stats(self) -> EngineStats:
        info = self.core.info if self.core is not None else None
        core = self.core.stats if self.core is not None else None
        return EngineStats(
            state=self.state.value, detail=self.detail, model_name=self.settings.model_name,
            pid=os.getpid(), uptime_s=round(time.monotonic() - self._started_at, 3),
            capacity=self._queue.capacity, active_requests=self._queue.active_count,
            queued_requests=self._queue.queued_count, queue_limit=self._queue.max_queued,
            context_tokens_per_sequence=info.context_tokens_per_sequence if info else 0,
            supports_gpu_offload=info.supports_gpu_offload if info else False,
            gpu_layers_requested=self.settings.gpu_layers,
            gpu_layers_offloaded=info.gpu_layers_offloaded if info else 0,
            tokens_per_second_recent=round(self._meter.tokens_per_second(), 2),
            requests_completed=self.counters["completed"],
            requests_cancelled=self.counters["cancelled"],
            requests_failed=self.counters["failed"], requests_rejected=self.counters["rejected"],
            prompt_tokens_total=self.counters["prompt"],
            cached_tokens_total=self.counters["cached"],
            completion_tokens_total=self.counters["completion"], sandbox=self.sandbox,
            speculation=info.speculation if info else "off",
            draft_tokens_total=core.draft_tokens_total if core else 0,
            draft_tokens_accepted_total=core.draft_tokens_accepted_total if core else 0,
            shared_prefix_tokens_total=core.shared_prefix_tokens_total if core else 0,
            sequences_moved_total=core.sequences_moved_total if core else 0,
            step_seconds_total=round(core.step_seconds_total, 6) if core else 0.0,
            decode_seconds_total=round(core.decode_seconds_total, 6) if core else 0.0,
        )
