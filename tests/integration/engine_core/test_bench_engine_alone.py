"""bench/engine.py's in-process sides run alone: the bench printed 1.67 x for the engine over
llama-cpp-python because each in-process side ran in the bench's own process after another had,
and llama.cpp's OpenMP threads of the first slowed the next by up to 40 % (`Llama` ran at
61 tokens/s there, 80-108 alone)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from cocoon_desktop.engine.types import EngineSettings
from tests.integration.engine_core.conftest import bundled_model_path

pytestmark = pytest.mark.engine
BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def engine_bench() -> ModuleType:
    # Imported by name from bench/ as the script's own imports are: a spawned process gets
    # this sys.path and finds the functions it is sent by their module's name.
    sys.path.insert(0, str(BENCH))
    return importlib.import_module("engine")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))  # native ones too (llama.cpp's OpenMP threads)


def _back_to(threads: int, timeout_s: float = 30) -> bool:
    """Whether this process is back to `threads` threads within `timeout_s` (a joined thread's
    OS thread ends a moment after its join returns)."""
    deadline = time.monotonic() + timeout_s
    while _threads() != threads:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("kind", ["baseline", "core"])
def test_an_in_process_side_runs_in_a_process_of_its_own(engine_bench: ModuleType,
                                                         kind: str) -> None:
    model = bundled_model_path()
    args = argparse.Namespace(model=model, context=512, threads=2, gpu_layers=0, tokens=8)
    settings = EngineSettings(model_path=model, model_name="bench@bench:bench",
                              context_tokens=512, parallel_sequences=1, threads=2)
    before = _threads()
    sample = engine_bench.in_process_side(kind, args, settings, "Count on: 1, 2, 3, 4, 5,")
    assert sample.chunks >= 2 and sample.decode_tokens_per_s > 0  # it ran, and was timed
    assert _back_to(before)  # no llama.cpp thread of it stays in this process
