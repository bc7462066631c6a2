"""One earnings ledger per network, so devnet play money never adds up with real TON.

A node keeps `ledger-devnet.sqlite3`, `ledger-testnet.sqlite3` and `ledger-mainnet.sqlite3` in
its data folder and opens the one of the network it serves. Before this split there was one
`ledger.sqlite3`; a node that finds it (and no ledger yet for the network it opens with) adopts
it for that network: the old file was written by whatever network the settings named, and the
settings are what the user last chose. Adopting is a rename after a full WAL checkpoint, so the
rows move with every committed write and nothing is copied or deleted. If the old file is in use
by another program (the checkpoint cannot finish), it is used where it is for this run and
adopted on a later start. An old file that cannot be read is left untouched for recovery.

Served requests carry no network of their own, so an old ledger that mixed networks (served on
the devnet, then on a test network, before this change) cannot be split: it goes whole to the
network named at the upgrade.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.settings import NetworkKind

log = logging.getLogger(__name__)
LEGACY_LEDGER_NAME = "ledger.sqlite3"
CHECKPOINT_PATIENCE_S = 5.0


def ledger_file_for(data_dir: Path, network: NetworkKind) -> Path:
    """The ledger of `network` in a node's data folder."""
    return data_dir / f"ledger-{network.value}.sqlite3"


@dataclass(frozen=True)
class LedgerChoice:
    """Which file a node records `network`'s earnings in, and what happened to get there."""

    network: NetworkKind
    path: Path
    note: str = ""  # a sentence for the log when an old ledger was adopted or kept aside


def choose_ledger(data_dir: Path, network: NetworkKind, *, adopt_legacy: bool) -> LedgerChoice:
    """The ledger file for `network` (blocking: may checkpoint and rename the old ledger).

    `adopt_legacy` is True only when the node opens (the settings' network); a network chosen
    later in the same run never takes the old file.
    """
    target = ledger_file_for(data_dir, network)
    legacy = data_dir / LEGACY_LEDGER_NAME
    if not adopt_legacy or target.exists() or not legacy.exists():
        return LedgerChoice(network, target)
    outcome = _checkpoint(legacy)
    if outcome == "unreadable":
        return LedgerChoice(network, target, (
            f"The earnings ledger from an earlier version ({legacy}) could not be read; it is "
            f"kept untouched for recovery and {network.value} earnings go to {target.name}."))
    if outcome == "busy":
        return LedgerChoice(network, legacy, (
            f"The earnings ledger from an earlier version ({legacy}) is open in another "
            f"program; it is used where it is for now and becomes the {network.value} ledger "
            f"({target.name}) on a later start."))
    os.rename(legacy, target)
    _sync_folder(data_dir)
    return LedgerChoice(network, target, (
        f"The earnings ledger from an earlier version was adopted as the {network.value} "
        f"ledger: {legacy.name} is now {target.name} (each network now has its own ledger)."))


def _checkpoint(path: Path) -> str:
    """Fold the old ledger's write-ahead log into the file so that the file alone holds every
    committed row: "done", "busy" (another connection keeps it open) or "unreadable"."""
    deadline = time.monotonic() + CHECKPOINT_PATIENCE_S
    while True:
        try:
            outcome = _checkpoint_once(path)
        except sqlite3.DatabaseError as exc:
            log.warning("the old earnings ledger %s cannot be read: %s", path, exc)
            return "unreadable"
        if outcome == "done" or time.monotonic() > deadline:
            return outcome
        time.sleep(0.1)


def _checkpoint_once(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None,
                           timeout=1.0)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        conn.close()
    # Closing the last connection removes the -wal and -shm files; if they stay, another
    # program holds the database open and the file alone may not be the whole ledger.
    sidecars = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    if busy or any(p.exists() for p in sidecars):
        return "busy"
    return "done"


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
