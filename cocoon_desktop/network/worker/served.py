"""What a node and the stats surface use of a worker, whichever process it runs in.

The `Worker` of this process is one; the host's view of the worker inside a confidential VM
(`vm.guest_worker.GuestWorker`, which follows the guest over its control channel) is the other.
Both give the same status, counters and controls, so the node, its protection and upstream's
stats pages treat them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from cocoon_desktop.network.worker.types import WorkerConfig, WorkerEvent, WorkerStatus
from cocoon_desktop.protocol.statements import VerifiedStatement


class AccountFigures(Protocol):
    """What one proxy owes the worker (the stats pages' "proxies")."""

    proxy_key: str
    proxy_sc_address: str
    worker_sc_address: str
    tokens_committed: int
    db_tokens: int
    max_known: int


class CounterFigures(Protocol):
    """Upstream's worker counters (`WorkerStats`)."""

    def total(self, name: str) -> float: ...

    def as_json(self) -> dict[str, list[float]]: ...


class ServedWorker(Protocol):
    @property
    def config(self) -> WorkerConfig: ...

    @property
    def coefficient(self) -> int: ...

    @property
    def active_requests(self) -> int: ...

    @property
    def accepting(self) -> bool: ...

    @property
    def accounts(self) -> Mapping[str, AccountFigures]: ...

    @property
    def stats(self) -> CounterFigures: ...

    def status(self) -> WorkerStatus: ...

    def add_listener(self, listener: Callable[[WorkerEvent], None]) -> Callable[[], None]: ...

    def remove_listener(self, listener: Callable[[WorkerEvent], None]) -> None: ...

    def set_engine_ready(self, ready: bool) -> None: ...

    def restore_account(self, statement: VerifiedStatement, proxy_sc: str, db_tokens: int = 0,
                        max_tokens: int = 0) -> None: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    async def drain(self, timeout_s: float) -> bool: ...

    def set_coefficient(self, coefficient: int) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
