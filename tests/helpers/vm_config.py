"""A guest configuration for the VM tests (nothing in it is secret)."""

from __future__ import annotations

from typing import Any

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
