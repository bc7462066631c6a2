"""VRAM fit and the layer plan; the offload report's warnings."""

from __future__ import annotations

import dataclasses

from cocoon_desktop.engine.models.gguf_meta import GgufMetadata
from cocoon_desktop.engine.models.offload import (
    MIB,
    RESERVE_BYTES,
    estimate_memory,
    plan_offload,
)

GIB = 1024 * MIB
LAYER_BYTES = 200 * MIB

# An 8B-class model: 32 layers of 200 MiB, 8 KV heads of 128, a 128k vocabulary.
EIGHT_B = GgufMetadata(
    file_size_bytes=6_900 * MIB, gguf_version=3, architecture="llama", name="Eight B",
    basename=None, version=None, finetune=None, size_label="8B", organization=None,
    parameter_count=8_000_000_000, context_length_tokens=32768, block_count=32,
    embedding_length=4096, head_count=32, head_count_kv=8, key_length=128, value_length=128,
    vocab_size=128_000, file_type=15, quantization="Q4_K_M", chat_template_present=True,
    tensor_bytes=32 * LAYER_BYTES + 500 * MIB, layer_tensor_bytes=(LAYER_BYTES,) * 32,
    output_tensor_bytes=250 * MIB,
)


def test_estimate_adds_weights_kv_cache_and_buffers() -> None:
    estimate = estimate_memory(EIGHT_B, 8192)
    assert estimate.weights_bytes == 32 * LAYER_BYTES + 250 * MIB
    assert estimate.kv_cache_bytes == 8 * (128 + 128) * 2 * 8192 * 32  # = 1 GiB
    assert estimate.kv_cache_bytes == GIB
    assert estimate.kv_cache_known
    assert estimate.total_bytes == (
        estimate.weights_bytes + estimate.kv_cache_bytes + estimate.buffers_bytes
    )
    # A longer context needs more KV cache and bigger attention buffers.
    longer = estimate_memory(EIGHT_B, 16384)
    assert longer.kv_cache_bytes == 2 * estimate.kv_cache_bytes
    assert longer.buffers_bytes > estimate.buffers_bytes


def test_a_cpu_only_build_offloads_nothing_and_says_how_to_fix_it() -> None:
    plan = plan_offload(EIGHT_B, 8192, free_vram_bytes=80 * GIB, supports_gpu_offload=False)
    assert (plan.gpu_layers, plan.offloaded_layers) == (0, 0)
    assert "CPU-only" in plan.reason and "CUDA toolkit" in plan.reason
    assert "`" not in plan.reason and "=" not in plan.reason  # words, never a shell command


def test_no_gpu_offloads_nothing() -> None:
    for supports in (True, False):  # no NVIDIA card: nothing to rebuild, nothing to fix
        plan = plan_offload(EIGHT_B, 8192, free_vram_bytes=None, supports_gpu_offload=supports)
        assert plan.gpu_layers == 0 and "No NVIDIA GPU" in plan.reason
        assert "CUDA" not in plan.reason


def test_a_big_gpu_takes_every_layer() -> None:
    plan = plan_offload(EIGHT_B, 8192, free_vram_bytes=24 * GIB, supports_gpu_offload=True)
    assert plan.gpu_layers == -1 and plan.fits_fully
    assert plan.offloaded_layers == plan.total_layers == 32
    assert plan.reason.startswith("All 32 layers fit") and "24.0 GiB free" in plan.reason


def test_the_fit_boundary_is_exact() -> None:
    need = estimate_memory(EIGHT_B, 8192).total_bytes + RESERVE_BYTES
    assert plan_offload(EIGHT_B, 8192, need, True).gpu_layers == -1
    short = plan_offload(EIGHT_B, 8192, need - 1, True)
    # Every layer still fits; the output projection (n_gpu_layers = n_layer + 1) does not.
    assert short.gpu_layers == 32 and not short.fits_fully
    assert "but not the output layer" in short.reason


def test_a_larger_reserve_keeps_the_users_vram_headroom_free() -> None:
    need = estimate_memory(EIGHT_B, 8192).total_bytes + RESERVE_BYTES
    assert plan_offload(EIGHT_B, 8192, need, True, reserve_bytes=RESERVE_BYTES).fits_fully
    headroom = 2 * GIB
    assert not plan_offload(EIGHT_B, 8192, need, True, reserve_bytes=headroom).fits_fully
    assert plan_offload(EIGHT_B, 8192, need - RESERVE_BYTES + headroom, True,
                        reserve_bytes=headroom).fits_fully


def test_a_small_gpu_takes_the_layers_that_fit() -> None:
    free = 6 * GIB
    estimate = estimate_memory(EIGHT_B, 8192)
    per_layer = LAYER_BYTES + estimate.kv_cache_bytes // 32
    expected = (free - RESERVE_BYTES - estimate.buffers_bytes) // per_layer
    plan = plan_offload(EIGHT_B, 8192, free, supports_gpu_offload=True)
    assert 0 < expected < 32
    assert plan.gpu_layers == plan.offloaded_layers == expected
    assert f"Only {expected} of 32 layers fit" in plan.reason
    assert f"the other {32 - expected} run on the CPU" in plan.reason
    assert "Q4_K_M" in plan.reason and "8192 tokens" in plan.reason


def test_a_longer_context_leaves_room_for_fewer_layers() -> None:
    layers = [plan_offload(EIGHT_B, ctx, 6 * GIB, True).gpu_layers for ctx in (2048, 8192, 16384)]
    assert layers[0] > layers[1] > layers[2] > 0


def test_too_little_vram_for_one_layer() -> None:
    plan = plan_offload(EIGHT_B, 8192, free_vram_bytes=1 * GIB, supports_gpu_offload=True)
    assert plan.gpu_layers == 0 and plan.reason.startswith("Not even one layer fits")
    assert "closing other programs" in plan.reason


def test_unequal_layers_are_counted_from_the_last_one() -> None:
    # llama.cpp offloads the last N layers: a huge first layer must not count against them.
    meta = dataclasses.replace(
        EIGHT_B, block_count=4, layer_tensor_bytes=(10 * GIB, MIB, MIB, MIB), head_count_kv=None
    )
    estimate = estimate_memory(meta, 512)
    assert not estimate.kv_cache_known
    free = estimate.buffers_bytes + RESERVE_BYTES + 3 * MIB
    plan = plan_offload(meta, 512, free, True)
    assert plan.gpu_layers == 3
    assert "KV cache not counted" in plan.reason
