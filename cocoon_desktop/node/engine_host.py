"""The node's engine: what it runs (model, name, GPU layers) and its supervisor's life.

`EngineHost` is the Qt-free owner of the `EngineSupervisor`: started when the node serves (or
a chat needs it), stopped to free VRAM (game mode), never restarted by itself after a GPU
fault. `plan_engine` turns the node config into `EngineSettings` (hashing the model file the
first time: blocking, run it in a thread) and says how many requests it serves at once and why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from cocoon_desktop.engine.capacity import (
    MIN_CONTEXT_PER_SEQUENCE,
    kv_budget_bytes,
    suggest_capacity,
)
from cocoon_desktop.engine.file_hash import FileChangedWhileHashing
from cocoon_desktop.engine.gguf_meta import GgufMetadata, ModelFileError
from cocoon_desktop.engine.model_library import ModelLibrary
from cocoon_desktop.engine.offload import RESERVE_BYTES, plan_offload
from cocoon_desktop.engine.supervisor import EngineStartError, EngineStatus, EngineSupervisor
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings, EngineState
from cocoon_desktop.node.config import NodeConfig

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 600.0
StatusListener = Callable[[EngineStatus], None]
SupervisorFactory = Callable[[EngineSettings, Mapping[str, str] | None], EngineSupervisor]


def default_supervisor(settings: EngineSettings, env: Mapping[str, str] | None
                       ) -> EngineSupervisor:
    return EngineSupervisor(settings, env_source=env)


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


class EngineHost:
    """Starts, follows and stops the engine process for the node."""

    def __init__(self, settings_provider: Callable[[], Awaitable[EngineSettings]],
                 on_status: StatusListener, *, env: Mapping[str, str] | None = None,
                 factory: SupervisorFactory = default_supervisor) -> None:
        self._settings_provider = settings_provider
        self._on_status = on_status
        self._env = env
        self._factory = factory
        self.supervisor: EngineSupervisor | None = None
        self.status = EngineStatus(EngineState.STOPPED, "The engine is stopped.")

    @property
    def ready(self) -> bool:
        return self.status.state is EngineState.READY and self.status.endpoint is not None

    @property
    def endpoint(self) -> EngineEndpoint | None:
        return self.status.endpoint if self.ready else None

    @property
    def settings(self) -> EngineSettings | None:
        return self.supervisor.settings if self.supervisor is not None else None

    async def start(self) -> None:
        """Start the engine (returns once it is launching; EngineStartError if it cannot)."""
        if self.supervisor is None:
            try:
                settings = await self._settings_provider()
            except EngineStartError as exc:
                self._publish(EngineStatus(EngineState.CRASHED, f"The engine cannot start: "
                                           f"{exc}", gave_up=True))
                raise
            self.supervisor = self._factory(settings, self._env)
            self.supervisor.on_status(self._publish)
        await self.supervisor.start()

    async def ensure_running(self, timeout_s: float = READY_TIMEOUT_S) -> EngineEndpoint:
        """The endpoint of a ready engine, starting it first if needed (EngineStartError)."""
        endpoint = self.endpoint
        if endpoint is not None:
            return endpoint
        await self.start()
        assert self.supervisor is not None
        return await self.supervisor.wait_ready(timeout_s)

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop the process (its memory, VRAM included, is free on return)."""
        if self.supervisor is not None:
            await self.supervisor.stop(drain_timeout_s)

    async def cancel_load(self) -> bool:
        """Stop the engine while it loads its model (False when it is not loading)."""
        return self.supervisor is not None and await self.supervisor.cancel_load()

    async def reconfigure(self) -> None:
        """Apply new engine settings: stop, forget the settings, start again if it ran."""
        was_running = self.status.state in (EngineState.LOADING, EngineState.READY)
        await self.stop()
        self.supervisor = None
        if was_running:
            await self.start()

    def _publish(self, status: EngineStatus) -> None:
        self.status = status
        self._on_status(status)
