"""How many requests the node's engine serves at once: from the context, the memory the model
runs in and the settings, with the reason the engine panel shows (a tiny real GGUF file)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cocoon_desktop.engine.models.capacity import COMPUTE_RESERVE_BYTES, KV_SHARE_OF_FREE_MEMORY
from cocoon_desktop.engine.models.model_library import ModelLibrary
from cocoon_desktop.node.config import NodeConfig, paths_under
from cocoon_desktop.node.engine_plan import EnginePlan, network_jobs_for, plan_engine
from tests.helpers.tiny_gguf import write_tiny_llama

GIB = 1024**3
CONTEXT = 1024
KV_PER_TOKEN = 2 * 2 * 2 * 16 * 2  # K and V x 2 layers x 2 KV heads x head size 16 x f16
PER_SEQUENCE = KV_PER_TOKEN * CONTEXT


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write_tiny_llama(tmp_path / "Tiny-Llama.F32.gguf")


def plan(tmp_path: Path, model: Path, *, jobs: int = 3, ram: int = 8 * GIB,
         vram: int | None = None, offload: bool = False, gpu_layers: int = -1) -> EnginePlan:
    config = NodeConfig(home=tmp_path / "home", model_path=model, max_active_requests=jobs,
                        context_tokens=CONTEXT, threads=2, gpu_layers=gpu_layers)
    library = ModelLibrary(paths_under(tmp_path / "home").ensure())
    return plan_engine(config, library, vram, offload, available_ram_bytes=ram)


def ram_fitting(model: Path, sequences: float) -> int:
    """Available RAM whose KV budget holds `sequences` sequences of CONTEXT tokens."""
    return (model.stat().st_size + COMPUTE_RESERVE_BYTES
            + math.ceil(sequences * PER_SEQUENCE / KV_SHARE_OF_FREE_MEMORY))


def test_enough_memory_gives_every_job_and_the_chat_a_sequence(tmp_path: Path,
                                                              model: Path) -> None:
    result = plan(tmp_path, model, jobs=3)
    assert result.settings.parallel_sequences == 4
    assert result.settings.context_tokens == 4 * CONTEXT
    assert result.network_jobs == 3
    assert result.settings.gpu_layers == 0  # CPU-only build
    assert "4 at once of 1024 tokens each, as set (3 network jobs and the chat)" in (
        result.capacity_note)
    assert "of RAM" in result.capacity_note


def test_tight_memory_serves_fewer_and_says_so(tmp_path: Path, model: Path) -> None:
    result = plan(tmp_path, model, jobs=3, ram=ram_fitting(model, 2.5))
    assert result.settings.parallel_sequences == 2
    assert result.settings.context_tokens == 2 * CONTEXT
    assert result.network_jobs == 1  # the worker announces what the engine can take
    assert "2 at once of 1024 tokens each, not 4" in result.capacity_note
    assert "Free memory or lower the context" in result.capacity_note


def test_no_room_for_one_sequence_shrinks_its_context(tmp_path: Path, model: Path) -> None:
    result = plan(tmp_path, model, jobs=3, ram=ram_fitting(model, 0))
    assert result.settings.parallel_sequences == 1
    assert result.settings.context_tokens == 512
    assert result.network_jobs == 1  # the chat shares the one sequence
    assert "one request at a time with 512 tokens" in result.capacity_note


def test_the_cache_is_counted_in_gpu_memory_when_the_model_runs_there(tmp_path: Path,
                                                                       model: Path) -> None:
    result = plan(tmp_path, model, jobs=2, ram=0, vram=8 * GIB, offload=True)
    assert result.settings.parallel_sequences == 3
    assert result.settings.gpu_layers == -1
    assert "of GPU memory" in result.capacity_note


def test_ram_counts_when_the_gpu_cannot_take_the_model(tmp_path: Path, model: Path) -> None:
    too_small = plan(tmp_path, model, jobs=2, vram=1024**2, offload=True)
    assert too_small.settings.parallel_sequences == 3
    assert "of RAM" in too_small.capacity_note
    kept_off = plan(tmp_path, model, jobs=2, vram=8 * GIB, offload=True, gpu_layers=0)
    assert "of RAM" in kept_off.capacity_note and kept_off.settings.gpu_layers == 0


def test_speculation_and_the_draft_model_reach_the_engine(tmp_path: Path, model: Path) -> None:
    assert plan(tmp_path, model).settings.speculative is True
    draft = write_tiny_llama(tmp_path / "draft.gguf", seed=1)
    config = NodeConfig(home=tmp_path / "home", model_path=model, context_tokens=CONTEXT,
                        threads=2, speculative=False, draft_model_path=draft)
    library = ModelLibrary(paths_under(tmp_path / "home").ensure())
    settings = plan_engine(config, library, None, False, available_ram_bytes=8 * GIB).settings
    assert (settings.speculative, settings.draft_model_path) == (False, draft.resolve())


def test_network_jobs_leave_the_chat_its_lane() -> None:
    assert [network_jobs_for(n) for n in (1, 2, 5)] == [1, 1, 4]
