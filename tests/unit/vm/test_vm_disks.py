"""Disk images: the same tree gives the same bytes; verity parameters; the cpio initrd."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cocoon_desktop.vm import disks


def read_newc(blob: bytes) -> dict[str, tuple[int, int, int, bytes]]:
    """name -> (mode, uid, mtime, data) from a newc archive."""
    entries, offset = {}, 0
    while True:
        assert blob[offset:offset + 6] == b"070701"
        fields = [int(blob[offset + 6 + 8 * i: offset + 14 + 8 * i], 16) for i in range(13)]
        name_size, file_size = fields[11], fields[6]
        name_start = offset + 110
        name = blob[name_start:name_start + name_size - 1].decode()
        data_start = (name_start + name_size + 3) & ~3
        if name == "TRAILER!!!":
            return entries
        entries[name] = (fields[1], fields[2], fields[5], blob[data_start:data_start + file_size])
        offset = (data_start + file_size + 3) & ~3


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin/busybox").write_bytes(b"\x7fELF busybox")
    (root / "bin/busybox").chmod(0o755)
    (root / "init").write_text("#!/bin/busybox sh\n")
    (root / "bin/sh").symlink_to("busybox")
    (root / "data").write_bytes(bytes(range(256)) * 256)  # 64 KiB: a hash tree of its own
    return root


def test_cpio_is_sorted_root_owned_one_time_and_reproducible(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    disks.write_cpio(tree, tmp_path / "a.img", epoch=1234)
    (tree / "init").touch()  # a newer mtime on disk changes nothing
    disks.write_cpio(tree, tmp_path / "b.img", epoch=1234)
    blob = (tmp_path / "a.img").read_bytes()
    assert blob == (tmp_path / "b.img").read_bytes()
    assert len(blob) % 512 == 0
    entries = read_newc(blob)
    assert list(entries) == sorted(entries)
    mode, uid, mtime, data = entries["bin/sh"]
    assert stat.S_ISLNK(mode) and data == b"busybox" and uid == 0 and mtime == 1234
    assert entries["bin/busybox"][0] & 0o777 == 0o755


needs_tools = pytest.mark.skipif(
    not all(disks.shutil.which(t) or Path(f"/usr/sbin/{t}").exists()
            for t in ("mkfs.erofs", "veritysetup")),
    reason="erofs-utils and cryptsetup-bin are not installed (scripts/bootstrap.sh test)")


@needs_tools
def test_verity_filesystem_is_reproducible_and_its_table_opens_it(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    first = disks.make_verity_filesystem(tree, tmp_path / "a.img", epoch=0)
    (tree / "init").touch()
    second = disks.make_verity_filesystem(tree, tmp_path / "b.img", epoch=0)
    assert (tmp_path / "a.img").read_bytes() == (tmp_path / "b.img").read_bytes()
    assert first.root_hash_hex == second.root_hash_hex
    assert first.data_blocks * disks.BLOCK_BYTES < (tmp_path / "a.img").stat().st_size
    table = first.dm_table("/dev/vda")
    assert table.startswith(f"0 {first.data_blocks * 8} verity 1 /dev/vda /dev/vda 4096 4096 ")
    assert table.endswith(f"sha256 {first.root_hash_hex} {disks.VERITY_SALT_HEX} 1 "
                          "panic_on_corruption")
    (tree / "init").write_text("#!/bin/busybox sh\necho changed\n")
    changed = disks.make_verity_filesystem(tree, tmp_path / "c.img", epoch=0)
    assert changed.root_hash_hex != first.root_hash_hex
