"""Energy per request as the node records it: the GPU's, and only when the GPU did the work.

The hardware area's `EnergyMeter` attributes the GPU's measured energy to the requests running.
When the engine runs the model on the CPU (a CPU-only llama.cpp build, or no layer fits on the
GPU), the GPU's energy during a request is not what the request cost: the CPU did the work and
no portable counter measures it. Such a request's energy is unknown (None, stored as NULL and
shown as "—"), never the idle GPU's joules and never 0 J.
"""

from __future__ import annotations

from collections.abc import Callable

from cocoon_desktop.hardware.energy import EnergyMeter, EnergySource


class RequestEnergyMeter(EnergyMeter):
    def __init__(self, source: EnergySource, gpu_runs_model: Callable[[], bool]) -> None:
        super().__init__(source)
        self._gpu_runs_model = gpu_runs_model

    def finish(self, request_id: str) -> float | None:
        joules = super().finish(request_id)
        return joules if self._gpu_runs_model() else None
