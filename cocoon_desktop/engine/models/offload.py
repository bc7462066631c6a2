"""GPU offload: can this llama.cpp build use the GPU, and how many layers should go there?

`plan_offload` estimates a model's GPU memory (weights + KV cache for the context + buffers) from
its GGUF metadata and the free VRAM the hardware monitor measured, and chooses llama.cpp's
`n_gpu_layers`: -1 (every layer and the output), N (the last N layers, as llama.cpp offloads
them) or 0, with the reason in words. After the engine loads the model it reports how many layers
really are on the GPU; `engine.host.supervisor_text.status_warnings` words a loud warning when a
model that should run on the GPU runs on the CPU.

The estimate is deliberately on the safe side: compute buffers are sized for llama.cpp without
flash attention, and `RESERVE_BYTES` stays free for the desktop and the CUDA runtime's growth.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.engine.models.gguf_meta import GgufMetadata
from cocoon_desktop.engine.types import REBUILD_WITH_CUDA

GIB = 1024**3
MIB = 1024**2
CUDA_CONTEXT_BYTES = 300 * MIB  # CUDA context, cuBLAS workspace, llama.cpp's own pools
RESERVE_BYTES = 256 * MIB  # left free for the desktop and other programs
UBATCH_TOKENS = 512  # llama.cpp's default physical batch
# Plain words, never a shell command: the installer rebuilds llama.cpp with CUDA by itself when
# it finds NVIDIA's toolkit and a GPU (scripts/bootstrap.sh).


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


@dataclass(frozen=True)
class MemoryEstimate:
    """GPU memory the whole model needs at one context size, in bytes."""

    weights_bytes: int  # every layer plus the output projection (input embeddings stay on CPU)
    kv_cache_bytes: int  # f16 keys and values for context_tokens in every layer
    buffers_bytes: int  # CUDA context + compute buffers
    context_tokens: int
    kv_cache_known: bool  # False when the file lacks the head counts: KV not counted

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.buffers_bytes


def estimate_memory(metadata: GgufMetadata, context_tokens: int) -> MemoryEstimate:
    """Weights + KV cache + buffers for the whole model on the GPU at `context_tokens`."""
    kv_per_token_layer = metadata.kv_bytes_per_token_per_layer
    kv = (kv_per_token_layer or 0) * context_tokens * metadata.block_count
    logits = UBATCH_TOKENS * (metadata.vocab_size or 0) * 4
    attention_scores = UBATCH_TOKENS * context_tokens * (metadata.head_count or 0) * 4
    return MemoryEstimate(
        weights_bytes=sum(metadata.layer_tensor_bytes) + metadata.output_tensor_bytes,
        kv_cache_bytes=kv,
        buffers_bytes=CUDA_CONTEXT_BYTES + logits + attention_scores,
        context_tokens=context_tokens,
        kv_cache_known=kv_per_token_layer is not None,
    )


@dataclass(frozen=True)
class OffloadPlan:
    """How many layers to put on the GPU, and why."""

    gpu_layers: int  # llama.cpp's n_gpu_layers: -1 = all (with the output), N, or 0
    offloaded_layers: int  # the count that means: total_layers when gpu_layers is -1
    total_layers: int
    estimate: MemoryEstimate
    free_vram_bytes: int | None  # None: no GPU found
    reason: str  # in words, for the UI

    @property
    def fits_fully(self) -> bool:
        return self.gpu_layers == -1


def plan_offload(
    metadata: GgufMetadata,
    context_tokens: int,
    free_vram_bytes: int | None,
    supports_gpu_offload: bool,
    reserve_bytes: int = RESERVE_BYTES,
) -> OffloadPlan:
    """Choose n_gpu_layers for this model, context and free VRAM (measured elsewhere), leaving
    `reserve_bytes` free (the node passes the user's "keep VRAM free" setting, which GPU
    protection also watches, so a planned load never trips protection)."""
    estimate = estimate_memory(metadata, context_tokens)
    total = metadata.block_count

    def plan(gpu_layers: int, offloaded: int, reason: str) -> OffloadPlan:
        return OffloadPlan(gpu_layers, offloaded, total, estimate, free_vram_bytes, reason)

    if free_vram_bytes is None:  # nothing to fix: the CPU is what this machine has
        return plan(0, 0, "No NVIDIA GPU was found, so every layer runs on the CPU.")
    if not supports_gpu_offload:
        return plan(0, 0, "This llama.cpp build is CPU-only, so every layer runs on the CPU. "
                    + REBUILD_WITH_CUDA)
    usable = free_vram_bytes - max(reserve_bytes, 0)
    if estimate.total_bytes <= usable:
        return plan(-1, total, (
            f"All {total} layers fit on the GPU: {_needs(estimate)} of "
            f"{_gib(free_vram_bytes)} free."
        ))
    layers = _layers_that_fit(metadata, context_tokens, usable - estimate.buffers_bytes)
    return plan(layers, layers, _partial_reason(metadata, estimate, layers, free_vram_bytes))


def _needs(estimate: MemoryEstimate) -> str:
    kv_note = "" if estimate.kv_cache_known else " (KV cache not counted: head counts unknown)"
    return (
        f"the model needs about {_gib(estimate.total_bytes)} (weights "
        f"{_gib(estimate.weights_bytes)}, KV cache for {estimate.context_tokens} tokens "
        f"{_gib(estimate.kv_cache_bytes)}, buffers {_gib(estimate.buffers_bytes)}){kv_note}"
    )


def _partial_reason(
    metadata: GgufMetadata, estimate: MemoryEstimate, layers: int, free_vram_bytes: int
) -> str:
    """Why only `layers` of the model's layers go to the GPU, and what would fit more."""
    total, free = metadata.block_count, _gib(free_vram_bytes)
    advice = (
        f"Free GPU memory by closing other programs, or choose a smaller context "
        f"(now {estimate.context_tokens} tokens) or a smaller quantization "
        f"(now {metadata.quantization})."
    )
    if layers == 0:
        return (
            f"Not even one layer fits in {free} of free GPU memory: {_needs(estimate)}. "
            f"The model runs on the CPU, which is much slower. {advice}"
        )
    if layers == total:
        return (
            f"All {total} layers fit in {free} of free GPU memory, but not the output layer "
            f"({_gib(metadata.output_tensor_bytes)}): it runs on the CPU, which is a little "
            f"slower. {advice}"
        )
    return (
        f"Only {layers} of {total} layers fit in {free} of free GPU memory ({_needs(estimate)}); "
        f"the other {total - layers} run on the CPU, which makes generation several times "
        f"slower. {advice}"
    )


def _layers_that_fit(metadata: GgufMetadata, context_tokens: int, budget_bytes: int) -> int:
    """How many of the last layers (llama.cpp offloads from the end) fit in `budget_bytes`."""
    kv_per_layer = (metadata.kv_bytes_per_token_per_layer or 0) * context_tokens
    used = 0
    count = 0
    for layer_bytes in reversed(metadata.layer_tensor_bytes):
        used += layer_bytes + kv_per_layer
        if used > budget_bytes:
            break
        count += 1
    return count


@dataclass(frozen=True)
class GpuOffloadSupport:
    """Whether this llama.cpp build can offload to a GPU, and why not."""

    supported: bool
    detail: str


def gpu_offload_support() -> GpuOffloadSupport:
    """Ask llama.cpp (`llama_supports_gpu_offload`); loads the library into this process."""
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:
        return GpuOffloadSupport(False, (
            f"llama.cpp could not be loaded ({exc}). Run scripts/run-app.sh to reinstall it."
        ))
    if llama_cpp.llama_supports_gpu_offload():
        return GpuOffloadSupport(True, "This llama.cpp build can offload layers to the GPU.")
    return GpuOffloadSupport(False, "This llama.cpp build is CPU-only (built without CUDA).")


def llama_library_dir() -> Path | None:
    """The folder of llama.cpp's shared libraries inside the llama_cpp package (not imported)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return lib if lib.is_dir() else None
