"""Wallet metadata: which wallets exist and which keys the keyring should hold. Never a secret.

One JSON file under the app's data folder (`wallets.json`, mode 0600): the owner address, the
full wallet's public key and preferred version, the node wallet's public key and the owner
addresses it had before (its address depends on the owner, so funds left at an old node wallet
address stay findable). Written atomically; a damaged file is moved aside, never deleted.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cocoon_desktop.wallet.contracts import WalletVersion

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FILE_NAME = "wallets.json"


@dataclass(frozen=True)
class OwnerRecord:
    address_raw: str
    source: str  # "linked" (watch-only) or "full_wallet"
    linked_at: float
    given: str = ""  # the address as the user gave it, shown back to them as they know it


@dataclass(frozen=True)
class FullWalletRecord:
    wallet_id: str
    name: str
    public_key_hex: str
    origin: str  # "created" or "imported"
    created_at: float
    preferred_version: WalletVersion = WalletVersion.V5R1


@dataclass(frozen=True)
class NodeWalletRecord:
    wallet_id: str
    public_key_hex: str
    origin: str  # "generated" or "imported"
    created_at: float
    past_owner_raws: tuple[str, ...] = ()


@dataclass(frozen=True)
class WalletRecords:
    owner: OwnerRecord | None = None
    full_wallet: FullWalletRecord | None = None
    node_wallet: NodeWalletRecord | None = None
    recovered_from: str | None = field(default=None, compare=False)  # a damaged file moved aside

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("recovered_from")
        return {"version": SCHEMA_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WalletRecords:
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"unknown wallet file version {data.get('version')!r}")
        owner = data.get("owner")
        full = data.get("full_wallet")
        node = data.get("node_wallet")
        return cls(
            owner=OwnerRecord(**owner) if owner else None,
            full_wallet=FullWalletRecord(**{
                **full, "preferred_version": WalletVersion(full["preferred_version"])
            }) if full else None,
            node_wallet=NodeWalletRecord(**{
                **node, "past_owner_raws": tuple(node.get("past_owner_raws", ()))
            }) if node else None,
        )


class WalletRegistry:
    """Loads and saves `WalletRecords`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def load(self) -> WalletRecords:
        if not self.path.exists():
            return WalletRecords()
        try:
            return WalletRecords.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            aside = self.path.with_name(f"{FILE_NAME}.damaged-{int(time.time())}")
            os.replace(self.path, aside)
            log.warning("the wallet list was damaged (%s); moved to %s", type(exc).__name__, aside)
            return WalletRecords(recovered_from=str(aside))

    def save(self, records: WalletRecords) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(FILE_NAME + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(records.to_json(), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def update(self, **changes: Any) -> WalletRecords:
        """Load, change some fields, save; return the new records."""
        records = replace(self.load(), **changes)
        self.save(records)
        return records
