"""A model on its own read-only disk: the GGUF file alone on EROFS, with its dm-verity hash
tree appended (upstream puts the model in a tar with a verity hash the same way). The root
hash goes into the measured config, so the guest reads only the bytes that were measured.
Disks are kept in the cache by the GGUF's SHA-256."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from cocoon_desktop.engine.models.file_hash import FileHashCache
from cocoon_desktop.vm.disks import make_verity_filesystem
from cocoon_desktop.vm.guest_config import ModelDiskInfo
from cocoon_desktop.vm.image import vm_cache_dir

MODEL_DISK_NAME, MODEL_INFO_NAME = "model.img", "model.json"


def ensure_model_disk(gguf: Path, cache: Path | None = None) -> tuple[Path, ModelDiskInfo]:
    """The model disk for `gguf` and what the guest needs to open it (built when missing)."""
    cache = cache or vm_cache_dir()
    digest = FileHashCache(cache / "model-hashes.json").sha256(gguf)
    folder = cache / "models" / digest[:24]
    info_file = folder / MODEL_INFO_NAME
    if info_file.is_file() and (folder / MODEL_DISK_NAME).is_file():
        doc = json.loads(info_file.read_text())
        if doc.get("gguf_sha256_hex") == digest:
            return folder / MODEL_DISK_NAME, ModelDiskInfo(**doc)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="building-", dir=folder.parent))
    try:
        tree = work / "tree"
        tree.mkdir()
        try:
            os.link(gguf, tree / gguf.name)
        except OSError:  # another file system: copy
            shutil.copyfile(gguf, tree / gguf.name)
        disk = make_verity_filesystem(tree, work / MODEL_DISK_NAME, epoch=0)
        info = ModelDiskInfo(gguf.name, disk.root_hash_hex, disk.data_blocks, disk.salt_hex,
                             digest)
        (work / MODEL_INFO_NAME).write_text(json.dumps(asdict(info), indent=2) + "\n")
        shutil.rmtree(tree)
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder / MODEL_DISK_NAME, info
