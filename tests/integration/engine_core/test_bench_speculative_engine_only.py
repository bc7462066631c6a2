"""bench/speculative.py --engine-only: what scripts/gpu-check.sh runs on an NVIDIA GPU, where no
llama-server is built; here on the CPU, one short round, so that the GPU check's one run on a
lent machine does not fail on the bench itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine
BENCH = Path(__file__).resolve().parents[3] / "bench" / "speculative.py"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          timeout=600, check=False)


def test_engine_only_measures_both_engine_sides_and_no_server() -> None:
    done = run_bench("--engine-only", "--levels", "1", "--rounds", "1", "--tokens", "8",
                     "--workloads", "chat")
    assert done.returncode == 0, done.stderr[-3000:]
    row = next(line.split() for line in done.stdout.splitlines()
               if line.split()[:2] == ["chat", "1"])
    assert float(row[2]) > 0 and float(row[3]) > 0  # engine+spec and engine, tokens/s
    assert row[4:6] == ["-", "-"]  # no llama-server sides
    assert "engine's own work" in done.stdout
    assert "pass_curve" not in done.stdout and "passes of N=" not in done.stdout


def test_gpu_layers_without_engine_only_is_refused_before_anything_runs() -> None:
    done = run_bench("--gpu-layers", "-1")
    assert done.returncode == 2
    assert "--gpu-layers needs --engine-only" in done.stderr
