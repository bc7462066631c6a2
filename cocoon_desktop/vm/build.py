"""Building the guest image (`scripts/build-vm-image.sh`, or `python -m cocoon_desktop.vm.build`).

    build-vm-image.sh            build (or reuse the cached image) and print its hash
    build-vm-image.sh --fetch    download the pinned Debian packages only (needs network)
    build-vm-image.sh --lock     re-pin vm/debian.lock and vm/python.lock (a Debian 12 host)
    build-vm-image.sh --out DIR  build into DIR, ignoring the cache (reproducibility checks)

The inputs key is SHA-256 over everything that goes into the image: the Debian lock, every
Python file of the payload (by content), the recipe in vm/, this builder's own code, the
versions of the host tools whose output lands in the image, and SOURCE_DATE_EPOCH. An image is
built once per key and kept in the cache; a changed input means a new key and a new build.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.vm import debian, disks, payload, trees
from cocoon_desktop.vm.image import (
    INITRD_NAME,
    KERNEL_NAME,
    ROOT_NAME,
    ImageError,
    ImageManifest,
    canonical_json,
    load_manifest,
    sha256_file,
    vm_cache_dir,
)

RECIPE_DIR = Path(__file__).resolve().parents[2] / "vm"
RECIPE_FILES = ("debian.lock", "python.lock", "modules.txt", "initrd-init", "rootfs-init")
BUILDER_MODULES = ("build.py", "debian.py", "disks.py", "image.py", "kernel.py", "payload.py",
                   "trees.py")
DEFAULT_EPOCH = 1700000000  # SOURCE_DATE_EPOCH when the environment sets none
KERNEL_ARGS = "console=ttyS0 panic=-1 quiet"
BuildErrors = (debian.DebianPackageError, payload.PayloadError, disks.DiskError,
               trees.TreeError, ImageError)


@dataclass(frozen=True)
class BuildInputs:
    recipe: Path
    packages: tuple[debian.LockedPackage, ...]
    files: tuple[payload.PayloadFile, ...]
    epoch: int
    tools: dict[str, str]

    def key(self) -> str:
        builder = Path(__file__).resolve().parent
        doc = {
            "epoch": self.epoch, "tools": self.tools,
            "recipe": {n: sha256_file(self.recipe / n) for n in RECIPE_FILES},
            "builder": {n: sha256_file(builder / n) for n in BUILDER_MODULES},
            "payload": sorted((f.dest, f.sha256_hex) for f in self.files),
        }
        return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def gather_inputs(recipe: Path = RECIPE_DIR, epoch: int | None = None) -> BuildInputs:
    if not (recipe / "debian.lock").is_file():
        raise ImageError(f"There is no image recipe here ({recipe} is missing): the image is "
                         "built from the source checkout, with its pinned environment. Serve "
                         "from the VM with the app run from a checkout (scripts/run-app.sh).")
    if epoch is None:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    pins = payload.read_python_lock(recipe / "python.lock")
    files = (*payload.library_files(pins), *payload.app_files())
    payload.check_imports(files, pins)
    payload.check_cpu_only(files)
    return BuildInputs(recipe, debian.read_lock(recipe / "debian.lock"), files, epoch,
                       disks.tool_versions())


def cached_image(inputs: BuildInputs, cache: Path | None = None) -> ImageManifest | None:
    folder = (cache or vm_cache_dir()) / "images" / inputs.key()[:24]
    try:
        return load_manifest(folder)
    except ImageError:
        return None


def ensure_image(inputs: BuildInputs | None = None, *, cache: Path | None = None,
                 offline: bool = False) -> ImageManifest:
    """The cached image for these inputs, built first when there is none."""
    inputs = inputs or gather_inputs()
    cache = cache or vm_cache_dir()
    found = cached_image(inputs, cache)
    if found is not None:
        return found
    folder = cache / "images" / inputs.key()[:24]
    staging = Path(tempfile.mkdtemp(prefix="building-", dir=cache))
    try:
        build_image(inputs, staging / "image", cache / "debs", offline=offline)
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        (staging / "image").rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_manifest(folder)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def build_image(inputs: BuildInputs, out: Path, deb_cache: Path, *, offline: bool
                ) -> ImageManifest:
    """Build into `out` (created; must not exist) from `inputs`."""
    debs = debian.fetch(inputs.packages, deb_cache, offline=offline,
                        mirror=os.environ.get("COCOON_VM_DEBIAN_MIRROR"))
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="cocoon-vm-build-") as work, _umask(0o022):
        work_dir = Path(work)
        root, initrd_tree = work_dir / "root", work_dir / "initrd"
        guest_kernel = trees.unpack_kernel(debs, work_dir / "kernel")
        initrd_modules, root_modules = trees.module_orders(guest_kernel,
                                                           inputs.recipe / "modules.txt")
        trees.unpack_root(debs, root)
        trees.finish_root(root, inputs.recipe, guest_kernel, root_modules, list(inputs.files))
        trees.build_initrd_tree(root, initrd_tree, inputs.recipe, guest_kernel, initrd_modules)
        root_disk = disks.make_verity_filesystem(root, out / ROOT_NAME, inputs.epoch)
        disks.write_cpio(initrd_tree, out / INITRD_NAME, inputs.epoch)
        shutil.copyfile(guest_kernel.vmlinuz, out / KERNEL_NAME)
    manifest = ImageManifest(
        out, inputs.key(), guest_kernel.version, sha256_file(out / KERNEL_NAME),
        sha256_file(out / INITRD_NAME), root_disk,
        f"{KERNEL_ARGS} cocoon.root={root_disk.kernel_argument()}",
        guest_kernel.tdx_guest_missing)
    manifest.write()
    return manifest


def update_locks(recipe: Path = RECIPE_DIR) -> None:
    spec = debian.PackageSpec.read(recipe / "packages.txt")
    debian.write_lock(recipe / "debian.lock", debian.resolve_lock(spec))
    top = [w for raw in (recipe / "python.txt").read_text().splitlines()
           for w in raw.split("#", 1)[0].split()]
    pins = payload.resolve_python_lock(top)
    (recipe / "python.lock").write_text(
        "# Python packages of the guest image, from this app's environment (written by "
        "`scripts/build-vm-image.sh --lock` from vm/python.txt).\n"
        + "".join(f"{n}=={v}\n" for n, v in pins.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build-vm-image.sh", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--fetch", action="store_true", help="download the pinned packages")
    action.add_argument("--lock", action="store_true", help="re-pin the package locks")
    parser.add_argument("--out", type=Path, help="build into this new folder, no cache")
    parser.add_argument("--offline", action="store_true", help="use the package cache only")
    args = parser.parse_args(argv)
    try:
        if args.lock:
            update_locks()
            print("vm/debian.lock and vm/python.lock updated")
            return 0
        if args.fetch:
            debian.fetch(debian.read_lock(RECIPE_DIR / "debian.lock"), vm_cache_dir() / "debs",
                         offline=False, mirror=os.environ.get("COCOON_VM_DEBIAN_MIRROR"))
            print(f"packages ready in {vm_cache_dir() / 'debs'}")
            return 0
        inputs = gather_inputs()
        if args.out:
            manifest = build_image(inputs, args.out, vm_cache_dir() / "debs",
                                   offline=args.offline)
        else:
            manifest = ensure_image(inputs, offline=args.offline)
    except BuildErrors as exc:
        print(f"build-vm-image: {exc}", file=sys.stderr)
        return 1
    print(f"image: {manifest.folder}")
    print(f"image sha256: {manifest.image_sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
