"""What the node's engine runs: the model, its Cocoon name, GPU layers, threads, and how many
requests it serves at once and why.

`plan_engine` turns the node config into `EngineSettings` (hashing the model file the first
time: blocking, run it on the blocking pool). `EnginePlanner` is what the `EngineHost` asks
each time it starts the engine: it plans with the GPU's free memory at that moment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from cocoon_desktop.core.paths import AppPaths
from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.engine.host.supervisor import EngineStartError
from cocoon_desktop.engine.models.capacity import (
    MIN_CONTEXT_PER_SEQUENCE,
    kv_budget_bytes,
    suggest_capacity,
)
from cocoon_desktop.engine.models.file_hash import FileChangedWhileHashing
from cocoon_desktop.engine.models.gguf_meta import GgufMetadata, ModelFileError
from cocoon_desktop.engine.models.model_library import ModelLibrary
from cocoon_desktop.engine.models.offload import RESERVE_BYTES, gpu_offload_support, plan_offload
from cocoon_desktop.engine.types import EngineSettings
from cocoon_desktop.node.config import NodeConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnginePlan:
    """The engine's settings and how many requests it serves at once, with the reason."""

    settings: EngineSettings
    capacity_note: str  # for the engine panel: why this many at once

    @property
    def network_jobs(self) -> int:
        return network_jobs_for(self.settings.parallel_sequences)


def available_ram() -> int:
    """RAM the engine could use now (what the OS could give without swapping)."""
    return int(psutil.virtual_memory().available)


def network_jobs_for(parallel_sequences: int) -> int:
    """Jobs the worker may announce to proxies: the engine's sequences but the chat lane (one
    sequence serves both when only one fits)."""
    return max(1, parallel_sequences - 1)


def plan_engine(config: NodeConfig, library: ModelLibrary, free_vram_bytes: int | None,
                offload_supported: bool, available_ram_bytes: int | None = None) -> EnginePlan:
    """The engine's settings for this node (blocking: may hash the model file).

    The engine decodes one sequence per network job the worker may run, plus one for the chat
    lane, so a chat never waits behind network jobs nor takes their places; fewer when the KV
    cache of that many does not fit in the memory the model will run in (`suggest_capacity`)."""
    path = config.model_path or _bundled(library)
    try:
        metadata = library.add(path).metadata or library.metadata(path)
        name = config.model_name or str(library.cocoon_name(path.resolve()))
    except (ModelFileError, FileChangedWhileHashing) as exc:
        raise EngineStartError(str(exc)) from None
    except OSError as exc:
        raise EngineStartError(f"Cannot read the model {path}: {exc.strerror}. Check the file "
                               "and its permissions.") from None
    reserve = max(RESERVE_BYTES, config.protection.vram_headroom_bytes)
    sequences, context, note = _capacity(config, metadata, free_vram_bytes, offload_supported,
                                         reserve, available_ram_bytes)
    plan = plan_offload(metadata, context * sequences, free_vram_bytes, offload_supported,
                        reserve)
    threads = config.threads or psutil.cpu_count(logical=False) or os.cpu_count() or 2
    settings = EngineSettings(
        model_path=path.resolve(), model_name=name,
        context_tokens=context * sequences, parallel_sequences=sequences,
        threads=max(1, threads),
        gpu_layers=config.gpu_layers if config.gpu_layers != -1 else plan.gpu_layers,
        speculative=config.speculative,
        draft_model_path=config.draft_model_path.resolve() if config.draft_model_path else None)
    return EnginePlan(settings, note)


def _capacity(config: NodeConfig, metadata: GgufMetadata, free_vram_bytes: int | None,
              offload_supported: bool, reserve_bytes: int, available_ram_bytes: int | None
              ) -> tuple[int, int, str]:
    """Parallel sequences, context per sequence and the reason in words.

    The KV cache lives where the model runs: in GPU memory when the GPU takes the model and at
    least one sequence's cache, in RAM otherwise (CPU-only, or a model split across both)."""
    jobs = max(1, config.max_active_requests)
    wanted = jobs + 1
    per_layer = metadata.kv_bytes_per_token_per_layer
    if per_layer is None:
        return wanted, config.context_tokens, (
            f"{wanted} requests at once ({jobs} network jobs and the chat), as set: this model "
            "file does not say its KV cache size, so memory was not checked.")
    per_token = per_layer * metadata.block_count
    memory_name, budget = "RAM", kv_budget_bytes(
        free_memory_bytes=available_ram() if available_ram_bytes is None else available_ram_bytes,
        model_file_bytes=metadata.file_size_bytes)
    if offload_supported and free_vram_bytes is not None and config.gpu_layers != 0:
        vram_budget = kv_budget_bytes(free_memory_bytes=free_vram_bytes - reserve_bytes,
                                      model_file_bytes=metadata.file_size_bytes)
        if vram_budget >= per_token * min(config.context_tokens, MIN_CONTEXT_PER_SEQUENCE):
            memory_name, budget = "GPU memory", vram_budget
    s = suggest_capacity(kv_bytes_per_token=per_token, kv_budget_bytes=budget,
                         context_tokens_per_sequence=config.context_tokens, max_parallel=wanted,
                         memory_name=memory_name,
                         cap_reason=f"as set ({jobs} network jobs and the chat)")
    return s.parallel_sequences, s.context_tokens_per_sequence, s.explanation


def _bundled(library: ModelLibrary) -> Path:
    entry = library.entries()[0]
    if entry.problem:
        raise EngineStartError(entry.problem)
    return entry.path


class EnginePlanner:
    """Plans the engine when it starts, with the config of the moment and this GPU's free
    memory then; keeps the capacity sentence for the engine panel."""

    def __init__(self, paths: AppPaths, config: Callable[[], NodeConfig],
                 free_vram_bytes: Callable[[], int | None]) -> None:
        self._paths = paths
        self._config = config
        self._free_vram_bytes = free_vram_bytes
        self._library: ModelLibrary | None = None
        self._offload_supported: bool | None = None  # asked once, when a GPU is seen
        self.capacity_note = ""  # why the engine serves this many at once

    async def open(self) -> None:
        """Open the model library (blocking: it reads the folder)."""
        self._library = await run_blocking(ModelLibrary, self._paths)

    async def settings(self) -> EngineSettings:
        """The engine's settings now (EngineStartError when the model cannot be used)."""
        if self._library is None:
            await self.open()
        assert self._library is not None
        free = self._free_vram_bytes()
        if free is not None and self._offload_supported is None:
            self._offload_supported = (await run_blocking(gpu_offload_support)).supported
        plan = await run_blocking(plan_engine, self._config(), self._library, free,
                                  bool(self._offload_supported))
        self.capacity_note = plan.capacity_note
        log.info("engine capacity: %s", plan.capacity_note)
        return plan.settings
