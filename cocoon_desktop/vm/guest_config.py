"""What the guest is told at boot, on a read-only config disk: no secrets, and measured.

The host writes the canonical JSON of a `GuestConfig` (padded with zero bytes to whole
sectors) as a raw disk; the guest reads it back, hashes it and extends the hash into RTMR3
(TDX) or its measurement record (other modes) before it acts on any of it, so a different
configuration is a different measurement. Secrets never go here: the control channel's token
comes through QEMU's fw_cfg, the engine's bearer token is made in the guest, and the node
wallet key stays on the host (the guest worker never needs it: payouts are the host's job).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cocoon_desktop.network.collateral import INTEL_PCS_URL

CONFIG_FORMAT = "cocoon-desktop-vm-config/1"
SECTOR_BYTES = 512
# Where the guest listens, on its user-mode network address (QEMU forwards host ports here).
GUEST_ADDRESS = "10.0.2.15"
HOST_FROM_GUEST = "10.0.2.2"  # QEMU user-mode networking's name for the host's loopback
GUEST_CONTROL_PORT = 7100
GUEST_ENGINE_PORT = 7101


class GuestConfigError(ValueError):
    """The config disk cannot be read; the text says what is wrong."""


@dataclass(frozen=True)
class ModelDiskInfo:
    """The model disk: one GGUF file on EROFS, opened through dm-verity with these values."""

    file_name: str
    root_hash_hex: str
    data_blocks: int
    salt_hex: str
    gguf_sha256_hex: str


@dataclass(frozen=True)
class EngineSection:
    context_tokens: int = 2048
    parallel_sequences: int = 2
    threads: int = 2
    gpu_layers: int = 0
    max_queued_requests: int = 16
    max_completion_tokens: int = 1024
    speculative: bool = True  # prompt-lookup drafts (a draft model never enters the VM)


@dataclass(frozen=True)
class WorkerSection:
    """The guest worker's settings; `root_config` is upstream's fake-TON JSON of the network."""

    owner_address: str
    root_config: dict[str, Any]
    root_contract_address: str
    proxies: tuple[str, ...]  # host:port as the guest reaches them
    proxy_policy: str = "any"  # what the worker demands of proxies: tdx, fake_tdx or any
    attestation: str = "fake_tdx"  # what the worker presents: tdx, fake_tdx or none
    coefficient: int = 1000
    max_active_requests: int = 1
    is_test: bool = True
    # With proxy_policy tdx: where the guest fetches Intel DCAP collateral, what TCB it takes.
    collateral_url: str = INTEL_PCS_URL
    accepted_tcb_statuses: tuple[str, ...] = ("UpToDate",)
    # The collateral's host names and the forward (guest address) each is reached through.
    collateral_hosts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GuestConfig:
    mode: str  # "tdx", "kvm" or "tcg": how the host runs this VM (part of the measurement)
    network: str  # e.g. "devnet", "testnet", "mainnet", or "none" (engine only)
    model_name: str  # Cocoon's name@commit:hash
    model: ModelDiskInfo
    engine: EngineSection = field(default_factory=EngineSection)
    worker: WorkerSection | None = None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["format"] = CONFIG_FORMAT
        if self.worker is not None:
            doc["worker"]["proxies"] = list(self.worker.proxies)
            doc["worker"]["accepted_tcb_statuses"] = list(self.worker.accepted_tcb_statuses)
        return doc

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def disk_bytes(self) -> bytes:
        """The raw config disk: the JSON, zero-padded to whole sectors."""
        data = self.to_bytes()
        return data + bytes(-len(data) % SECTOR_BYTES)

    @classmethod
    def from_disk(cls, raw: bytes) -> GuestConfig:
        data = raw.rstrip(b"\0")
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GuestConfigError(f"The config disk holds no JSON ({exc}).") from None
        return cls.from_json(doc)

    @classmethod
    def from_json(cls, doc: Any) -> GuestConfig:
        if not isinstance(doc, dict) or doc.get("format") != CONFIG_FORMAT:
            raise GuestConfigError(f"The config disk is not {CONFIG_FORMAT}; the host and the "
                                   "image come from different versions: rebuild the image.")
        try:
            worker = doc.get("worker")
            return cls(
                mode=str(doc["mode"]), network=str(doc["network"]),
                model_name=str(doc["model_name"]), model=ModelDiskInfo(**doc["model"]),
                engine=EngineSection(**doc.get("engine", {})),
                worker=None if worker is None else WorkerSection(**{
                    **worker, "proxies": tuple(worker["proxies"]),
                    "accepted_tcb_statuses": tuple(worker.get("accepted_tcb_statuses",
                                                              ("UpToDate",)))}))
        except (KeyError, TypeError) as exc:
            raise GuestConfigError(f"The config disk lacks or has a bad field ({exc}).") \
                from None
