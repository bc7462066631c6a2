"""Model load progress on real llama.cpp: llama.cpp's progress callback through the core, a
cancel midway that leaves nothing loaded, and the engine process's thinning of the events."""

from __future__ import annotations

from itertools import pairwise

import pytest

from cocoon_desktop.engine.process.inference import InferenceCore, LoadCancelled, SamplingParams
from cocoon_desktop.engine.process.load_progress import LoadWatch
from cocoon_desktop.engine.types import EngineSettings
from tests.integration.engine_core.big_model import write_big_model
from tests.integration.engine_core.core_harness import generate

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def big_settings(tmp_path_factory: pytest.TempPathFactory) -> EngineSettings:
    path = write_big_model(tmp_path_factory.mktemp("big-model"))
    return EngineSettings(model_path=path, model_name="big-tiny", context_tokens=512,
                          parallel_sequences=2, threads=2)


def test_progress_rises_per_tensor_and_ends_at_one(big_settings: EngineSettings) -> None:
    seen: list[float] = []

    def on_progress(fraction: float) -> bool:
        seen.append(fraction)
        return True

    with InferenceCore(big_settings, on_load_progress=on_progress) as core:
        _text, finished = generate(core, (1, 300, 301),
                                   SamplingParams(max_tokens=3, temperature=0))
    assert finished.finish_reason == "length"
    assert len(seen) > 50  # one call per tensor: 6 blocks x 9 + embeddings, norm
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0
    assert seen.count(1.0) == 1


def test_a_callback_saying_stop_cancels_the_load_midway(big_settings: EngineSettings) -> None:
    seen: list[float] = []

    def stop_halfway(fraction: float) -> bool:
        seen.append(fraction)
        return fraction < 0.5

    with pytest.raises(LoadCancelled, match=r"big-tiny-llama\.gguf was cancelled"):
        InferenceCore(big_settings, on_load_progress=stop_halfway)
    assert 0.5 <= seen[-1] < 1.0  # llama.cpp stopped at the refusal, not at the end
    # Nothing is left half-loaded: the same file loads and answers right after.
    with InferenceCore(big_settings) as core:
        assert core.info.capacity == 2


def test_a_failing_callback_does_not_cancel_the_load(big_settings: EngineSettings) -> None:
    calls: list[float] = []

    def broken(fraction: float) -> bool:
        calls.append(fraction)
        raise RuntimeError("a bug in the progress listener")

    with InferenceCore(big_settings, on_load_progress=broken) as core:
        assert core.info.capacity == 2
    assert calls[-1] == 1.0


def test_load_watch_thins_the_events_and_cancels(big_settings: EngineSettings) -> None:
    reported: list[float] = []
    watch = LoadWatch(reported.append, min_step=0.1)
    with InferenceCore(big_settings, on_load_progress=watch):
        pass
    assert reported[0] == 0.0 and reported[-1] == 1.0
    assert 3 <= len(reported) <= 11
    assert all(b - a >= 0.1 or b == 1.0 for a, b in pairwise(reported))

    cancelled = LoadWatch(lambda _f: None)
    cancelled.cancel()
    with pytest.raises(LoadCancelled):
        InferenceCore(big_settings, on_load_progress=cancelled)
