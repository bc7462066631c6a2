"""The GPU monitor over the fake NVML: static facts, samples with units, n/a, absence, events."""

from __future__ import annotations

import threading
from pathlib import Path

import pynvml
import pytest

from cocoon_desktop.hardware.gpu.monitor import NullGpuMonitor, NvmlGpuMonitor, open_gpu_monitor
from cocoon_desktop.hardware.snapshots import (
    ClocksEventReason,
    GpuEvent,
    GpuEventSeverity,
    GpuProcessKind,
)
from tests.helpers.fake_nvml import FakeGpu, FakeNvml, GiB


def _pci_tree(root: Path, vendor: str = "0x10de") -> Path:
    entry = root / "bus" / "pci" / "devices" / "0000:2b:00.0"
    entry.mkdir(parents=True)
    (entry / "vendor").write_text(vendor)
    (entry / "class").write_text("0x030000")
    return root


def test_no_driver_and_no_card_is_a_calm_cpu_only_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    monitor = open_gpu_monitor(sys_root=tmp_path)
    assert isinstance(monitor, NullGpuMonitor)
    availability = monitor.availability()
    assert not availability.available
    assert availability.state == "library-missing"
    assert "No NVIDIA GPU found" in availability.summary
    assert availability.expected  # nothing is wrong: the UI says it calmly, once
    assert monitor.sample() == () and monitor.static() == ()
    assert monitor.read_energy() == (None, None)
    assert monitor.start_events(lambda event: None) == availability.summary


def test_a_card_without_its_driver_says_so(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    availability = open_gpu_monitor(sys_root=_pci_tree(tmp_path)).availability()
    assert "An NVIDIA GPU is present (PCI 0000:2b:00.0)" in availability.summary
    assert "Install the NVIDIA driver" in availability.fix
    assert not availability.expected  # a card without its driver is a problem to fix


def test_driver_updated_without_reboot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH).install(monkeypatch)
    availability = open_gpu_monitor(sys_root=tmp_path).availability()
    assert availability.state == "version-mismatch"
    assert "Reboot" in availability.fix


def test_static_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([FakeGpu.rtx_4090(), FakeGpu.h100()]).install(monkeypatch)
    monitor = open_gpu_monitor()
    assert isinstance(monitor, NvmlGpuMonitor)
    geforce, hopper = monitor.static()
    assert (geforce.name, geforce.brand, geforce.architecture) == (
        "NVIDIA GeForce RTX 4090", "GeForce", "Ada Lovelace")
    assert geforce.uuid == "GPU-4090-0000" and geforce.pci_bus_id == "00000000:01:00.0"
    assert geforce.cuda_driver_version == "12.4" and geforce.driver_version == "550.54.14"
    assert geforce.memory_total_bytes == 24 * GiB
    assert geforce.power_limit_default_w == 450.0
    assert (geforce.temperature_slowdown_c, geforce.temperature_shutdown_c) == (90, 95)
    assert (hopper.architecture, hopper.compute_capability, hopper.max_pcie_generation) == (
        "Hopper", "9.0", 5)
    assert monitor.availability().summary == "NVIDIA GeForce RTX 4090, NVIDIA H100 80GB HBM3"


def test_sample_units_and_decoded_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    gpu = fake.gpus[0]
    gpu.temperature_c, gpu.utilization_gpu_percent = 71, 97
    gpu.power_mw, gpu.energy_mj = 312_500, 1_234_567
    gpu.clocks_event_reasons = (pynvml.nvmlClocksEventReasonSwPowerCap
                                | pynvml.nvmlClocksEventReasonHwThermalSlowdown)
    gpu.grab_vram(pid=100, used_bytes=2 * GiB, kind="compute", sm_percent=90)
    gpu.grab_vram(pid=200, used_bytes=None, kind="graphics")
    (sample,) = open_gpu_monitor().sample()
    assert sample.temperature_c == 71 and sample.utilization_gpu_percent == 97
    assert sample.power_w == 312.5 and sample.power_limit_w == 450.0
    assert sample.energy_total_j == pytest.approx(1234.567)
    assert sample.memory_used_bytes == gpu.memory_used_bytes
    assert sample.memory_free_bytes == 24 * GiB - gpu.memory_used_bytes
    assert sample.clocks_event_words == ("power cap", "hardware thermal slowdown")
    assert sample.slowdown_reasons == ClocksEventReason.HW_THERMAL_SLOWDOWN
    assert sample.performance_state == 8 and (sample.pcie_generation, sample.pcie_width) == (4, 16)
    assert sample.ecc_corrected_errors is None  # GeForce: not supported, shown as n/a
    compute, graphics = sample.processes or ()
    assert (compute.pid, compute.kind, compute.memory_used_bytes,
            compute.sm_utilization_percent) == (100, GpuProcessKind.COMPUTE, 2 * GiB, 90)
    assert (graphics.pid, graphics.memory_used_bytes, graphics.sm_utilization_percent) == (
        200, None, 0)  # memory hidden by the driver; no load samples: idle


def test_unsupported_metrics_cost_nothing_after_the_first_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeNvml([FakeGpu.h100(missing={"nvmlDeviceGetProcessUtilization"})]).install(
        monkeypatch)
    monitor = open_gpu_monitor()
    samples = [monitor.sample()[0] for _ in range(5)]
    assert all(s.fan_speed_percent is None for s in samples)  # passively cooled card
    assert all(s.ecc_uncorrected_errors == 0 for s in samples)  # ECC works on data-centre cards
    assert fake.calls["nvmlDeviceGetFanSpeed"] == 1
    assert fake.calls["nvmlDeviceGetProcessUtilization"] == 1
    assert fake.calls["nvmlDeviceGetTemperature"] == 5


def test_energy_is_summed_over_gpus_and_unknown_if_one_lacks_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeNvml([FakeGpu.h100(), FakeGpu.h100(uuid="GPU-H100-0001")]).install(monkeypatch)
    monitor = open_gpu_monitor()
    fake.gpus[0].draw(300, 10)
    fake.gpus[1].draw(200, 10)
    assert monitor.read_energy() == (pytest.approx(5000 + 3000 + 5000 + 2000), 500.0)
    fake.gpus[1].unsupported.add("nvmlDeviceGetTotalEnergyConsumption")
    assert monitor.read_energy() == (None, 500.0)


def test_a_lost_gpu_shows_in_samples_and_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu()]).install(monkeypatch)
    monitor = open_gpu_monitor()
    fake.gpus[0].lost = True
    (sample,) = monitor.sample()
    assert sample.lost and sample.temperature_c is None
    assert monitor.availability().state == "gpu-lost"


def test_xid_events_arrive_from_the_background_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090(), FakeGpu.h100()]).install(monkeypatch)
    monitor = open_gpu_monitor()
    received: list[GpuEvent] = []
    arrived = threading.Event()

    def on_event(event: GpuEvent) -> None:
        received.append(event)
        arrived.set()

    assert monitor.start_events(on_event) is None
    fake.raise_xid(1, 79)
    assert arrived.wait(5)
    (event,) = received
    assert (event.gpu_index, event.gpu_uuid, event.xid) == (1, "GPU-H100-0000", 79)
    assert event.severity is GpuEventSeverity.CRITICAL and "fallen off the bus" in event.description
    monitor.close()
    assert fake.calls["nvmlEventSetFree"] == 1 and not fake.initialised


def test_no_event_support_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([FakeGpu(supported_events=0)]).install(monkeypatch)
    assert "No GPU here reports error" in (open_gpu_monitor().start_events(print) or "")
    fake = FakeNvml([FakeGpu()]).install(monkeypatch)
    fake.system_unsupported.add("nvmlEventSetCreate")
    assert "Windows and WSL" in (open_gpu_monitor().start_events(print) or "")


def test_an_older_driver_lists_processes_through_the_v2_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = FakeGpu(missing={"nvmlDeviceGetComputeRunningProcesses",
                           "nvmlDeviceGetGraphicsRunningProcesses"})
    old.grab_vram(pid=300, used_bytes=1 * GiB, kind="compute")
    fake = FakeNvml([old]).install(monkeypatch)
    monitor = open_gpu_monitor()
    for _ in range(3):
        (sample,) = monitor.sample()
        assert [(p.pid, p.memory_used_bytes) for p in sample.processes or ()] == [(300, 1 * GiB)]
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1  # mismatch remembered
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses_v2"] == 3


def test_only_the_lost_gpu_is_marked_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu.h100(), FakeGpu.h100(uuid="GPU-H100-0001")]).install(monkeypatch)
    monitor = open_gpu_monitor()
    fake.gpus[1].lost = True
    first, second = monitor.sample()
    assert not first.lost and first.temperature_c == 45
    assert second.lost and second.temperature_c is None
