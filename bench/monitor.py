"""What GPU health monitoring at 1 Hz costs, against an idle loop measured in the same run.

    .venv/bin/python bench/monitor.py [--seconds 20] [--ticks 300] [--gpus 1]

Three figures, all process CPU time (every thread of this process, so other programs' load on a
shared machine does not count; it still adds noise through caches and scheduling):

1. baseline: an asyncio loop that wakes once a second and does nothing, for `--seconds`;
2. monitoring: the app's `HealthService.run()` at 1 Hz for `--seconds`: the fake NVML (this
   machine has no GPU; see below) with GPU processes listed, real psutil (system, the engine
   process tree, the game-list scan), the history, the protection policy, the energy meter, the
   Xid event thread waiting on its event set;
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
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cocoon_desktop.hardware.energy import EnergyMeter, MonitorEnergySource
from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.protection.control import ProtectionController
from cocoon_desktop.hardware.protection.policy import ProtectionPolicy
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from tests.helpers.fake_nvml import FakeGpu, FakeNvml, GiB
from tests.helpers.serving_control import RecordingControl


async def idle_loop(seconds: float) -> None:
    for _ in range(int(seconds)):
        await asyncio.sleep(1.0)


async def monitored_loop(service: HealthService, seconds: float) -> int:
    task = asyncio.create_task(service.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return len(service.history.series("system.cpu_percent", seconds + 5,
                                      time.time() + 1, max_points=100_000))


def cpu_share(work: Coroutine[Any, Any, None]) -> tuple[float, float]:
    """(CPU seconds used, wall seconds) while running the coroutine."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(work)
    return time.process_time() - cpu0, time.perf_counter() - wall0


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
    args = parser.parse_args()
    with pytest.MonkeyPatch.context() as patch:
        fake = FakeNvml([FakeGpu.h100(uuid=f"GPU-{i}") for i in range(args.gpus)]).install(patch)
        for gpu in fake.gpus:
            gpu.grab_vram(os.getpid(), 20 * GiB, kind="compute", sm_percent=90)
            gpu.grab_vram(1, 300 * 1024**2, kind="graphics", sm_percent=1)
        data_dir = Path.cwd()

        idle_cpu, idle_wall = cpu_share(idle_loop(args.seconds))
        service = make_service(data_dir)
        ticks_box: list[int] = []

        async def monitored() -> None:
            ticks_box.append(await monitored_loop(service, args.seconds))

        mon_cpu, mon_wall = cpu_share(monitored())
        service.close()

        service = make_service(data_dir)
        cpu0 = time.process_time()
        for _ in range(args.ticks):
            service.publish(service.tick())
        per_tick_ms = (time.process_time() - cpu0) / args.ticks * 1000
        service.close()

    idle_pct = idle_cpu / idle_wall * 100
    mon_pct = mon_cpu / mon_wall * 100
    print(f"GPUs (fake NVML): {args.gpus}; {ticks_box[0]} ticks in {mon_wall:.1f} s")
    print(f"baseline idle loop : {idle_pct:6.3f} % of one core ({idle_cpu * 1000:.1f} ms CPU "
          f"in {idle_wall:.1f} s)")
    print(f"monitoring at 1 Hz : {mon_pct:6.3f} % of one core ({mon_cpu * 1000:.1f} ms CPU "
          f"in {mon_wall:.1f} s)")
    print(f"cost of monitoring : {mon_pct - idle_pct:6.3f} % of one core over the baseline")
    print(f"per tick (back to back, {args.ticks}): {per_tick_ms:.3f} ms CPU = "
          f"{per_tick_ms / 10:.3f} % of one core at 1 Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
