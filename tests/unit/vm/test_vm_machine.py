"""The VM owner against a stand-in for QEMU (a script that prints a console and exits): boot
progress from the console, the failure reason, one VM per instance folder, a GPU not yet
given to vfio-pci."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.vm.console import failure_reason
from cocoon_desktop.vm.machine import VirtualMachine, VmError, VmState
from cocoon_desktop.vm.modes import VmMode
from cocoon_desktop.vm.qemu import vsock_cid
from tests.helpers.devnet_harness import wait_until
from tests.helpers.fake_sysfs import FakeSysfs
from tests.helpers.vm_config import guest_config
from tests.helpers.vm_image import fake_manifest, fake_qemu


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
    vm.status_changed.add(lambda s: states.append(s.state))
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


async def test_a_passed_through_card_is_locked_and_given_back_after_the_vm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCOON_VM_CACHE", str(tmp_path / "cache"))
    sysfs = FakeSysfs(tmp_path / "sys")
    sysfs.device("0000:17:00.0", driver="vfio-pci")
    given_back: list[str] = []

    async def restore(address: str) -> None:
        given_back.append(address)

    qemu = fake_qemu(tmp_path, "cocoon-boot: initrd started",
                     'echo "$@" > "$0.args"; exec sleep 30')
    first = machine(tmp_path, qemu, gpu="0000:17:00.0", restore_gpu=restore, sysfs=sysfs.root)
    await first.start()
    try:
        await wait_until(lambda: Path(qemu + ".args").exists(), 10)
        assert "vfio-pci,host=0000:17:00.0,bus=gpu-port" in Path(qemu + ".args").read_text()
        other = VirtualMachine(fake_manifest(tmp_path), VmMode.TCG, guest_config(),
                               tmp_path / "model.img", tmp_path / "vm-1", qemu_binary=qemu,
                               gpu="0000:17:00.0", sysfs=sysfs.root)
        with pytest.raises(VmError, match=r"Another VM already runs from the card 0000:17:00\.0"):
            await other.start()
        assert given_back == []
    finally:
        await first.stop(0)
    assert given_back == ["0000:17:00.0"]


def test_vsock_only_where_the_host_has_vhost_vsock(tmp_path: Path) -> None:
    assert vsock_cid(2, tmp_path / "vhost-vsock") is None
    (tmp_path / "vhost-vsock").touch()
    assert vsock_cid(2, tmp_path / "vhost-vsock") == 26
