"""Assembling the two file trees of the image: the root (Debian packages, the Python payload,
the init, the root's kernel modules, a few /etc files) and the initrd (busybox, dmsetup and
its libraries, the boot modules, its /init)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from cocoon_desktop.vm import debian, kernel, payload
from cocoon_desktop.vm.debian import inside

ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    "etc/resolv.conf": "nameserver 10.0.2.3\n",  # QEMU user-mode networking's DNS
}
EMPTY_DIRS = ("dev", "proc", "sys", "run", "tmp", "root")
ROOT_INIT = "usr/sbin/cocoon-init"
ROOT_MODULES = "usr/lib/cocoon/modules"


class TreeError(Exception):
    """A tree could not be assembled; the text says what is missing."""


def unpack_root(debs: dict[str, Path], root: Path) -> None:
    """Every package but the kernel, unpacked under merged /usr."""
    for name in sorted(debs):
        if not name.startswith("linux-image"):
            debian.extract(debs[name], root)
    debian.make_merged_usr_links(root)
    for folder in EMPTY_DIRS:
        (root / folder).mkdir(exist_ok=True)
    for rel, text in ETC_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        inside(root, rel).write_text(text)


def unpack_kernel(debs: dict[str, Path], into: Path) -> kernel.GuestKernel:
    images = [n for n in debs if re.fullmatch(r"linux-image-\d.*", n)]
    if len(images) != 1:
        raise TreeError(f"The lock must hold one versioned linux-image package, not {images}.")
    debian.extract(debs[images[0]], into)
    return kernel.find_kernel(into)


def module_orders(guest_kernel: kernel.GuestKernel, modules_txt: Path
                  ) -> tuple[list[str], list[str]]:
    """(initrd modules, root modules) in load order; the root skips what the initrd loaded."""
    stages = kernel.parse_module_list(modules_txt)
    index = kernel.module_index(guest_kernel.modules_dir)
    builtin = kernel.builtin_modules(guest_kernel.modules_dir)
    initrd = kernel.load_order(stages.get("initrd", []), index, builtin)
    root = [m for m in kernel.load_order(stages.get("root", []), index, builtin)
            if m not in initrd]
    return initrd, root


def add_modules(guest_kernel: kernel.GuestKernel, names: list[str], folder: Path) -> None:
    index = kernel.module_index(guest_kernel.modules_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(index[name], inside(folder, f"{name}.ko"))
    inside(folder, "order").write_text("".join(f"{n}\n" for n in names))


def finish_root(root: Path, recipe: Path, guest_kernel: kernel.GuestKernel,
                root_modules: list[str], files: list[payload.PayloadFile]) -> None:
    """The init, the modules and the Python payload, byte code compiled."""
    (root / ROOT_INIT).parent.mkdir(parents=True, exist_ok=True)
    init = inside(root, ROOT_INIT)
    shutil.copyfile(recipe / "rootfs-init", init)
    init.chmod(0o755)
    add_modules(guest_kernel, root_modules, root / ROOT_MODULES)
    (root / ROOT_MODULES / "order").rename(root / "usr/lib/cocoon/modules.order")
    payload.install(files, root)
    payload.compile_bytecode(root, ("usr/lib/python3.11", payload.SITE_PACKAGES))


def build_initrd_tree(root: Path, tree: Path, recipe: Path, guest_kernel: kernel.GuestKernel,
                      initrd_modules: list[str]) -> None:
    for folder in ("bin", "dev", "proc", "sys", "newroot", "lib/x86_64-linux-gnu", "lib64"):
        (tree / folder).mkdir(parents=True, exist_ok=True)
    for source, dest in ((recipe / "initrd-init", "init"), (root / "usr/bin/busybox",
                         "bin/busybox"), (root / "usr/sbin/dmsetup", "bin/dmsetup")):
        shutil.copyfile(source, inside(tree, dest))
        (tree / dest).chmod(0o755)
    for soname, path in shared_libraries(root, root / "usr/sbin/dmsetup").items():
        folder = "lib64" if soname.startswith("ld-linux") else "lib/x86_64-linux-gnu"
        target = inside(tree, f"{folder}/{soname}")
        shutil.copyfile(path, target)
        target.chmod(0o755)
    add_modules(guest_kernel, initrd_modules, tree / "modules")


def shared_libraries(root: Path, binary: Path) -> dict[str, Path]:
    """What `binary` loads, resolved by the root's own loader within the root."""
    loader = root / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    result = subprocess.run([str(loader), "--library-path",
                             str(root / "usr/lib/x86_64-linux-gnu"), "--list", str(binary)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise TreeError(f"Cannot list the libraries of {binary.name}: {result.stderr.strip()}")
    libraries = {"ld-linux-x86-64.so.2": (root / "usr/lib/x86_64-linux-gnu/"
                                          "ld-linux-x86-64.so.2").resolve()}
    for line in result.stdout.splitlines():
        match = re.match(r"\s*(\S+) => (\S+) \(", line)
        if match:  # the loader lists itself by its absolute path: keep the file name only
            path = Path(match.group(2)).resolve()
            if not path.is_relative_to(root.resolve()):
                raise TreeError(f"{binary.name} needs {match.group(1)} from outside the image.")
            libraries[Path(match.group(1)).name] = path
    return libraries

