"""A guest configuration for the VM tests (nothing in it is secret), and the host's copy of
the guest worker's config."""

from __future__ import annotations

from typing import Any

from cocoon_desktop.network.devnet.network import DevnetSettings, devnet_root_config
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.vm.guest_config import GuestConfig, ModelDiskInfo, WorkerSection


def model_info(**changes: Any) -> ModelDiskInfo:
    values: dict[str, Any] = {"file_name": "model.gguf", "root_hash_hex": "ab" * 32,
                              "data_blocks": 10, "salt_hex": "00", "gguf_sha256_hex": "cd" * 32}
    return ModelDiskInfo(**{**values, **changes})


def guest_config(**changes: Any) -> GuestConfig:
    worker = WorkerSection(owner_address="UQ-owner", root_config={"price_per_token": 20},
                           root_contract_address="EQ-root", proxies=("10.0.2.2:5000",))
    values: dict[str, Any] = {"mode": "tcg", "network": "devnet",
                              "model_name": "smollm2-135m@0123abc:test", "model": model_info(),
                              "worker": worker}
    return GuestConfig(**{**values, **changes})


def worker_config(**changes: Any) -> WorkerConfig:
    """The host's copy of a guest worker's config (for `GuestWorker`)."""
    values: dict[str, Any] = {"owner_address": "UQ-owner", "model_name": "m@c:h",
                              "engine": lambda: None,
                              "root_config": devnet_root_config(DevnetSettings()),
                              "root_contract_address": "EQ-root", "max_active_requests": 2}
    return WorkerConfig(**{**values, **changes})
