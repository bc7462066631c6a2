"""A built image: its manifest (what was built from what, its hashes) and where images are kept.

The image hash is SHA-256 over the canonical JSON of the kernel's and the initrd's SHA-256 and
the kernel command line; the command line carries the root filesystem's dm-verity root hash,
so the hash covers everything the VM boots from (as TDX measures it: kernel into RTMR1,
initrd and command line into RTMR2). Images live outside the checkout, in the cache folder
(`COCOON_VM_CACHE`, else the user's cache), one folder per inputs key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from cocoon_desktop.vm.disks import VerityDisk

MANIFEST_FORMAT = "cocoon-desktop-vm-image/1"
MANIFEST_NAME = "manifest.json"
KERNEL_NAME, INITRD_NAME, ROOT_NAME = "vmlinuz", "initrd.img", "root.img"


class ImageError(Exception):
    """An image is missing or does not match its manifest; the text says what to do."""


def vm_cache_dir() -> Path:
    """Where images, model disks and downloaded packages are kept (outside the checkout)."""
    configured = os.environ.get("COCOON_VM_CACHE")
    if configured:
        return Path(configured)
    return Path(platformdirs.user_cache_dir("cocoon-desktop")) / "vm"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def image_hash(kernel_sha256: str, initrd_sha256: str, cmdline: str) -> str:
    return hashlib.sha256(canonical_json(
        {"kernel": kernel_sha256, "initrd": initrd_sha256, "cmdline": cmdline}).encode()
    ).hexdigest()


@dataclass(frozen=True)
class ImageManifest:
    folder: Path
    inputs_key: str
    kernel_version: str
    kernel_sha256: str
    initrd_sha256: str
    root: VerityDisk
    cmdline: str
    tdx_guest_missing: tuple[str, ...]  # kernel options a TDX guest needs that it lacks

    @property
    def kernel(self) -> Path:
        return self.folder / KERNEL_NAME

    @property
    def initrd(self) -> Path:
        return self.folder / INITRD_NAME

    @property
    def image_sha256(self) -> str:
        return image_hash(self.kernel_sha256, self.initrd_sha256, self.cmdline)

    def to_json(self) -> dict[str, Any]:
        return {"format": MANIFEST_FORMAT, "inputs_key": self.inputs_key,
                "kernel_version": self.kernel_version, "kernel_sha256": self.kernel_sha256,
                "initrd_sha256": self.initrd_sha256, "cmdline": self.cmdline,
                "root": {"file": self.root.path.name, "root_hash": self.root.root_hash_hex,
                         "data_blocks": self.root.data_blocks, "salt": self.root.salt_hex},
                "tdx_guest_missing": list(self.tdx_guest_missing),
                "image_sha256": self.image_sha256}

    def write(self) -> None:
        (self.folder / MANIFEST_NAME).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def load_manifest(folder: Path, *, check_files: bool = True) -> ImageManifest:
    """The image in `folder`; with `check_files`, the kernel and initrd are hashed and compared
    (the root needs no check here: the guest verifies every block it reads)."""
    try:
        doc = json.loads((folder / MANIFEST_NAME).read_text())
        if doc.get("format") != MANIFEST_FORMAT:
            raise ImageError(f"{folder} holds an image of another format ({doc.get('format')}); "
                             "rebuild it with scripts/build-vm-image.sh.")
        root = doc["root"]
        manifest = ImageManifest(
            folder, doc["inputs_key"], doc["kernel_version"], doc["kernel_sha256"],
            doc["initrd_sha256"],
            VerityDisk(folder / root["file"], root["root_hash"], int(root["data_blocks"]),
                       root["salt"]),
            doc["cmdline"], tuple(doc.get("tdx_guest_missing", ())))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImageError(f"No usable VM image in {folder} ({exc}); build it with "
                         "scripts/build-vm-image.sh.") from None
    if check_files:
        for path, expected in ((manifest.kernel, manifest.kernel_sha256),
                               (manifest.initrd, manifest.initrd_sha256)):
            if not path.is_file() or sha256_file(path) != expected:
                raise ImageError(f"{path} does not match the image's manifest (changed or "
                                 "damaged); rebuild with scripts/build-vm-image.sh.")
        if not manifest.root.path.is_file():
            raise ImageError(f"{manifest.root.path} is missing; rebuild the image.")
    return manifest
