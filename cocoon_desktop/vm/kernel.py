"""The guest kernel: vmlinuz, the few modules the image needs (with their dependencies, in load
order), and whether the kernel can be a TDX guest at all (from its config)."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

# Options a TDX guest kernel needs: TDX guest support, quotes through configfs-tsm, and
# (Linux 6.16+) extending RTMR3 from user space.
TDX_GUEST_OPTIONS = ("CONFIG_INTEL_TDX_GUEST", "CONFIG_TDX_GUEST_DRIVER", "CONFIG_TSM_REPORTS")


class KernelError(Exception):
    """The kernel package lacks something the image needs; the text says what."""


@dataclass(frozen=True)
class GuestKernel:
    version: str  # e.g. 6.1.0-50-cloud-amd64
    vmlinuz: Path
    modules_dir: Path  # lib/modules/<version> in the unpacked package
    config: dict[str, str]

    @property
    def tdx_guest_missing(self) -> tuple[str, ...]:
        """The TDX guest options this kernel was built without (empty: it can be one)."""
        return tuple(o for o in TDX_GUEST_OPTIONS if self.config.get(o) not in ("y", "m"))


def find_kernel(unpacked: Path) -> GuestKernel:
    """The kernel in an unpacked linux-image package (merged /usr)."""
    images = sorted((unpacked / "boot").glob("vmlinuz-*"))
    if len(images) != 1:
        raise KernelError(f"Expected one vmlinuz in the kernel package, found {len(images)}.")
    version = images[0].name.removeprefix("vmlinuz-")
    config_file = unpacked / "boot" / f"config-{version}"
    config = {}
    if config_file.is_file():
        for line in config_file.read_text().splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                key, value = line.split("=", 1)
                config[key] = value
    modules = unpacked / "usr" / "lib" / "modules" / version
    if not modules.is_dir():
        raise KernelError(f"The kernel package has no modules for {version}.")
    return GuestKernel(version, images[0], modules, config)


def module_index(modules_dir: Path) -> dict[str, Path]:
    """Module name (dashes as underscores) -> its .ko file."""
    return {p.name.removesuffix(".ko").replace("-", "_"): p
            for p in modules_dir.rglob("*.ko")}


def module_depends(ko: Path) -> tuple[str, ...]:
    """The `depends=` of a module's .modinfo ELF section."""
    info = _elf_section(ko.read_bytes(), b".modinfo")
    for entry in info.split(b"\0"):
        if entry.startswith(b"depends="):
            names = entry[len(b"depends="):].decode()
            return tuple(n.replace("-", "_") for n in names.split(",") if n)
    return ()


def load_order(names: list[str], index: dict[str, Path], builtin: set[str]) -> list[str]:
    """`names` and what they depend on, dependencies first; built-in ones are skipped."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name in builtin:
            return
        if name not in index:
            raise KernelError(f"The kernel has no module {name!r} (needed by "
                              f"{' <- '.join(reversed(path)) or 'the image'}).")
        for dep in module_depends(index[name]):
            visit(dep, (*path, name))
        order.append(name)

    for name in names:
        visit(name, ())
    return order


def builtin_modules(modules_dir: Path) -> set[str]:
    listing = modules_dir / "modules.builtin"
    if not listing.is_file():
        return set()
    return {Path(line.strip()).name.removesuffix(".ko").replace("-", "_")
            for line in listing.read_text().splitlines() if line.strip()}


def _elf_section(blob: bytes, wanted: bytes) -> bytes:
    if blob[:4] != b"\x7fELF" or blob[4] != 2:
        raise KernelError("A kernel module is not a 64-bit ELF file.")
    shoff, = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", blob, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        name, = struct.unpack_from("<I", blob, base)
        offset, size = struct.unpack_from("<QQ", blob, base + 0x18)
        return name, offset, size

    _n, str_offset, _s = header(shstrndx)
    for i in range(shnum):
        name, offset, size = header(i)
        end = blob.index(b"\0", str_offset + name)
        if blob[str_offset + name:end] == wanted:
            return blob[offset:offset + size]
    return b""


def parse_module_list(path: Path) -> dict[str, list[str]]:
    """`vm/modules.txt`: `initrd: a b c` and `root: d e` lines."""
    stages: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            stage, _, names = line.partition(":")
            stages[stage.strip()] = re.split(r"\s+", names.strip())
    return stages
