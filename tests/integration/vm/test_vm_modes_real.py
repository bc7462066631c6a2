"""This machine's modes for real: TCG always; KVM only if a guest actually boots with it
(here nested KVM cannot run a guest: the detector must say so and not pick it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.vm.host import available_modes
from cocoon_desktop.vm.image import ImageManifest
from cocoon_desktop.vm.modes import VmMode, choose_mode, probe_boot
from cocoon_desktop.vm.qemu import probe_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_modes_here_and_kvm_only_when_a_guest_boots(vm_image: ImageManifest,
                                                          tmp_path: Path) -> None:
    modes = {m.mode: m for m in await available_modes(vm_image, cache=tmp_path)}
    assert modes[VmMode.TCG].available
    assert not modes[VmMode.TDX].available
    assert "cannot be a TDX guest" in modes[VmMode.TDX].reason  # Debian 12's kernel
    booted, _detail = await probe_boot(probe_command(vm_image, VmMode.KVM), timeout_s=20)
    assert modes[VmMode.KVM].available == booted
    if Path("/dev/kvm").exists() and not booted:
        assert "does not boot with it here" in modes[VmMode.KVM].reason
    assert choose_mode(tuple(modes.values())) is (VmMode.KVM if booted else VmMode.TCG)
    assert (tmp_path / "kvm-probe.json").is_file()  # remembered until the host reboots


async def test_the_probe_boot_runs_the_real_kernel_and_initrd_under_tcg(
        vm_image: ImageManifest) -> None:
    assert await probe_boot(probe_command(vm_image, VmMode.TCG), timeout_s=120) == (
        True, "it booted")
