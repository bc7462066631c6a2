"""The health service's own loop: ticks on time, Xid events from the NVML thread reach the
policy on the loop, energy per request from the ticks' counters."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from pathlib import Path

import pytest

from cocoon_desktop.hardware.energy import EnergyMeter, MonitorEnergySource
from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.protection.control import ProtectionController
from cocoon_desktop.hardware.protection.policy import Notification, ProtectionPolicy
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.snapshots import GpuEvent, HealthTick
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from tests.helpers.fake_nvml import FakeGpu, FakeNvml
from tests.helpers.serving_control import RecordingControl


async def wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_an_xid_stops_the_engine_and_tells_the_user(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    fake = FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    control = RecordingControl()
    notes: list[Notification] = []
    events: list[GpuEvent] = []
    ticks: list[HealthTick] = []
    service = HealthService(
        open_gpu_monitor(), SystemSampler(tmp_path, os.getpid()), interval_s=0.02,
        protection=ProtectionController(ProtectionPolicy(), control, notes.append),
    )
    service.add_event_listener(events.append)
    service.add_tick_listener(ticks.append)
    task = asyncio.create_task(service.run())
    try:
        await wait_for(lambda: len(ticks) >= 3)
        assert service.events_unavailable is None
        fake.raise_xid(0, 79)
        await wait_for(lambda: control.calls)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        service.close()
    assert control.calls == ["stop"]
    assert "GPU 0 reported xid 79: GPU has fallen off the bus" in control.reasons[0]
    assert [n.severity for n in notes] == ["critical"]
    assert events[0].xid == 79 and service.events == events
    assert all(a.monotonic_s < b.monotonic_s for a, b in itertools.pairwise(ticks))
    assert not fake.initialised  # close() released NVML


async def test_a_program_fault_xid_is_only_recorded(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    control = RecordingControl()
    service = HealthService(
        open_gpu_monitor(), SystemSampler(tmp_path), interval_s=0.02,
        protection=ProtectionController(ProtectionPolicy(), control, lambda note: None),
    )
    task = asyncio.create_task(service.run())
    try:
        await wait_for(lambda: service.latest is not None)
        fake.raise_xid(0, 45)
        await wait_for(lambda: service.events)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        service.close()
    assert control.calls == []


def test_energy_per_request_from_the_ticks(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    fake = FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    monitor = open_gpu_monitor()
    meter = EnergyMeter(MonitorEnergySource(monitor))
    service = HealthService(monitor, SystemSampler(tmp_path), energy=meter)
    service.publish(service.tick())
    meter.start("req-1")
    for _ in range(3):
        fake.gpus[0].draw(watts=400, seconds=1)
        service.publish(service.tick())
    fake.gpus[0].draw(watts=400, seconds=0.5)
    assert meter.finish("req-1") == pytest.approx(1400.0)
    assert meter.session_energy_j == pytest.approx(1400.0)


async def test_an_unexpected_failure_does_not_end_monitoring(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    real_temperature = fake.nvmlDeviceGetTemperature
    failures = [RuntimeError("the driver returned garbage")]

    def flaky_temperature(handle: object, sensor: int) -> int:
        if failures:
            raise failures.pop()
        return real_temperature(handle, sensor)

    monkeypatch.setattr("pynvml.nvmlDeviceGetTemperature", flaky_temperature)
    ticks: list[HealthTick] = []
    service = HealthService(open_gpu_monitor(), SystemSampler(tmp_path), interval_s=0.02)
    service.add_tick_listener(ticks.append)
    task = asyncio.create_task(service.run())
    try:
        await wait_for(lambda: len(ticks) >= 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        service.close()
    assert ticks[0].gpus[0].temperature_c == 45
    assert "Health tick failed (1 so far)" in caplog.text


async def test_a_tick_leaves_the_loop_only_when_a_read_can_block(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a GPU driver, engine or game list a tick is a few /proc reads: it runs on the
    loop's thread (the pool's round trip each second was a tenth of the idle app's CPU). NVML
    can stall on a wedged GPU, so with a GPU every tick runs on the pool."""
    threads: list[str] = []

    async def ticks_of(service: HealthService) -> list[str]:
        real_tick = service.tick

        def tick() -> HealthTick:
            threads.append(threading.current_thread().name)
            return real_tick()

        service.tick = tick  # type: ignore[method-assign]
        task = asyncio.create_task(service.run())
        try:
            await wait_for(lambda: len(threads) >= 3)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            service.close()
        seen = list(threads)
        threads.clear()
        return seen

    loop_thread = threading.current_thread().name
    no_gpu = open_gpu_monitor()  # this machine has no NVIDIA driver
    assert not no_gpu.reads_block
    idle = await ticks_of(HealthService(no_gpu, SystemSampler(tmp_path), interval_s=0.02))
    assert set(idle) == {loop_thread}
    watching = HealthService(no_gpu, SystemSampler(tmp_path), interval_s=0.02,
                             games=ProcessNameWatch(["steam"]))
    assert loop_thread not in await ticks_of(watching)
    FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    with_gpu = await ticks_of(HealthService(open_gpu_monitor(), SystemSampler(tmp_path),
                                            interval_s=0.02))
    assert loop_thread not in with_gpu
