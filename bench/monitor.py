"""What GPU health monitoring at 1 Hz costs, against an idle loop measured in the same run.

    .venv/bin/python bench/monitor.py [--seconds 20] [--ticks 300] [--gpus 1] [--rounds 2]

Three figures, all process CPU time (every thread of this process, so other programs' load on a
shared machine does not count; it still adds noise through caches and scheduling):

1. baseline: an asyncio loop that wakes once a second and does nothing;
2. monitoring: the app's `HealthService.run()` at 1 Hz: the fake NVML (this machine has no GPU;
   see below) with GPU processes listed, real psutil (system, the engine process tree, the
   game-list scan), the history, the protection policy, the energy meter, the Xid event thread
   waiting on its event set;
   1 and 2 run alone, each in its own event loop, in `--rounds` ABBA rounds (bench/abba.py), each
   run timing `--seconds` / (2 x rounds) ticks from just after its first tick (the service is
   built and closed outside the timed region); the cost is the per-round difference, median and
   range;
3. per tick: `tick()` + `publish()` back to back `--ticks` times, as milliseconds per tick and
   the share of one core that is at 1 Hz.

The fake NVML answers from Python in microseconds, where a real driver takes tens to hundreds of
microseconds per call (about 20 calls per GPU per tick): on a real GPU, add roughly 1-5 ms per
tick per GPU, still well under 1 % of a core at 1 Hz.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abba import abba, setting, spread

from cocoon_desktop.hardware.energy import EnergyMeter, MonitorEnergySource
from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.protection.control import ProtectionController
from cocoon_desktop.hardware.protection.policy import ProtectionPolicy
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from tests.helpers.fake_nvml import FakeGpu, FakeNvml, GiB
from tests.helpers.serving_control import RecordingControl


async def idle_loop(on_tick: Callable[[object], None]) -> None:
    while True:
        on_tick(None)
        await asyncio.sleep(1.0)


async def cpu_percent(ticks: int, service: HealthService | None) -> float:
    """Process CPU as % of one core over `ticks` 1 Hz ticks of the service (or of an idle loop),
    timed from just after the first tick to just after tick `ticks` + 1."""
    seen: list[tuple[float, float]] = []
    done = asyncio.Event()

    def on_tick(_tick: object) -> None:
        seen.append((time.process_time(), time.perf_counter()))
        if len(seen) == ticks + 1:
            done.set()

    if service is None:
        task = asyncio.create_task(idle_loop(on_tick))
    else:
        service.add_tick_listener(on_tick)
        task = asyncio.create_task(service.run())
    await done.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    (cpu0, wall0), (cpu1, wall1) = seen[0], seen[ticks]
    return (cpu1 - cpu0) / (wall1 - wall0) * 100


def monitored(ticks: int, data_dir: Path) -> float:
    service = make_service(data_dir)
    try:
        return asyncio.run(cpu_percent(ticks, service))
    finally:
        service.close()


def make_service(data_dir: Path) -> HealthService:
    monitor = open_gpu_monitor()
    control = RecordingControl()
    return HealthService(
        monitor,
        SystemSampler(data_dir, os.getpid()),
        games=ProcessNameWatch(["steam", "Cyberpunk2077.exe", "eldenring.exe"], interval_s=5.0),
        protection=ProtectionController(ProtectionPolicy(), control, lambda note: None),
        energy=EnergyMeter(MonitorEnergySource(monitor)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--gpus", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with pytest.MonkeyPatch.context() as patch:
        fake = FakeNvml([FakeGpu.h100(uuid=f"GPU-{i}") for i in range(args.gpus)]).install(patch)
        for gpu in fake.gpus:
            gpu.grab_vram(os.getpid(), 20 * GiB, kind="compute", sm_percent=90)
            gpu.grab_vram(1, 300 * 1024**2, kind="graphics", sm_percent=1)
        data_dir = Path.cwd()

        ticks = max(1, round(args.seconds / (2 * args.rounds)))
        with setting():
            share = abba(args.rounds, lambda: asyncio.run(cpu_percent(ticks, None)),
                         lambda: monitored(ticks, data_dir))
            service = make_service(data_dir)
            cpu0 = time.process_time()
            for _ in range(args.ticks):
                service.publish(service.tick())
            per_tick_ms = (time.process_time() - cpu0) / args.ticks * 1000
            service.close()
            print(f"GPUs (fake NVML): {args.gpus}; {ticks} ticks timed per run, "
                  f"{2 * args.rounds} runs per side")
            print(f"baseline idle loop : {share.median_a():6.3f} % of one core (median)")
            print(f"monitoring at 1 Hz : {share.median_b():6.3f} % of one core (median)")
            print(f"cost of monitoring : {spread(share.differences(), '.3f')} % of one core "
                  "over the baseline")
            print(f"per tick (back to back, {args.ticks}): {per_tick_ms:.3f} ms CPU = "
                  f"{per_tick_ms / 10:.3f} % of one core at 1 Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
