"""The image builds from a clean checkout, and building it again gives the same bytes and the
same image hash (the cached image, built from the working tree, has it too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cocoon_desktop.vm.image import ImageManifest, load_manifest

REPO = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def clean_checkout(into: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored): no venv, no build output."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def build(checkout: Path, out: Path) -> str:
    env = {**os.environ, "COCOON_VENV": str(Path(sys.executable).parents[1])}
    result = subprocess.run([str(checkout / "scripts/build-vm-image.sh"), "--offline", "--out",
                             str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    hashes = [line.split(": ", 1)[1] for line in result.stdout.splitlines()
              if line.startswith("image sha256: ")]
    assert len(hashes) == 1, result.stdout
    return hashes[0]


def test_two_builds_from_a_clean_checkout_are_identical(tmp_path: Path,
                                                        vm_image: ImageManifest) -> None:
    checkout = clean_checkout(tmp_path / "checkout")
    first = build(checkout, tmp_path / "first")
    second = build(checkout, tmp_path / "second")
    assert first == second == load_manifest(tmp_path / "first").image_sha256
    for name in ("vmlinuz", "initrd.img", "root.img", "manifest.json"):
        assert (tmp_path / "first" / name).read_bytes() == \
            (tmp_path / "second" / name).read_bytes(), name
    assert first == vm_image.image_sha256, "the cached image was built from other inputs"
