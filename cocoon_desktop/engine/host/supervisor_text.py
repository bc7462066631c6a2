"""The supervisor's words: why the engine crashed, and what the user should know while it runs."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import REBUILD_WITH_CUDA, EngineSettings, SandboxStatus

if TYPE_CHECKING:
    from cocoon_desktop.engine.host.launcher import EngineProcess

BWRAP_SIGNAL_BASE = 128  # bubblewrap exits with 128 + N when the engine died of signal N


def crash_text(exit_code: int, process: EngineProcess) -> str:
    """One sentence: how the process ended, and its last log line when there is one."""
    signum = -exit_code if exit_code < 0 else None
    if process.plan.kind == "bwrap" and exit_code > BWRAP_SIGNAL_BASE:
        signum = exit_code - BWRAP_SIGNAL_BASE
    if signum is not None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        how = f"it was killed by {name}"
        if signum == signal.SIGKILL:
            how += " (out of memory, or killed by hand)"
    else:
        how = f"it exited with status {exit_code}"
    last = process.stderr_tail[-1] if process.stderr_tail else ""
    return f"{how}." + (f" Last log line: {last[:300]}" if last else "")


def status_warnings(settings: EngineSettings, stats: EngineStats | None,
                    sandbox: SandboxStatus | None) -> tuple[str, ...]:
    """Loud facts the user must see while the engine runs (CPU fallback, no isolation)."""
    warnings = []
    if stats is not None and settings.gpu_layers != 0 and stats.gpu_layers_offloaded == 0:
        if not stats.supports_gpu_offload:
            warnings.append("The model runs on the CPU: this llama.cpp build cannot use the GPU. "
                            + REBUILD_WITH_CUDA)
        else:
            warnings.append("The model runs on the CPU although GPU layers were asked for: no "
                            "layer fit on the GPU. Free GPU memory or choose a smaller model.")
    if sandbox is not None and not sandbox.network_isolated:
        warnings.append(f"The engine is not isolated from the network. {sandbox.detail}")
    return tuple(warnings)
