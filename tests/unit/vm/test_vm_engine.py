"""The VM as the node's engine, against a stand-in QEMU: its start is `loading` with the boot's
progress, a failed guest is `crashed` with the console's reason (and not restarted), a failed
preparation says why, Cancel stops a booting VM."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.types import EngineSettings, EngineState
from cocoon_desktop.vm.machine import VirtualMachine, VmError, VmState
from cocoon_desktop.vm.modes import VmMode
from cocoon_desktop.vm.vm_engine import Progress, VmEngine
from tests.helpers.devnet_harness import wait_until
from tests.helpers.vm_config import guest_config
from tests.helpers.vm_image import fake_manifest, fake_qemu

SETTINGS = EngineSettings(model_path=Path("/models/model.gguf"), model_name="m@c:h")
CORRUPT = ("cocoon-boot: initrd started\ncocoon-boot: root verified (ee)\n"
           "device-mapper: verity: 254:0: data block 7 is corrupted\n"
           "Kernel panic - not syncing: dm-verity device corrupted")


def engine_on(tmp_path: Path, qemu: str) -> tuple[VmEngine, list[EngineStatus]]:
    async def prepare(progress: Progress) -> VirtualMachine:
        progress("checking the VM image.")
        return VirtualMachine(fake_manifest(tmp_path), VmMode.TCG, guest_config(),
                              tmp_path / "model.img", tmp_path / "vm", qemu_binary=qemu)
    engine = VmEngine(SETTINGS, prepare)
    seen: list[EngineStatus] = []
    engine.on_status(seen.append)
    return engine, seen


async def test_a_guest_that_fails_is_crashed_with_its_reason_after_its_boot_progress(
        tmp_path: Path) -> None:
    engine, seen = engine_on(tmp_path, fake_qemu(tmp_path, CORRUPT))
    await engine.start()
    with pytest.raises(EngineStartError, match=r"integrity check \(dm-verity\)"):
        await engine.wait_ready(30)
    loading = [s for s in seen if s.state is EngineState.LOADING]
    fractions = [s.load_fraction for s in loading if s.load_fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 0.25  # up to "root verified"
    assert loading[1].detail == "Confidential VM: checking the VM image."
    assert loading[-1].detail.startswith("Confidential VM (tcg): ")
    assert all(s.sandbox is not None and s.settings == SETTINGS for s in loading)
    last = engine.status
    assert last.state is EngineState.CRASHED and last.gave_up and last.endpoint is None
    assert "Emulated virtual machine (TCG)" in last.sandbox.detail  # type: ignore[union-attr]
    await engine.stop()
    assert engine.status.state is EngineState.STOPPED


async def test_a_preparation_that_fails_says_why(tmp_path: Path) -> None:
    async def prepare(progress: Progress) -> VirtualMachine:
        raise VmError("The VM image cannot be built: the pinned package x is gone.")
    engine = VmEngine(SETTINGS, prepare)
    await engine.start()
    with pytest.raises(EngineStartError, match="the pinned package x is gone"):
        await engine.wait_ready(30)
    assert engine.status.state is EngineState.CRASHED and engine.vm is None


async def test_cancel_stops_a_booting_vm(tmp_path: Path) -> None:
    engine, _ = engine_on(tmp_path, fake_qemu(tmp_path, "cocoon-boot: initrd started",
                                              "exec sleep 60"))
    await engine.start()
    await wait_until(lambda: engine.vm is not None
                     and engine.vm.status.state is VmState.BOOTING, 30)
    assert await engine.cancel_load() is True
    assert engine.status.state is EngineState.STOPPED
    assert engine.vm is not None and not engine.vm.running
    assert await engine.cancel_load() is False  # nothing is loading now
