"""Cocoon model names (`name@commit:hash`).

Upstream Cocoon names a model `<name>@<commit>:<hash>` (scripts/build-model, worker-config.json):
`name` is the Hugging Face repository ("Qwen/Qwen3-8B"), `commit` the repository revision it was
downloaded at, and `hash` the dm-verity root hash (64 hex digits) of a reproducible tar of that
revision's files. Proxies route by the base name (the text before `@`), and the root contract
lists allowed models by SHA-256 of that base name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Upstream's grammar (scripts/build-model): <model_name>[@<commit>[:<hash>]]
_COCOON_NAME = re.compile(r"^([^@]+)(@([^:]+)(:(.+))?)?$")


def base_model_name(cocoon_name: str) -> str:
    """The part of a Cocoon model name (`name@commit:hash`) before `@`: what proxies match
    requests on, what clients send, and what people read."""
    return cocoon_name.split("@", 1)[0]


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
