"""The wallet list on disk: round trip, private file mode, damaged files moved aside."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.registry import (
    FILE_NAME,
    FullWalletRecord,
    NodeWalletRecord,
    OwnerRecord,
    WalletRecords,
    WalletRegistry,
)

RECORDS = WalletRecords(
    owner=OwnerRecord("0:" + "ab" * 32, "linked", 1.0),
    full_wallet=FullWalletRecord("main", "Mine", "cd" * 32, "imported", 2.0, WalletVersion.V4R2),
    node_wallet=NodeWalletRecord("node", "ef" * 32, "generated", 3.0, ("0:" + "01" * 32,)),
)


def test_records_round_trip_in_a_private_file(tmp_path: Path) -> None:
    registry = WalletRegistry(tmp_path / "data")
    assert registry.load() == WalletRecords()
    registry.save(RECORDS)
    assert registry.load() == RECORDS
    assert stat.S_IMODE(registry.path.stat().st_mode) == 0o600
    assert json.loads(registry.path.read_text())["version"] == 1


def test_update_changes_only_the_given_fields(tmp_path: Path) -> None:
    registry = WalletRegistry(tmp_path)
    registry.save(RECORDS)
    updated = registry.update(full_wallet=None)
    assert updated.full_wallet is None and updated.owner == RECORDS.owner
    assert registry.load() == updated


def test_a_damaged_file_is_moved_aside_not_lost(tmp_path: Path) -> None:
    registry = WalletRegistry(tmp_path)
    registry.path.write_text("{ not json")
    records = registry.load()
    assert records == WalletRecords() and records.recovered_from
    aside = Path(records.recovered_from)
    assert aside.read_text() == "{ not json" and not registry.path.exists()
    assert aside.name.startswith(FILE_NAME + ".damaged-")


def test_an_unknown_version_is_moved_aside(tmp_path: Path) -> None:
    registry = WalletRegistry(tmp_path)
    registry.path.write_text(json.dumps({"version": 99}))
    assert registry.load().recovered_from is not None
