"""Disk images, made reproducibly: a read-only EROFS tree with its dm-verity hash tree appended,
and the initrd as an uncompressed `newc` cpio archive written here (sorted, owned by root, one
fixed time), so the same inputs give the same bytes.

Verity is formatted without a superblock: the kernel command line (root) or the measured config
disk (models) carries everything needed to open it (root hash, data blocks, salt), so the host
cannot swap the parameters without changing the measurement.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BLOCK_BYTES = 4096
# A fixed salt (upstream uses one too): the hash must depend on the content alone.
VERITY_SALT_HEX = "636f636f6f6e2d6465736b746f702d766d2d726f6f74"
EROFS_UUID = "7c0c0a5e-4d3e-4b1a-9c7e-0e5d2f6a9b41"


class DiskError(Exception):
    """A disk image could not be made; the text says why and what to install."""


@dataclass(frozen=True)
class VerityDisk:
    """A filesystem image followed by its hash tree; what opening it needs."""

    path: Path
    root_hash_hex: str
    data_blocks: int
    salt_hex: str = VERITY_SALT_HEX

    @property
    def hash_start_block(self) -> int:
        return self.data_blocks  # the tree starts right after the data

    def kernel_argument(self) -> str:
        return f"{self.root_hash_hex},{self.data_blocks},{self.salt_hex}"

    def dm_table(self, device: str) -> str:
        """The device-mapper table the guest loads (`panic_on_corruption`: a changed block
        stops the VM instead of feeding it wrong data)."""
        return (f"0 {self.data_blocks * BLOCK_BYTES // 512} verity 1 {device} {device} "
                f"{BLOCK_BYTES} {BLOCK_BYTES} {self.data_blocks} {self.hash_start_block} sha256 "
                f"{self.root_hash_hex} {self.salt_hex} 1 panic_on_corruption")


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)
    if path is None:
        raise DiskError(f"`{name}` is missing: install the Debian package {package} "
                        "(scripts/bootstrap.sh installs it).")
    return path


def tool_versions() -> dict[str, str]:
    """The versions of the host tools whose output is in the image (part of its inputs)."""
    erofs = subprocess.run([_tool("mkfs.erofs", "erofs-utils"), "--help"], capture_output=True,
                           text=True).stdout.splitlines()
    verity = subprocess.run([_tool("veritysetup", "cryptsetup-bin"), "--version"],
                            capture_output=True, text=True).stdout.strip()
    return {"mkfs.erofs": erofs[0] if erofs else "?", "veritysetup": verity}


def make_verity_filesystem(tree: Path, out: Path, epoch: int) -> VerityDisk:
    """EROFS of `tree` (every file root's, every time `epoch`) with its hash tree appended."""
    out.unlink(missing_ok=True)
    _run([_tool("mkfs.erofs", "erofs-utils"), "--quiet", f"-T{epoch}", f"-U{EROFS_UUID}",
          "--all-root", "-x-1", str(out), str(tree)], "mkfs.erofs")
    return append_verity(out)


def append_verity(image: Path) -> VerityDisk:
    size = image.stat().st_size
    if size % BLOCK_BYTES:
        with image.open("ab") as f:
            f.write(bytes(BLOCK_BYTES - size % BLOCK_BYTES))
        size = image.stat().st_size
    blocks = size // BLOCK_BYTES
    output = _run([_tool("veritysetup", "cryptsetup-bin"), "format", "--no-superblock",
                   f"--salt={VERITY_SALT_HEX}", f"--data-block-size={BLOCK_BYTES}",
                   f"--hash-block-size={BLOCK_BYTES}", f"--data-blocks={blocks}",
                   f"--hash-offset={size}", str(image), str(image)], "veritysetup format")
    match = re.search(r"Root hash:\s+([0-9a-f]{64})", output)
    if match is None:
        raise DiskError(f"veritysetup printed no root hash: {output[-500:]}")
    return VerityDisk(image, match.group(1), blocks)


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise DiskError(f"{what} failed: {(result.stderr or result.stdout).strip()[-1000:]}")
    return result.stdout


def write_cpio(tree: Path, out: Path, epoch: int) -> None:
    """`tree` as an uncompressed newc cpio archive: sorted, uid/gid 0, mtime `epoch`."""
    entries = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*"))
    with out.open("wb") as f:
        for ino, name in enumerate(entries, 1):
            path = tree / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                data = os.readlink(path).encode()
            elif stat.S_ISREG(info.st_mode):
                data = path.read_bytes()
            else:
                data = b""
            mode = stat.S_IFMT(info.st_mode) | stat.S_IMODE(info.st_mode)
            _cpio_entry(f, name, ino, mode, epoch, data)
        _cpio_entry(f, "TRAILER!!!", 0, 0, 0, b"")
        f.write(bytes(-f.tell() % 512))


def _cpio_entry(f: BinaryIO, name: str, ino: int, mode: int, mtime: int, data: bytes) -> None:
    encoded = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(encoded), 0)
    f.write(b"070701" + b"".join(b"%08X" % v for v in fields) + encoded)
    f.write(bytes(-f.tell() % 4))
    f.write(data)
    f.write(bytes(-f.tell() % 4))
