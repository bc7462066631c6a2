"""The guest kernel: module dependencies from .modinfo, load order, TDX guest options."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cocoon_desktop.vm import kernel


def tiny_module(path: Path, depends: str) -> Path:
    """A 64-bit ELF file with a .modinfo section, as a kernel module carries it."""
    modinfo = f"license=GPL\0depends={depends}\0name={path.stem}\0".encode()
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    body = modinfo + shstrtab
    shoff = 64 + len(body)
    header = (b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHI", 1, 62, 1)
              + struct.pack("<QQQ", 0, 0, shoff) + struct.pack("<IHHHHHH", 0, 64, 0, 0, 64, 3, 2))

    def section(name: int, offset: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, 1, 0, 0, offset, size, 0, 0, 1, 0)

    sections = bytes(64) + section(1, 64, len(modinfo)) + section(10, 64 + len(modinfo),
                                                                  len(shstrtab))
    path.write_bytes(header + body + sections)
    return path


def test_depends_and_load_order(tmp_path: Path) -> None:
    index = {name: tiny_module(tmp_path / f"{name}.ko", deps) for name, deps in {
        "dm_verity": "dm-bufio,dm-mod", "dm_bufio": "dm-mod", "dm_mod": "",
        "erofs": "libcrc32c", "libcrc32c": ""}.items()}
    assert kernel.module_depends(index["dm_verity"]) == ("dm_bufio", "dm_mod")
    assert kernel.load_order(["dm_verity", "erofs"], index, builtin={"libcrc32c"}) == [
        "dm_mod", "dm_bufio", "dm_verity", "erofs"]
    with pytest.raises(kernel.KernelError, match=r"no module 'virtio_blk'"):
        kernel.load_order(["virtio_blk"], index, builtin=set())


def test_kernel_found_and_its_tdx_guest_options_read(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/vmlinuz-6.1.0-50-cloud-amd64").write_bytes(b"kernel")
    (tmp_path / "boot/config-6.1.0-50-cloud-amd64").write_text(
        "CONFIG_INTEL_TDX_GUEST=y\n# CONFIG_TSM_REPORTS is not set\n")
    (tmp_path / "usr/lib/modules/6.1.0-50-cloud-amd64").mkdir(parents=True)
    found = kernel.find_kernel(tmp_path)
    assert found.version == "6.1.0-50-cloud-amd64"
    assert found.tdx_guest_missing == ("CONFIG_TDX_GUEST_DRIVER", "CONFIG_TSM_REPORTS")


def test_module_list_has_two_stages(tmp_path: Path) -> None:
    (tmp_path / "modules.txt").write_text("# c\ninitrd: a b  # boot\nroot: c\n")
    assert kernel.parse_module_list(tmp_path / "modules.txt") == {"initrd": ["a", "b"],
                                                                  "root": ["c"]}
