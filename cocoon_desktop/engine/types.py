"""Shared, Qt-free types of the engine: what the supervisor, the worker and the UI exchange.

Snapshots are frozen dataclasses; units are in the names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cocoon_desktop.protocol.model_names import base_model_name


class EngineState(StrEnum):
    """Life cycle of the engine process, as the supervisor sees it."""

    STOPPED = "stopped"
    LOADING = "loading"
    READY = "ready"
    CRASHED = "crashed"
    STOPPING = "stopping"


@dataclass(frozen=True)
class EngineSettings:
    """Everything that decides how the engine runs; part of the attestation measurement."""

    model_path: Path
    model_name: str  # the Cocoon name, `name@commit:hash`
    context_tokens: int = 4096  # total KV cache, shared by the parallel sequences
    parallel_sequences: int = 4  # requests decoded together (continuous batching)
    threads: int = 2
    gpu_layers: int = 0  # -1 offloads every layer
    max_queued_requests: int = 32
    max_completion_tokens: int = 4096  # larger max_tokens is rejected as absurd
    seed: int = -1
    speculative: bool = True  # draft tokens by prompt lookup (or the draft model) and verify
    draft_model_path: Path | None = None  # a small model with the same vocabulary drafts
    draft_tokens_max: int = 8  # most tokens drafted per sequence and step

    @property
    def display_name(self) -> str:
        """The model's name for people: the Cocoon name without `@commit:hash`."""
        return base_model_name(self.model_name)


@dataclass(frozen=True)
class EngineEndpoint:
    """Where the engine listens. The token is a per-launch bearer secret: never log it."""

    base_url: str  # http://127.0.0.1:<port>
    token: str = field(repr=False)

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class SandboxStatus:
    """How isolated the engine process is, in words the UI can show."""

    kind: str  # "bwrap", "unshare" or "none"
    network_isolated: bool
    detail: str  # e.g. "no network but its loopback listener" or why isolation is missing
    pids_isolated: bool = False  # its own pid namespace: it cannot see or signal host processes
    files_isolated: bool = False  # a read-only view of only what it needs, not the user's files

    @property
    def level(self) -> str:
        """The isolation in force, in one line ("bubblewrap: own network, pids, read-only
        view" ... "none: the engine can read your files"): never the strong one's words for a
        weaker one."""
        if self.kind == "none" or not (self.network_isolated or self.pids_isolated):
            return "none: the engine can read your files and use your network"
        own = [n for n, on in (("network", self.network_isolated), ("pids", self.pids_isolated))
               if on]
        name = "bubblewrap" if self.kind == "bwrap" else self.kind
        files = ", read-only view" if self.files_isolated else "; the engine can read your files"
        return f"{name}: own {', '.join(own)}{files}"


# What to do when llama.cpp was built without CUDA on a machine with an NVIDIA GPU (the engine
# process, the model planner and the doctor all say it, in the same words).
REBUILD_WITH_CUDA = ("To use the NVIDIA GPU, install NVIDIA's CUDA toolkit and run the app's "
                     "installer again: it then rebuilds llama.cpp with CUDA by itself.")
