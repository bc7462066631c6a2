"""The guest's view of what the host attached: disks by their virtio serial, the channel token
in QEMU's fw_cfg, the model disk opened through dm-verity (paths injectable for tests)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from cocoon_desktop.vm.disks import VerityDisk
from cocoon_desktop.vm.guest_config import ModelDiskInfo

SYS_BLOCK = Path("/sys/block")
FW_CFG_TOKEN = Path("/sys/firmware/qemu_fw_cfg/by_name/opt/cocoon/channel-token/raw")
MODEL_MOUNT = Path("/run/model")
CONFIG_SERIAL, MODEL_SERIAL = "config", "model"


class GuestDeviceError(Exception):
    """Something the host should have attached is missing or wrong; the text says what."""


def disk_by_serial(serial: str, sys_block: Path = SYS_BLOCK, dev: Path = Path("/dev"),
                   wait_s: float = 10.0) -> Path:
    """The /dev node of the virtio disk with this serial (waiting while disks appear)."""
    deadline = time.monotonic() + wait_s
    while True:
        for serial_file in sorted(sys_block.glob("vd*/serial")):
            if serial_file.read_text().strip() == serial:
                return dev / serial_file.parent.name
        if time.monotonic() >= deadline:
            raise GuestDeviceError(f"No virtio disk with the serial {serial!r}: the host did "
                                   "not attach it.")
        time.sleep(0.1)


def read_channel_token(path: Path = FW_CFG_TOKEN) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise GuestDeviceError(f"The control channel's token is missing ({path}: "
                               f"{exc.strerror}); the host passes it with -fw_cfg.") from None
    if len(token) < 16:
        raise GuestDeviceError("The control channel's token is too short to be one.")
    return token


def open_model_disk(info: ModelDiskInfo, device: Path, mount_point: Path = MODEL_MOUNT) -> Path:
    """Open the model disk through dm-verity with the measured values, mount it read-only and
    return the model file's path. A changed block stops the VM when it is read."""
    disk = VerityDisk(device, info.root_hash_hex, info.data_blocks, info.salt_hex)
    _run(["dmsetup", "create", "cocoon-model", "--readonly", "--noudevsync",
          "--table", disk.dm_table(str(device))], "dm-verity refused the model disk")
    _run(["dmsetup", "mknodes", "cocoon-model"], "the model disk's device node was not made")
    mount_point.mkdir(parents=True, exist_ok=True)
    _run(["mount", "-t", "erofs", "-o", "ro", "/dev/mapper/cocoon-model", str(mount_point)],
         "the model disk does not match its hash (dm-verity) or is not EROFS")
    model = mount_point / info.file_name
    if not model.is_file():
        raise GuestDeviceError(f"The model disk has no {info.file_name}.")
    return model


def _run(argv: list[str], what: str) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True)
    except OSError as exc:
        raise GuestDeviceError(f"{what}: {argv[0]} cannot run ({exc.strerror})") from None
    if result.returncode != 0:
        raise GuestDeviceError(f"{what}: {(result.stderr or result.stdout).strip()}")
