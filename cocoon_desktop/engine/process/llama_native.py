"""A thin, typed layer over llama-cpp-python's low-level bindings (`llama_cpp.llama_cpp`).

Only the calls the inference core needs: load a model, make one context holding several
sequences, tokenize, turn tokens into bytes, read the chat template, edit the KV memory of one
sequence (trim it, or copy another's), read a row of logits. Everything here is synchronous
and must be used from one thread at a time (the core's decode thread after start-up).
llama.cpp's own log lines go to the Python logger `cocoon_desktop.engine.llama` instead of
stderr.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import llama_cpp.llama_cpp as llama
import numpy as np

from cocoon_desktop.engine.models.capacity import kv_bytes_per_token

_llama_log = logging.getLogger("cocoon_desktop.engine.llama")
# ggml_log_level: 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous line
_LEVELS = {3: logging.WARNING, 4: logging.ERROR}
_CONTINUE = 5
MAX_LOGIT_VIEWS = 4096  # row views kept by address (one per batch row llama.cpp has used)
_backend_lock = threading.Lock()
_backend_ready = False
_last_level: int | None = None
# "load_tensors:   CUDA0 model buffer size = 92.10 MiB": where llama.cpp put the weights
_MODEL_BUFFER = re.compile(r"(\S+) model buffer size =")
_buffer_capture: list[str] | None = None
_load_lock = threading.Lock()


@llama.llama_log_callback
def _on_llama_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp writes hundreds of INFO lines per load; keep warnings and errors only."""
    global _last_level
    python_level = _last_level if level == _CONTINUE else _LEVELS.get(level)
    _last_level = python_level
    message = text.decode("utf-8", "replace").rstrip() if text else ""
    if python_level is not None and message:
        _llama_log.log(python_level, "%s", message)
    if _buffer_capture is not None:
        match = _MODEL_BUFFER.search(message)
        if match:
            _buffer_capture.append(match.group(1))


def ensure_backend() -> None:
    """Initialise llama.cpp once per process and route its log to Python logging."""
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            llama.llama_log_set(_on_llama_log, ctypes.c_void_p(0))
            llama.llama_backend_init()
            _backend_ready = True


class NativeError(RuntimeError):
    """A llama.cpp call failed; the text says which and what to do."""


class SwapFailed(NativeError):
    """`NativeContext.swap_sequences` failed: with `cleared` both sequences lost their KV,
    else neither changed."""

    def __init__(self, message: str, *, cleared: bool) -> None:
        super().__init__(message)
        self.cleared = cleared


class NativeLoadCancelled(NativeError):
    """The load progress callback asked llama.cpp to stop loading; nothing is left allocated."""


LoadProgress = Callable[[float], bool]  # fraction of the weights loaded -> keep loading?


class _ProgressRelay:
    """llama.cpp's `progress_callback` (called per tensor, on the loading thread) as a Python
    callable. An exception in the callable keeps the load going (ctypes would turn it into
    False, a cancel nobody asked for); `cancelled` remembers a refusal."""

    def __init__(self, progress: LoadProgress) -> None:
        self._progress = progress
        self.cancelled = False
        self.pointer = llama.llama_progress_callback(self._call)

    def _call(self, fraction: float, _user_data: ctypes.c_void_p) -> bool:
        try:
            keep_going = bool(self._progress(min(1.0, max(0.0, float(fraction)))))
        except Exception:
            _llama_log.exception("the model load progress callback failed; loading goes on")
            return True
        self.cancelled = self.cancelled or not keep_going
        return keep_going


@dataclass(frozen=True)
class ModelShape:
    """Numbers of a loaded model that size the KV cache."""

    n_ctx_train: int
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_vocab: int

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of f16 K and V cache one token takes in every layer."""
        return kv_bytes_per_token(n_layer=self.n_layer, n_head_kv=self.n_head_kv,
                                  head_dim=self.n_embd // max(1, self.n_head))


class NativeModel:
    """A GGUF model loaded with `llama_model_load_from_file`, plus its vocabulary.

    `progress` gets the fraction of the weights loaded (per tensor, on this thread, ending at
    1.0); returning False stops the load, which raises `NativeLoadCancelled`."""

    def __init__(self, path: Path, *, gpu_layers: int, progress: LoadProgress | None = None
                 ) -> None:
        global _buffer_capture
        ensure_backend()
        params = llama.llama_model_default_params()
        params.n_gpu_layers = gpu_layers if gpu_layers >= 0 else 2**31 - 1
        relay = _ProgressRelay(progress) if progress is not None else None
        if relay is not None:
            params.progress_callback = relay.pointer  # kept alive by `relay` during the load
        with _load_lock:
            _buffer_capture = []
            try:
                model = llama.llama_model_load_from_file(str(path).encode(), params)
                self.weight_buffers = tuple(_buffer_capture)
            finally:
                _buffer_capture = None
        if not model:
            if relay is not None and relay.cancelled:
                raise NativeLoadCancelled(f"loading {path.name} was cancelled")
            raise NativeError(f"llama.cpp could not load {path.name}")
        self._model = model
        self.vocab = llama.llama_model_get_vocab(model)
        self.shape = ModelShape(
            n_ctx_train=llama.llama_model_n_ctx_train(model),
            n_layer=llama.llama_model_n_layer(model),
            n_embd=llama.llama_model_n_embd(model),
            n_head=llama.llama_model_n_head(model),
            n_head_kv=llama.llama_model_n_head_kv(model),
            n_vocab=llama.llama_vocab_n_tokens(self.vocab),
        )
        self._piece_buffer = ctypes.create_string_buffer(256)

    @property
    def pointer(self) -> llama.llama_model_p:
        return self._model

    def tokenize(self, text: str, *, add_special: bool) -> list[int]:
        """Tokenize `text`; special tokens written in it (`<|im_start|>`) are parsed as such."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        for _ in range(2):
            buffer = (llama.llama_token * capacity)()
            count = llama.llama_tokenize(self.vocab, data, len(data), buffer, capacity,
                                         add_special, True)
            if count >= 0:
                return list(buffer[:count])
            capacity = -count
        raise NativeError("llama.cpp could not tokenize the text")

    def piece(self, token: int) -> bytes:
        """The bytes one token stands for; control and end tokens give b"" (never shown)."""
        length = llama.llama_token_to_piece(self.vocab, token, self._piece_buffer,
                                            len(self._piece_buffer), 0, False)
        if length < 0:
            self._piece_buffer = ctypes.create_string_buffer(-length)
            return self.piece(token)
        return self._piece_buffer.raw[:length]

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama.llama_vocab_is_eog(self.vocab, token))

    def token_text(self, token: int) -> str:
        """The vocabulary's spelling of a (special) token, e.g. `<|im_end|>`; "" when none."""
        if token < 0:
            return ""
        raw = llama.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", "replace") if raw else ""

    @property
    def bos_token(self) -> int:
        return llama.llama_vocab_bos(self.vocab)

    @property
    def eos_token(self) -> int:
        return llama.llama_vocab_eos(self.vocab)

    def chat_template(self) -> str | None:
        """The Jinja chat template stored in the GGUF, None when the file has none."""
        raw = llama.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8", "replace") if raw else None

    def gpu_layers_offloaded(self, requested: int) -> int:
        """Layers on a GPU: llama.cpp's own count, and 0 when every weight buffer it reported
        is host memory (an offloading build on a machine whose GPU it could not use)."""
        on_device = [name for name in self.weight_buffers if not name.startswith("CPU")]
        if not llama.llama_supports_gpu_offload() or not on_device:
            return 0
        total = self.shape.n_layer + 1  # the output layer counts as one more in llama.cpp
        return total if requested < 0 else min(requested, total)

    def close(self) -> None:
        if self._model:
            llama.llama_model_free(self._model)
            self._model = None


class NativeContext:
    """One llama.cpp context holding `n_seq_max` sequences, each with its own KV stream."""

    def __init__(self, model: NativeModel, *, n_ctx: int, n_seq_max: int, n_batch: int,
                 threads: int) -> None:
        params = llama.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_seq_max = n_seq_max
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_threads = threads
        params.n_threads_batch = threads
        params.kv_unified = False  # like `llama-server --parallel N`: one KV stream per sequence
        params.no_perf = True
        context = llama.llama_init_from_model(model.pointer, params)
        if not context:
            raise NativeError(
                f"llama.cpp could not create a context of {n_ctx} tokens for {n_seq_max} "
                "sequences (out of memory?)"
            )
        self._context = context
        self._n_vocab = model.shape.n_vocab
        self._logit_views: dict[int | None, np.ndarray] = {}
        self._memory = llama.llama_get_memory(context)
        self.n_ctx = llama.llama_n_ctx(context)
        self.n_ctx_per_sequence = llama.llama_n_ctx_seq(context)
        self.n_batch = llama.llama_n_batch(context)

    @property
    def pointer(self) -> llama.llama_context_p:
        return self._context

    def remove_tokens(self, seq_id: int, from_position: int) -> None:
        """Drop the KV of `seq_id` from `from_position` to its end (0 drops it all)."""
        if not llama.llama_memory_seq_rm(self._memory, seq_id, from_position, -1):
            llama.llama_memory_seq_rm(self._memory, seq_id, -1, -1)
            raise NativeError(f"llama.cpp could not trim sequence {seq_id}; it was cleared")

    def copy_sequence(self, source: int, target: int) -> None:
        """Make `target` hold all that `source` holds. With one KV stream per sequence
        llama.cpp copies the whole stream's buffers at the start of the next decode (so the
        copy sees `source` as it is now); trim the copy with `remove_tokens` before then."""
        llama.llama_memory_seq_cp(self._memory, source, target, -1, -1)

    def swap_sequences(self, first: int, second: int) -> None:
        """Exchange what two sequences hold, now: each one's used cells go through host memory
        (`llama_state_seq_get_data`), so only held tokens are copied, not whole KV streams.
        Raises SwapFailed: before any change when saving fails, with both cleared after."""
        try:
            saved = [self._save_sequence(seq_id) for seq_id in (first, second)]
        except NativeError as exc:
            raise SwapFailed(str(exc), cleared=False) from exc
        try:
            for seq_id in (first, second):
                self.remove_tokens(seq_id, 0)
            for data, seq_id in ((saved[0], second), (saved[1], first)):
                if data is not None and not llama.llama_state_seq_set_data(
                        self._context, data, len(data), seq_id):
                    raise NativeError(f"llama.cpp could not load a cache into sequence {seq_id}")
        except NativeError as exc:
            llama.llama_memory_seq_rm(self._memory, first, -1, -1)
            llama.llama_memory_seq_rm(self._memory, second, -1, -1)
            raise SwapFailed(f"{exc}; sequences {first} and {second} were cleared",
                             cleared=True) from exc

    def _save_sequence(self, seq_id: int) -> ctypes.Array[ctypes.c_uint8] | None:
        if self.cells_used(seq_id) == 0:
            return None
        size = llama.llama_state_seq_get_size(self._context, seq_id)
        data = (ctypes.c_uint8 * size)()
        if llama.llama_state_seq_get_data(self._context, data, size, seq_id) != size:
            raise NativeError(f"llama.cpp could not save the cache of sequence {seq_id}")
        return data

    def logits(self, row: int) -> np.ndarray:
        """The logits of batch row `row` of the last decode: a view, valid until the next."""
        pointer = llama.llama_get_logits_ith(self._context, row)
        if not pointer:
            raise NativeError(f"llama.cpp has no logits for batch row {row}")
        address = ctypes.cast(pointer, ctypes.c_void_p).value
        view = self._logit_views.get(address)
        if view is None:
            # llama.cpp keeps its output buffer from decode to decode: the views of its rows
            # are made once (numpy's as_array costs ~20 µs, a token at N=1 ~8 ms); a buffer
            # made anew has new addresses, and `n_vocab` floats are there for every row.
            if len(self._logit_views) >= MAX_LOGIT_VIEWS:
                self._logit_views.clear()
            view = self._logit_views[address] = np.ctypeslib.as_array(
                pointer, shape=(self._n_vocab,))
        return view

    def cells_used(self, seq_id: int) -> int:
        """Tokens of `seq_id` held in the KV cache, as llama.cpp itself reports."""
        return llama.llama_memory_seq_pos_max(self._memory, seq_id) + 1

    def decode(self, batch: llama.llama_batch) -> int:
        """Run one `llama_decode`; returns llama.cpp's status code (0 is success)."""
        return llama.llama_decode(self._context, batch)

    def close(self) -> None:
        if self._context:
            llama.llama_free(self._context)
            self._context = None
