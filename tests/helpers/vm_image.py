"""An image manifest for tests that only build command lines (no image on disk)."""

from __future__ import annotations

from pathlib import Path

from cocoon_desktop.vm.disks import VerityDisk
from cocoon_desktop.vm.image import ImageManifest


def fake_manifest(folder: Path, tdx_missing: tuple[str, ...] = ()) -> ImageManifest:
    root = VerityDisk(folder / "root.img", "ee" * 32, 100)
    return ImageManifest(folder, "key", "6.1.0-test", "11" * 32, "22" * 32, root,
                         f"console=ttyS0 cocoon.root={root.kernel_argument()}", tdx_missing)
