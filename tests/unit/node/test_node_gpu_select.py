"""One worker per GPU: the GPU named in any usual way, and a monitor that sees only that card
(the fake NVML stands in for the driver this machine lacks)."""

from __future__ import annotations

import threading
import time

import pytest

from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.snapshots import GpuEvent
from cocoon_desktop.node.gpu_select import (
    GpuSelectError,
    SelectedGpuMonitor,
    choose_gpu,
    pci_key,
)
from tests.helpers.fake_nvml import FakeGpu, FakeNvml


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    return FakeNvml([
        FakeGpu.rtx_4090(uuid="GPU-aaaa-0000", pci_bus_id="00000000:01:00.0"),
        FakeGpu.rtx_4090(uuid="GPU-bbbb-1111", pci_bus_id="00000000:41:00.0",
                         temperature_c=70),
    ]).install(monkeypatch)


def test_pci_addresses_in_every_spelling() -> None:
    assert pci_key("0000:41:00.0") == pci_key("00000000:41:00.0") == pci_key("41:00.0")
    assert pci_key("0000:AB:00.00") == (0, 0xAB, 0, 0)
    assert pci_key("GPU-1") is None and pci_key("41:00") is None


@pytest.mark.parametrize("spec", ["0000:41:00.0", "41:00.0", "1", "GPU-bbbb-1111",
                                  "gpu-BBBB-1111"])
def test_the_gpu_is_found_however_it_is_named(two_gpus: FakeNvml, spec: str) -> None:
    choice = choose_gpu(open_gpu_monitor(), spec, instance=0)
    assert choice is not None and choice.index == 1
    assert choice.engine_environment == {"CUDA_VISIBLE_DEVICES": "GPU-bbbb-1111"}


def test_without_a_setting_each_instance_takes_its_own_gpu(two_gpus: FakeNvml) -> None:
    monitor = open_gpu_monitor()
    assert [choose_gpu(monitor, "", n).index for n in (0, 1)] == [0, 1]  # type: ignore[union-attr]
    assert choose_gpu(monitor, "all", 1) is None
    with pytest.raises(GpuSelectError, match="There is no GPU number 2") as caught:
        choose_gpu(monitor, "", 2)
    assert "GPU-aaaa-0000" in str(caught.value) and "00000000:41:00.0" in str(caught.value)


def test_a_single_gpu_serves_instance_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    choice = choose_gpu(open_gpu_monitor(), "", 0)
    assert choice is not None and choice.index == 0


def test_wrong_names_and_missing_gpus(two_gpus: FakeNvml) -> None:
    monitor = open_gpu_monitor()
    with pytest.raises(GpuSelectError, match=r"There is no GPU 0000:02:00\.0"):
        choose_gpu(monitor, "0000:02:00.0", 0)
    with pytest.raises(GpuSelectError, match="is not a GPU"):
        choose_gpu(monitor, "the big one", 0)
    with pytest.raises(GpuSelectError, match="is not a GPU"):  # isdigit(), yet int() raised
        choose_gpu(monitor, "\u00b2", 0)


def test_no_driver_means_the_cpu_unless_a_gpu_was_asked_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    monitor = open_gpu_monitor()
    assert choose_gpu(monitor, "", 3) is None
    with pytest.raises(GpuSelectError, match="no NVIDIA GPU can be read"):
        choose_gpu(monitor, "0000:01:00.0", 0)


def test_the_selected_monitor_sees_only_its_card(two_gpus: FakeNvml) -> None:
    monitor = open_gpu_monitor()
    choice = choose_gpu(monitor, "1", 0)
    assert choice is not None
    mine = SelectedGpuMonitor(monitor, choice)
    assert [g.uuid for g in mine.static()] == ["GPU-bbbb-1111"]
    [sample] = mine.sample()
    assert sample.temperature_c == 70
    two_gpus.gpus[1].draw(watts=200, seconds=10)
    two_gpus.gpus[0].draw(watts=400, seconds=10)
    energy, power = mine.read_energy()
    assert power == pytest.approx(200) and energy == pytest.approx(
        two_gpus.gpus[1].energy_mj / 1000)
    assert "GPU 1" in mine.availability().summary
    seen: list[GpuEvent] = []
    arrived = threading.Event()
    assert mine.start_events(lambda e: (seen.append(e), arrived.set())) is None
    two_gpus.raise_xid(0, 79)  # the other worker's card: not ours
    two_gpus.raise_xid(1, 48)
    assert arrived.wait(10)
    time.sleep(0.3)
    mine.close()
    assert [(e.gpu_index, e.xid) for e in seen] == [(1, 48)]
