"""One earnings ledger per network: the file each network gets, the old single ledger adopted
(never lost, WAL included), and the node's earnings host switching ledgers with the network."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cocoon_desktop.earnings import ledger_files
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_files import LEGACY_LEDGER_NAME, choose_ledger, ledger_file_for
from cocoon_desktop.earnings.records import ServedRequest
from cocoon_desktop.hardware.energy import EnergyMeter, EnergyReading
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.earnings_host import EarningsHost
from cocoon_desktop.protocol.pricing import TokenCounts
from cocoon_desktop.settings import NetworkKind

PROXY = "ab" * 32


def served(n: int, fee: int = 1000) -> ServedRequest:
    finished = datetime.now(UTC) - timedelta(minutes=n)
    return ServedRequest(f"{n:064x}", PROXY, "smollm", TokenCounts(10, 0, 5), 1000, 15, fee,
                         finished - timedelta(seconds=1), finished)


def write_then_die(path: str) -> None:
    """A process from before the split: writes a row and ends without closing the ledger, so
    the row is committed only in the write-ahead log (as after a crash or a kill)."""
    ledger = Ledger.open(Path(path))
    ledger.record_request(served(1))
    os._exit(0)


def legacy_with_a_row_in_the_wal(data_dir: Path) -> Path:
    legacy = data_dir / LEGACY_LEDGER_NAME
    data_dir.mkdir(parents=True)
    child = multiprocessing.get_context("spawn").Process(target=write_then_die,
                                                         args=(str(legacy),))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert Path(f"{legacy}-wal").stat().st_size > 0  # the row lives in the WAL only
    return legacy


def test_each_network_has_its_own_file(tmp_path: Path) -> None:
    names = {ledger_file_for(tmp_path, n).name for n in NetworkKind}
    assert names == {"ledger-devnet.sqlite3", "ledger-testnet.sqlite3",
                     "ledger-mainnet.sqlite3"}
    choice = choose_ledger(tmp_path, NetworkKind.TESTNET, adopt_legacy=True)
    assert choice.path == tmp_path / "ledger-testnet.sqlite3" and choice.note == ""


def test_the_old_ledger_is_adopted_with_its_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    legacy = legacy_with_a_row_in_the_wal(data)
    choice = choose_ledger(data, NetworkKind.DEVNET, adopt_legacy=True)
    assert choice.path == data / "ledger-devnet.sqlite3"
    assert "adopted as the devnet ledger" in choice.note
    assert not legacy.exists() and not Path(f"{legacy}-wal").exists()
    with Ledger.open(choice.path) as ledger:
        assert [r.request_id for r in ledger.requests()] == [served(1).request_id]
    # Once adopted, another network starts its own ledger; nothing comes back.
    other = choose_ledger(data, NetworkKind.TESTNET, adopt_legacy=True)
    assert other.path == data / "ledger-testnet.sqlite3" and other.note == ""


def test_the_old_ledger_is_left_alone_when_not_to_be_adopted(tmp_path: Path) -> None:
    legacy = tmp_path / LEGACY_LEDGER_NAME
    with Ledger.open(legacy) as ledger:
        ledger.record_request(served(1))
    later = choose_ledger(tmp_path, NetworkKind.MAINNET, adopt_legacy=False)
    assert later.path.name == "ledger-mainnet.sqlite3" and legacy.exists()
    ledger_file_for(tmp_path, NetworkKind.DEVNET).touch()  # devnet has its ledger already
    again = choose_ledger(tmp_path, NetworkKind.DEVNET, adopt_legacy=True)
    assert again.path.name == "ledger-devnet.sqlite3" and legacy.exists()


def test_an_old_ledger_in_use_is_used_in_place(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_files, "CHECKPOINT_PATIENCE_S", 0.2)
    legacy = tmp_path / LEGACY_LEDGER_NAME
    with Ledger.open(legacy) as other_program:
        other_program.record_request(served(1))
        choice = choose_ledger(tmp_path, NetworkKind.DEVNET, adopt_legacy=True)
        assert choice.path == legacy and "open in another program" in choice.note
    assert legacy.exists() and not ledger_file_for(tmp_path, NetworkKind.DEVNET).exists()
    later = choose_ledger(tmp_path, NetworkKind.DEVNET, adopt_legacy=True)  # closed now
    with Ledger.open(later.path) as ledger:
        assert len(ledger.requests()) == 1 and later.path.name == "ledger-devnet.sqlite3"


def test_an_unreadable_old_ledger_is_kept_for_recovery(tmp_path: Path) -> None:
    legacy = tmp_path / LEGACY_LEDGER_NAME
    legacy.write_bytes(b"not a database at all " * 100)
    choice = choose_ledger(tmp_path, NetworkKind.DEVNET, adopt_legacy=True)
    assert choice.path.name == "ledger-devnet.sqlite3" and "kept untouched" in choice.note
    assert legacy.read_bytes() == b"not a database at all " * 100


class NoGpu:
    def read(self) -> EnergyReading:
        return EnergyReading(asyncio.get_event_loop().time(), None, None)


async def test_the_host_switches_ledgers_with_the_network(tmp_path: Path) -> None:
    changes: list[int] = []
    legacy = tmp_path / LEGACY_LEDGER_NAME
    with Ledger.open(legacy) as old:
        old.record_request(served(1))  # from before the split, on the devnet
    host = EarningsHost(tmp_path, NodeConfig(network=NetworkKind.DEVNET),
                        EnergyMeter(NoGpu()), lambda: changes.append(1))
    await asyncio.to_thread(host.open)
    host.start()
    try:
        await host.refresh_summary()
        devnet_ledger = host.ledger
        assert host.network is NetworkKind.DEVNET and host.summary is not None
        assert host.summary.all_time.requests == 1  # adopted, not lost
        await host.switch_network(NetworkKind.TESTNET)
        assert host.ledger is not devnet_ledger and host.ledger_file is not None
        assert host.ledger_file.name == "ledger-testnet.sqlite3"
        assert host.summary is None  # nothing of the devnet's figures under testnet's name
        await host.refresh_summary()
        assert host.summary is not None and host.summary.all_time.requests == 0
        assert devnet_ledger is not None and len(devnet_ledger.requests()) == 1  # still open
        await host.switch_network(NetworkKind.DEVNET)  # and back: the devnet's rows again
        await host.refresh_summary()
        assert host.summary.all_time.requests == 1
    finally:
        await host.close()
    with pytest.raises(sqlite3.ProgrammingError):
        devnet_ledger.requests()  # every ledger it opened is closed with it
