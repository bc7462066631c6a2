"""The VM owner against a stand-in for QEMU (a script that prints a console and exits): boot
progress from the console, the failure reason, one VM per instance folder, a GPU not yet
given to vfio-pci."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.vm.machine import VirtualMachine, VmError, VmState, failure_reason
from cocoon_desktop.vm.modes import VmMode
from tests.helpers.vm_config import guest_config
from tests.helpers.vm_image import fake_manifest


def fake_qemu(tmp_path: Path, console: str, then: str = "exit 0") -> str:
    script = tmp_path / "fake-qemu"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{console}\nEOF\n{then}\n")
    script.chmod(0o755)
    return str(script)


def machine(tmp_path: Path, qemu: str, **options: object) -> VirtualMachine:
    return VirtualMachine(fake_manifest(tmp_path), VmMode.TCG, guest_config(),
                          tmp_path / "model.img", tmp_path / "vm", qemu_binary=qemu,
                          **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("tail", "reason"), [
    (["cocoon-boot: failed: no virtio disk with the serial 'root'"],
     "failed to start: no virtio disk"),
    (["device-mapper: verity: 254:0: data block 7 is corrupted",
      "Kernel panic - not syncing: dm-verity device corrupted"], "integrity check (dm-verity)"),
    (["Kernel panic - not syncing: Attempted to kill init!"], "kernel panicked"),
    (["qemu-system-x86_64: -drive: Could not open 'x'"], "QEMU exited: qemu-system"),
])
def test_failure_reasons(tail: list[str], reason: str) -> None:
    assert reason in failure_reason(tail)


async def test_a_guest_that_panics_on_a_bad_block_fails_with_the_reason(tmp_path: Path) -> None:
    console = ("cocoon-boot: initrd started\ncocoon-boot: root verified (ee)\n"
               "device-mapper: verity: 254:0: data block 7 is corrupted\n"
               "Kernel panic - not syncing: dm-verity device corrupted")
    vm = machine(tmp_path, fake_qemu(tmp_path, console))
    states: list[VmState] = []
    vm.on_status(lambda s: states.append(s.state))
    await vm.start()
    with pytest.raises(VmError, match=r"dm-verity"):
        await vm.wait_ready(30)
    await vm.stop(0)
    assert states[:2] == [VmState.STARTING, VmState.BOOTING] and states[-1] is VmState.FAILED
    assert "data block 7 is corrupted" in vm.console_file.read_text()
    assert not (tmp_path / "vm/channel-token").exists()
    config_disk = (tmp_path / "vm/config.img").read_bytes()
    assert config_disk.rstrip(b"\0") == guest_config().to_bytes()


async def test_one_vm_per_instance_folder(tmp_path: Path) -> None:
    first = machine(tmp_path, fake_qemu(tmp_path, "cocoon-boot: initrd started", "sleep 30"))
    await first.start()
    try:
        second = machine(tmp_path, fake_qemu(tmp_path, ""))
        with pytest.raises(VmError, match="Another VM already runs"):
            await second.start()
    finally:
        await first.stop(0)
    assert first.status.state is VmState.STOPPED and first.status.stopped_cleanly is False


async def test_a_gpu_not_bound_to_vfio_is_not_started(tmp_path: Path) -> None:
    vm = machine(tmp_path, fake_qemu(tmp_path, ""), gpu="0000:99:00.0")
    with pytest.raises(VmError, match=r"not bound to vfio-pci yet: ask the user, then run "
                       r"pkexec"):
        await vm.start()
