"""A root filesystem changed by one byte does not boot: dm-verity stops the guest when the
changed block is read, and the host says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cocoon_desktop.vm.guest_config import GuestConfig, ModelDiskInfo
from cocoon_desktop.vm.image import ImageManifest, load_manifest
from cocoon_desktop.vm.machine import VirtualMachine, VmError, VmState
from cocoon_desktop.vm.modes import VmMode
from tests.helpers.devnet_harness import MODEL_NAME

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
INIT_TEXT = b"The verified root's init (PID 1)"  # a comment in vm/rootfs-init


def tampered_copy(image: ImageManifest, into: Path) -> ImageManifest:
    into.mkdir()
    for path in image.folder.iterdir():
        shutil.copyfile(path, into / path.name)
    root = into / image.root.path.name
    blob = bytearray(root.read_bytes())
    offset = blob.find(INIT_TEXT)
    assert offset > 0, "the root's init is not stored plainly in the image"
    blob[offset] ^= 0x20  # "T" becomes "t": one bit of a comment
    root.write_bytes(bytes(blob))
    return load_manifest(into)


async def test_a_changed_root_filesystem_does_not_boot(
        vm_image: ImageManifest, model_disk: tuple[Path, ModelDiskInfo], tmp_path: Path) -> None:
    image = tampered_copy(vm_image, tmp_path / "image")
    config = GuestConfig(mode="tcg", network="none", model_name=MODEL_NAME, model=model_disk[1])
    vm = VirtualMachine(image, VmMode.TCG, config, model_disk[0], tmp_path / "vm")
    await vm.start()
    try:
        with pytest.raises(VmError, match=r"integrity check \(dm-verity\)"):
            await vm.wait_ready(600)
    finally:
        await vm.stop(drain_timeout_s=0)
    assert vm.status.state is VmState.FAILED
    console = vm.console_file.read_text()
    assert "root verified" in console  # the initrd opened it; the bad block came later
    assert "verity" in console and "corrupted" in console
    assert "agent started" not in console
