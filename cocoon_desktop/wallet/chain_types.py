"""What the chain service reports: its state, account snapshots with their age, and the
last-known values it keeps on disk so that a restart while offline still shows something."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pytoniq_core import Cell

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transactions import TransactionRecord

log = logging.getLogger(__name__)


class ChainStatus(StrEnum):
    IDLE = "idle"  # nothing asked yet: no connection is made before the first need
    CONNECTING = "connecting"
    ONLINE = "online"
    UNREACHABLE = "unreachable"  # liteservers or the config download failed; retries later
    OFFLINE = "offline"  # the config itself is unusable (e.g. a broken user file)


@dataclass(frozen=True)
class ChainState:
    """The chain connection as the UI shows it; `message` says what happened and what to do."""

    status: ChainStatus
    network: TonNetwork
    message: str = ""
    last_success_at: float | None = None  # wall-clock seconds
    next_retry_at: float | None = None
    failures: int = 0


class AccountStatus(StrEnum):
    ACTIVE = "active"
    UNINIT = "uninit"  # has (or had) a balance but no code yet: a wallet before its first send
    FROZEN = "frozen"
    NONEXIST = "nonexist"  # never received anything


@dataclass(frozen=True)
class AccountSnapshot:
    """An account as read from the chain at `fetched_at` (wall-clock seconds)."""

    address_raw: str
    network: TonNetwork
    balance_nano: int
    status: AccountStatus
    seqno: int | None  # None when not a wallet this app knows, or not deployed
    last_tx_lt: int | None
    fetched_at: float

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (now if now is not None else time.time()) - self.fetched_at)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountSnapshot:
        return cls(**{
            **data, "network": TonNetwork(data["network"]), "status": AccountStatus(data["status"])
        })


@dataclass(frozen=True)
class AccountReading:
    """The answer to "what is on this account": fresh, or the last known value and why."""

    snapshot: AccountSnapshot | None  # None: never read
    fresh: bool
    state: ChainState
    shard_account: Cell | None = field(default=None, repr=False)  # for fee emulation


@dataclass(frozen=True)
class TransactionsReading:
    records: tuple[TransactionRecord, ...]
    fetched_at: float | None
    fresh: bool
    state: ChainState


@dataclass(frozen=True)
class SendOutcome:
    sent: bool
    message: str
    state: ChainState


class LastKnownCache:
    """Last-known snapshots and transactions per network and address, in one JSON file.

    Only public chain data is written (balances, seqnos, transaction summaries). A damaged
    file is moved aside (`.damaged`) and the cache starts empty; nothing is deleted.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._accounts: dict[str, AccountSnapshot] = {}
        self._transactions: dict[str, tuple[float, tuple[TransactionRecord, ...]]] = {}
        self._load()

    @staticmethod
    def key(network: TonNetwork, address: TonAddress) -> str:
        return f"{network.value}/{address.raw}"

    def account(self, key: str) -> AccountSnapshot | None:
        return self._accounts.get(key)

    def transactions(self, key: str) -> tuple[float, tuple[TransactionRecord, ...]] | None:
        return self._transactions.get(key)

    def put_account(self, key: str, snapshot: AccountSnapshot) -> None:
        self._accounts[key] = snapshot
        self._save()

    def put_transactions(
        self, key: str, fetched_at: float, records: tuple[TransactionRecord, ...]
    ) -> None:
        self._transactions[key] = (fetched_at, records)
        self._save()

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            self._accounts = {
                k: AccountSnapshot.from_json(v) for k, v in data.get("accounts", {}).items()
            }
            self._transactions = {
                k: (float(v["fetched_at"]), tuple(map(TransactionRecord.from_json, v["records"])))
                for k, v in data.get("transactions", {}).items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("the chain cache %s is damaged; moved aside, starting empty", self._path)
            os.replace(self._path, self._path.with_suffix(".damaged"))
            self._accounts, self._transactions = {}, {}

    def _save(self) -> None:
        if self._path is None:
            return
        data = {
            "accounts": {k: v.to_json() for k, v in self._accounts.items()},
            "transactions": {
                k: {"fetched_at": at, "records": [r.to_json() for r in records]}
                for k, (at, records) in self._transactions.items()
            },
        }
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not save the chain cache: %s", exc.strerror)
