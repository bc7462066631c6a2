"""The inference core: continuous batching of several requests over one llama.cpp context.

`InferenceCore` loads a GGUF model with llama-cpp-python's low-level bindings, makes one context
with `capacity` sequences and runs a decode thread that advances every active request by one
token per `llama_decode` (see `engine.scheduler`). Callers (the engine's HTTP server, in the
engine process) tokenize with `tokenize`/`render_chat`, `start` a request with an event sink and
get `TokenDelta`s then exactly one `GenerationFinished`. No asyncio and no HTTP here.

Threads: `start`, `cancel`, `close`, `tokenize`, `render_chat`, `info`, `stats` and
`active_count` may be called from any thread. Event sinks run on the decode thread: they must be
quick and must not raise (one that raises is logged and its request ends with "error").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import llama_cpp.llama_cpp as llama

from cocoon_desktop.engine.process.chat_template import ChatRenderer
from cocoon_desktop.engine.process.draft_model import DraftModel
from cocoon_desktop.engine.process.inference_types import (
    CoreInfo,
    CoreStats,
    EngineClosed,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    InferenceError,
    InvalidRequest,
    LoadCancelled,
    ModelLoadError,
    NoFreeSequence,
    PromptTooLong,
    SamplingParams,
    TokenDelta,
)
from cocoon_desktop.engine.process.llama_native import (
    LoadProgress,
    NativeContext,
    NativeError,
    NativeLoadCancelled,
    NativeModel,
)
from cocoon_desktop.engine.process.pass_cost import PassCost
from cocoon_desktop.engine.process.scheduler import Admission, CancelFlag, Scheduler
from cocoon_desktop.engine.process.speculative import PromptLookup, Speculation
from cocoon_desktop.engine.types import EngineSettings

__all__ = [
    "CoreInfo",
    "CoreStats",
    "EngineClosed",
    "FinishReason",
    "GenerationEvent",
    "GenerationFinished",
    "GenerationHandle",
    "GenerationRequest",
    "InferenceCore",
    "InferenceError",
    "InvalidRequest",
    "LoadCancelled",
    "LoadProgress",
    "ModelLoadError",
    "NoFreeSequence",
    "PromptTooLong",
    "SamplingParams",
    "TokenDelta",
]

log = logging.getLogger(__name__)
PROMPT_CHUNK_TOKENS = 512  # tokens of new prompts decoded per step (bounds a step's length)
MAX_DRAFT_TOKENS = 32  # a verification stays under ggml's 64-row flash-attention tile
# Priors of what one more token in a pass costs (measured as the engine runs, `PassCost`): a
# GPU's pass barely grows with a few more tokens, a CPU's grows a lot (docs, inference).
TOKEN_COST_PRIOR_GPU = 0.05
TOKEN_COST_PRIOR_CPU = 0.4
STOPPING = "engine stopping"


class GenerationHandle:
    """Returned by `InferenceCore.start`; `cancel` ends the request within one decode step."""

    def __init__(self, request_id: str, flag: CancelFlag, wake: Callable[[], None]) -> None:
        self.request_id = request_id
        self._flag = flag
        self._wake = wake

    def cancel(self) -> None:
        """Stop generating; the request's last event is `GenerationFinished("cancelled")`."""
        self._flag.set("cancelled")
        self._wake()


class InferenceCore:
    """One model, one context, `capacity` sequences decoded together by one thread.

    `on_load_progress` gets the fraction of the weights loaded (0.0 to 1.0, per tensor, on the
    constructing thread); returning False stops the load: the constructor then raises
    `LoadCancelled` and nothing stays allocated.

    Events reach each request's `on_event` at once, on the decode thread. `flush_events`, if
    given, is called on that thread when they should be acted on: right before each
    `llama_decode`, and before the thread waits for work. A consumer that queues events and
    wakes another thread there lets that thread run while the decode has released the GIL,
    instead of taking the GIL from the decode thread's own Python between two decodes."""

    def __init__(self, settings: EngineSettings, *,
                 on_load_progress: LoadProgress | None = None,
                 flush_events: Callable[[], None] | None = None) -> None:
        _check_settings(settings)
        self._settings = settings
        self._flush_events = flush_events or _nothing
        self._model, self._context = _load(settings, on_load_progress)
        speculation: Speculation | None = None
        try:
            speculation = _speculation(settings, self._model, self._context)
            self._start_serving(settings, speculation)
        except BaseException:
            if speculation is not None:
                speculation.drafter.close()
            self._context.close()
            self._model.close()
            raise

    def _start_serving(self, settings: EngineSettings, speculation: Speculation | None) -> None:
        self._chat = ChatRenderer(self._model)
        self._info = CoreInfo(
            capacity=settings.parallel_sequences,
            context_tokens_per_sequence=self._context.n_ctx_per_sequence,
            context_tokens_total=self._context.n_ctx,
            n_ctx_train=self._model.shape.n_ctx_train,
            gpu_layers_offloaded=self._model.gpu_layers_offloaded(settings.gpu_layers),
            supports_gpu_offload=bool(llama.llama_supports_gpu_offload()),
            chat_template_present=self._chat.from_model,
            kv_bytes_per_token=self._model.shape.kv_bytes_per_token,
            speculation=_describe(speculation),
        )
        self._lock = threading.Condition()
        self._model_lock = threading.Lock()
        self._pending: list[Admission] = []
        self._reserved = 0  # admitted or pending requests not yet finished
        self._closing = False
        self._scheduler = Scheduler(self._model, self._context, capacity=self._info.capacity,
                                    engine_seed=settings.seed, on_released=self._release,
                                    speculation=speculation,
                                    before_decode=self._flush_events)
        self._thread = threading.Thread(target=self._run, name="inference-decode", daemon=True)
        self._thread.start()

    # -- queries -------------------------------------------------------------------------

    @property
    def info(self) -> CoreInfo:
        return self._info

    @property
    def active_count(self) -> int:
        """Requests started and not yet finished (at most `info.capacity`)."""
        with self._lock:
            return self._reserved

    @property
    def stats(self) -> CoreStats:
        """The snapshot published after the latest decode step or finished request."""
        return self._scheduler.stats

    def tokenize(self, text: str, *, add_special: bool) -> list[int]:
        """Tokens of `text`; `add_special` adds the model's BOS/EOS where it wants them."""
        with self._model_lock:  # close() frees the model under the same lock
            self._ensure_open()
            return self._model.tokenize(text, add_special=add_special)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The prompt for `messages` in the model's own chat template, ready for the answer."""
        self._ensure_open()  # pure Python (Jinja): needs no lock
        return self._chat.render(messages)

    # -- requests ------------------------------------------------------------------------

    def start(self, request: GenerationRequest,
              on_event: Callable[[GenerationEvent], None]) -> GenerationHandle:
        """Queue `request` for the next decode step; raises before anything starts if not."""
        self._check_request(request)
        flag = CancelFlag()
        with self._lock:
            if self._closing:
                raise EngineClosed("The engine is stopping; start the request again once it "
                                   "has restarted.")
            if self._reserved >= self._info.capacity:
                raise NoFreeSequence(self._info.capacity)
            self._reserved += 1
            self._pending.append(Admission(request, on_event, flag))
            self._lock.notify()
        return GenerationHandle(request.request_id, flag, self._wake)

    def close(self) -> None:
        """Stop the decode thread, end every request with "error", free the model's memory.

        Waits for the step in progress (at most one chunk of prompt); safe to call twice, and
        from an event sink (then it returns at once and the thread frees everything)."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> InferenceCore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _check_request(self, request: GenerationRequest) -> None:
        if not isinstance(request.sampling, SamplingParams):
            raise InvalidRequest("sampling must be a SamplingParams.")
        prompt = request.prompt_tokens
        if not prompt:
            raise InvalidRequest("The prompt is empty; send at least one token of text.")
        n_vocab = self._model.shape.n_vocab
        if any(not isinstance(t, int) or not 0 <= t < n_vocab for t in prompt):
            raise InvalidRequest(f"The prompt holds token ids outside this model's vocabulary "
                                 f"(0 to {n_vocab - 1}); tokenize with this engine's model.")
        if len(prompt) + 1 > self._info.context_tokens_per_sequence:
            raise PromptTooLong(len(prompt), self._info.context_tokens_per_sequence)

    def _ensure_open(self) -> None:
        if self._closing:
            raise EngineClosed("The engine is stopping; try again once it has restarted.")

    def _wake(self) -> None:
        with self._lock:
            self._lock.notify()

    def _release(self) -> None:
        with self._lock:
            self._reserved -= 1

    def _run(self) -> None:
        scheduler = self._scheduler
        try:
            while True:
                with self._lock:
                    while not (self._closing or self._pending or scheduler.active):
                        self._lock.wait()
                    if self._closing:
                        break
                    admissions, self._pending = self._pending, []
                self._advance(admissions)
                if not scheduler.active:  # (with sequences active, the next decode flushes)
                    self._flush_events()
        finally:
            with self._lock:
                self._closing = True  # also if the loop died: never accept work nobody runs
                admissions, self._pending = self._pending, []
            for admission in admissions:
                admission.cancel.set("error", STOPPING)
                scheduler.admit(admission)
            scheduler.finish_all("error", STOPPING)
            self._flush_events()
            with self._model_lock:
                scheduler.close()
                self._context.close()
                self._model.close()

    def _advance(self, admissions: list[Admission]) -> None:
        """One turn of the loop: admit, drop cancelled, decode; a bug never wedges the core."""
        scheduler = self._scheduler
        for admission in admissions:
            try:
                scheduler.admit(admission)
            except Exception:
                log.exception("could not start request %s", admission.request.request_id)
                scheduler.reject(admission, "The engine could not start this request (out of "
                                 "memory?); it keeps serving. Retry the request.")
        try:
            scheduler.cancel_requested()
            scheduler.step()
            scheduler.publish_stats()
        except Exception:
            log.exception("the decode step failed; its requests end with an error")
            scheduler.finish_all("error", "The engine hit an internal error and stopped this "
                                 "request; it keeps serving. Retry the request.")


def _nothing() -> None:
    pass


def _check_settings(settings: EngineSettings) -> None:
    path = Path(settings.model_path)
    if not path.is_file():
        raise ModelLoadError(f"The model file {path} does not exist. Choose a model that is on "
                             "this computer.")
    limit = int(llama.llama_max_parallel_sequences())
    if not 1 <= settings.parallel_sequences <= limit:
        raise ModelLoadError(f"Parallel requests must be from 1 to {limit}; "
                             f"{settings.parallel_sequences} was set.")
    if settings.context_tokens < 64 * settings.parallel_sequences:
        raise ModelLoadError(
            f"A context of {settings.context_tokens} tokens leaves each of the "
            f"{settings.parallel_sequences} parallel requests under 64 tokens; raise the context "
            "size or lower the parallel requests.")
    if settings.threads < 1:
        raise ModelLoadError("The engine needs at least one CPU thread.")
    if not 0 <= settings.draft_tokens_max <= MAX_DRAFT_TOKENS:
        raise ModelLoadError(f"Drafted tokens per step must be from 0 (no speculative "
                             f"decoding) to {MAX_DRAFT_TOKENS}; {settings.draft_tokens_max} "
                             "was set.")
    draft = settings.draft_model_path
    if settings.speculative and draft is not None and not Path(draft).is_file():
        raise ModelLoadError(f"The draft model file {draft} does not exist. Choose a draft "
                             "model that is on this computer, or none.")


def _speculation(settings: EngineSettings, model: NativeModel, context: NativeContext
                 ) -> Speculation | None:
    """The drafter the settings ask for: the draft model, prompt lookup, or none."""
    if not settings.speculative or settings.draft_tokens_max == 0:
        return None
    cost = PassCost(TOKEN_COST_PRIOR_GPU if model.gpu_layers_offloaded(settings.gpu_layers)
                    else TOKEN_COST_PRIOR_CPU)
    if settings.draft_model_path is None:
        return Speculation(PromptLookup(), settings.draft_tokens_max, cost)
    drafter = DraftModel(Path(settings.draft_model_path), model, n_ctx=context.n_ctx,
                         n_seq_max=settings.parallel_sequences, threads=settings.threads,
                         gpu_layers=settings.gpu_layers)
    return Speculation(drafter, settings.draft_tokens_max, cost)


def _describe(speculation: Speculation | None) -> str:
    if speculation is None:
        return "off"
    if isinstance(speculation.drafter, DraftModel):
        return f"draft model {speculation.drafter.name}"
    return "prompt lookup"


def _load(settings: EngineSettings, progress: LoadProgress | None
          ) -> tuple[NativeModel, NativeContext]:
    path = Path(settings.model_path)
    try:
        model = NativeModel(path, gpu_layers=settings.gpu_layers, progress=progress)
    except NativeLoadCancelled as exc:
        raise LoadCancelled(f"Loading {path.name} was cancelled.") from exc
    except NativeError as exc:
        raise ModelLoadError(f"{exc}. The file may be damaged, incomplete or not a GGUF model "
                             "this llama.cpp version supports; choose another model file.") from exc
    try:
        context = NativeContext(
            model, n_ctx=settings.context_tokens, n_seq_max=settings.parallel_sequences,
            n_batch=max(PROMPT_CHUNK_TOKENS, settings.parallel_sequences),
            threads=settings.threads)
    except NativeError as exc:
        model.close()
        raise ModelLoadError(f"{exc}. Lower the context size or the parallel requests.") from exc
    return model, context
