"""GPU passthrough checks and plans against fake sysfs trees; the helper's refusals; CC mode
through a fake NVML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cocoon_desktop.vm import gpu
from cocoon_desktop.vm.gpu import PassthroughError, SysfsWrite
from tests.helpers.fake_sysfs import FakeSysfs

GPU, AUDIO = "0000:17:00.0", "0000:17:00.1"


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    fake = FakeSysfs(tmp_path / "sys")
    fake.device(GPU)
    fake.device(AUDIO, class_code="0x040300", driver="snd_hda_intel")
    fake.device("0000:16:00.0", class_code="0x060400", driver="pcieport")  # its bridge
    return fake


def test_a_card_alone_in_its_group_can_go_and_the_plan_moves_each_function(
        sysfs: FakeSysfs) -> None:
    check = gpu.check_passthrough(GPU, sysfs.root)
    assert check.refusal is None and check.iommu_group == "12"
    assert [f.address for f in check.functions] == [GPU, AUDIO]
    plan = gpu.binding_plan(check, sysfs.root)
    devices = sysfs.root / "bus/pci/devices"
    assert plan == [
        SysfsWrite(devices / GPU / "driver_override", "vfio-pci"),
        SysfsWrite(devices / GPU / "driver/unbind", GPU),
        SysfsWrite(sysfs.root / "bus/pci/drivers_probe", GPU),
        SysfsWrite(devices / AUDIO / "driver_override", "vfio-pci"),
        SysfsWrite(devices / AUDIO / "driver/unbind", AUDIO),
        SysfsWrite(sysfs.root / "bus/pci/drivers_probe", AUDIO),
    ]
    gpu.apply(plan)
    assert (devices / GPU / "driver_override").read_text() == "vfio-pci"
    assert (sysfs.root / "bus/pci/drivers/nvidia/unbind").read_text() == GPU


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda s: s.device("0000:18:00.0", class_code="0x010802", driver="nvme"),
     "shares IOMMU group 12 with 0000:18:00.0"),
    (lambda s: s.monitor(GPU), "a monitor is connected to DP-1"),
])
def test_refusals_say_why(sysfs: FakeSysfs, setup: Callable[[FakeSysfs], object],
                          reason: str) -> None:
    setup(sysfs)
    check = gpu.check_passthrough(GPU, sysfs.root)
    assert check.refusal is not None and reason in check.refusal
    with pytest.raises(PassthroughError, match=reason.split(" ")[0]):
        gpu.binding_plan(check, sysfs.root)


def test_boot_display_iommu_off_missing_and_not_a_gpu(tmp_path: Path) -> None:
    fake = FakeSysfs(tmp_path / "sys")
    fake.device("0000:01:00.0", boot_vga=True, group="1")
    fake.device("0000:02:00.0", group=None)
    fake.device("0000:03:00.0", class_code="0x020000", driver="e1000e", group="3")
    cases = {"0000:01:00.0": "boot display device", "0000:02:00.0": "IOMMU is off",
             "0000:03:00.0": "not a graphics card", "0000:09:00.0": "no PCI device"}
    for address, reason in cases.items():
        refusal = gpu.check_passthrough(address, fake.root).refusal
        assert refusal is not None and reason in refusal, address


def test_restore_hands_the_card_back(tmp_path: Path) -> None:
    fake = FakeSysfs(tmp_path / "sys")
    fake.device(GPU, driver="vfio-pci")
    check = gpu.check_passthrough(GPU, fake.root)
    assert check.bound_to_vfio
    assert gpu.binding_plan(check, fake.root) == [
        SysfsWrite(fake.root / "bus/pci/devices" / GPU / "driver_override", "vfio-pci")]
    assert [w.value for w in gpu.restore_plan(check, fake.root)] == ["\n", GPU, GPU]


def test_helper_checks_without_root_and_refuses_to_bind_without_it(
        sysfs: FakeSysfs, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert gpu.main(["check", GPU], sysfs.root) == 0
    monkeypatch.setattr(gpu.os, "geteuid", lambda: 1000)
    assert gpu.main(["bind", GPU], sysfs.root) == 2
    assert "must run as root" in capsys.readouterr().err
    override = sysfs.root / "bus/pci/devices" / GPU / "driver_override"
    assert override.read_text() == "(null)\n"  # nothing changed
    assert gpu.helper_command("bind", GPU)[0] == "pkexec"
