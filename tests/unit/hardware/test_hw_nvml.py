"""The NVML query helper: lazy start, clear states for a failed start, n/a per metric."""

from __future__ import annotations

import logging
from pathlib import Path

import pynvml
import pytest

from cocoon_desktop.hardware.gpu.nvml import Nvml, NvmlState, nvidia_pci_devices
from tests.helpers.fake_nvml import FakeGpu, FakeNvml


@pytest.mark.parametrize(
    ("code", "state", "fix_words"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, NvmlState.LIBRARY_MISSING, "Install the NVIDIA"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, NvmlState.DRIVER_NOT_LOADED, "Reboot"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, NvmlState.VERSION_MISMATCH, "Reboot"),
        (pynvml.NVML_ERROR_NO_PERMISSION, NvmlState.NO_PERMISSION, "group"),
        (pynvml.NVML_ERROR_GPU_IS_LOST, NvmlState.GPU_LOST, "reboot"),
        (pynvml.NVML_ERROR_UNKNOWN, NvmlState.FAILED, "nvidia-smi"),
    ],
)
def test_a_failed_start_is_a_clear_state_with_a_fix(
    monkeypatch: pytest.MonkeyPatch, code: int, state: NvmlState, fix_words: str
) -> None:
    FakeNvml(init_error=code).install(monkeypatch)
    status = Nvml().status()
    assert status.state is state
    assert not status.ready
    assert status.summary
    assert fix_words in status.fix


def test_no_gpu_behind_a_running_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([]).install(monkeypatch)
    status = Nvml().status()
    assert status.state is NvmlState.NO_DEVICES
    assert "nvidia-smi" in status.fix


def test_start_is_lazy_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu()]).install(monkeypatch)
    nvml = Nvml()
    assert fake.calls["nvmlInit"] == 0
    assert nvml.status().ready
    assert nvml.status().ready
    assert fake.calls["nvmlInit"] == 1
    assert nvml.device_count() == 1


def test_unsupported_metric_is_none_asked_once_and_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeNvml([FakeGpu(unsupported={"nvmlDeviceGetFanSpeed"})]).install(monkeypatch)
    nvml = Nvml()
    nvml.status()
    handle = FakeNvml.handle_of(0)
    caplog.set_level(logging.INFO, logger="cocoon_desktop.hardware.gpu.nvml")
    results = [nvml.call("gpu0.fan", lambda: pynvml.nvmlDeviceGetFanSpeed(handle))
               for _ in range(3)]
    assert results == [None, None, None]
    assert fake.calls["nvmlDeviceGetFanSpeed"] == 1
    assert not nvml.supports("gpu0.fan")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "gpu0.fan" in messages[0] and "Not Supported" in messages[0]


def test_function_missing_from_an_older_driver_is_not_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gpu = FakeGpu(missing={"nvmlDeviceGetCurrentClocksEventReasons"})
    fake = FakeNvml([gpu]).install(monkeypatch)
    nvml = Nvml()
    nvml.status()
    handle = FakeNvml.handle_of(0)
    for _ in range(2):
        assert nvml.call("gpu0.reasons",
                         lambda: pynvml.nvmlDeviceGetCurrentClocksEventReasons(handle)) is None
    assert fake.calls["nvmlDeviceGetCurrentClocksEventReasons"] == 1


def test_a_passing_error_is_retried_but_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    FakeNvml([FakeGpu()]).install(monkeypatch)
    nvml = Nvml()
    nvml.status()
    attempts = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)
        return 42

    caplog.set_level(logging.INFO, logger="cocoon_desktop.hardware.gpu.nvml")
    assert [nvml.call("gpu0.power", flaky) for _ in range(3)] == [None, None, 42]
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING


def test_not_found_can_mean_nothing_to_report(monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    FakeNvml([FakeGpu()]).install(monkeypatch)
    nvml = Nvml()
    nvml.status()

    def empty() -> list[int]:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)

    caplog.set_level(logging.INFO)
    assert nvml.call("gpu0.load", empty, not_found=[]) == []
    assert nvml.supports("gpu0.load")
    assert caplog.records == []


def test_a_lost_gpu_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu()]).install(monkeypatch)
    nvml = Nvml()
    nvml.status()
    fake.gpus[0].lost = True
    handle = FakeNvml.handle_of(0)
    assert nvml.call("gpu0.temp", lambda: pynvml.nvmlDeviceGetTemperature(handle, 0)) is None
    assert nvml.gpu_lost


def test_shutdown_only_after_a_successful_start(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    nvml = Nvml()
    nvml.status()
    nvml.shutdown()
    assert fake.calls["nvmlShutdown"] == 0
    started = FakeNvml([FakeGpu()]).install(monkeypatch)
    nvml = Nvml()
    nvml.status()
    nvml.shutdown()
    assert started.calls["nvmlShutdown"] == 1 and not started.initialised


def test_nvidia_cards_are_found_on_the_pci_bus_without_a_driver(tmp_path: Path) -> None:
    devices = tmp_path / "bus" / "pci" / "devices"
    for address, vendor, device_class in [
        ("0000:00:02.0", "0x8086", "0x030000"),  # Intel graphics
        ("0000:01:00.0", "0x10de", "0x030000"),  # NVIDIA VGA
        ("0000:01:00.1", "0x10de", "0x040300"),  # NVIDIA audio: not a GPU
        ("0000:41:00.0", "0x10de", "0x030200"),  # NVIDIA 3D controller (data-centre cards)
    ]:
        entry = devices / address
        entry.mkdir(parents=True)
        (entry / "vendor").write_text(vendor + "\n")
        (entry / "class").write_text(device_class + "\n")
    assert nvidia_pci_devices(tmp_path) == ["0000:01:00.0", "0000:41:00.0"]
    assert nvidia_pci_devices(tmp_path / "missing") == []
