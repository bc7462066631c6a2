"""An image manifest for tests that only build command lines (no image on disk), and a
stand-in for QEMU (a script that prints a console and then does what it is told)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cocoon_desktop.vm.disks import VerityDisk
from cocoon_desktop.vm.image import ImageManifest


def fake_manifest(folder: Path, tdx_missing: tuple[str, ...] = ()) -> ImageManifest:
    root = VerityDisk(folder / "root.img", "ee" * 32, 100)
    return ImageManifest(folder, "key", "6.1.0-test", "11" * 32, "22" * 32, root,
                         f"console=ttyS0 cocoon.root={root.kernel_argument()}", tdx_missing)


def fake_qemu(folder: Path, console: str, then: str = "exit 0") -> str:
    script = folder / "fake-qemu"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{console}\nEOF\n{then}\n")
    script.chmod(0o755)
    return str(script)


VM_TOOLS = ("qemu-system-x86_64", "mkfs.erofs", "veritysetup", "bwrap")


def vm_tools_or_skip() -> None:
    """The VM's tests need QEMU, erofs-utils, cryptsetup-bin and bubblewrap."""
    missing = [t for t in VM_TOOLS
               if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: run scripts/bootstrap.sh test")
