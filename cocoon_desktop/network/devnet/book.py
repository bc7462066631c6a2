"""The devnet proxy's books: workers' accounts, connected worker lines, routing and metering.

Everything of the proxy that is not listening on sockets, so the inbound connections
(`proxy_conns.py`) and the relays (`relay.py`) work against this without importing the proxy
that accepts them.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey
from pytoniq_core import Address

from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.network.errors import NOTREADY, PROTOVIOLATION, RemoteError
from cocoon_desktop.network.root_config import RootConfig
from cocoon_desktop.network.tl.worker import SignedPayment
from cocoon_desktop.network.worker.stats import AmortCounter
from cocoon_desktop.protocol.cells import raw_address
from cocoon_desktop.protocol.model_names import base_model_name
from cocoon_desktop.protocol.statements import sign_statement

MIN_PROTO_VERSION = 0
MAX_PROTO_VERSION = 2


@dataclass
class WorkerAccount:
    """Per worker owner: what the proxy owes (upstream ProxyWorkerInfo)."""

    owner_address: Address
    sc_address: Address
    tokens: int = 0
    statement: bytes = b""
    running: int = 0


@dataclass
class WorkerLine:
    """One worker connection that finished its handshake (upstream ProxyWorkerConnectionInfo)."""

    account: WorkerAccount
    model: str
    coefficient: int
    max_active_requests: int
    image_hash: bytes
    proto_version: int
    send: object  # async callable(bytes); set by the connection
    is_disabled: bool = True
    running: int = 0
    relays: dict[bytes, Any] = field(default_factory=dict)  # worker request id -> Relay
    _time: AmortCounter = field(default_factory=lambda: AmortCounter(600.0))
    _count: AmortCounter = field(default_factory=lambda: AmortCounter(600.0))

    @property
    def model_base(self) -> str:
        return base_model_name(self.model)

    def average_query_time(self) -> float:
        count = self._count.rate()
        return 0.0 if count * 600.0 <= 0.1 else self._time.rate() / count

    def finished(self, seconds: float) -> None:
        self.running -= 1
        self.account.running -= 1
        self._time.add(seconds)
        self._count.add(1)


class ProxyBook:
    """What the proxy knows and owes, and how it routes (upstream ProxyRunner's state)."""

    def __init__(self, root_config: RootConfig, root_address: Address, owner_address: Address,
                 *, check_worker_hashes: bool = False) -> None:
        self.root_config = root_config
        self.root_address = root_address
        self.owner_address = owner_address
        self.check_worker_hashes = check_worker_hashes
        self.client_keys: frozenset[bytes] = frozenset()  # the clients it serves (their keys)
        self._seed = secrets.token_bytes(32)  # the proxy's signing key, new per run
        self.public_key = bytes(SigningKey(self._seed).verify_key)
        self.sc_address = root_config.proxy_sc_address(owner_address, self.public_key,
                                                       root_address)
        self.workers: dict[str, WorkerAccount] = {}
        self.lines: list[WorkerLine] = []
        # (worker owner raw, adjusted tokens) of the latest requests, for tests and the log
        self.metered: deque[tuple[str, int]] = deque(maxlen=10_000)
        self.connections: set[Any] = set()  # live TlConnections, closed by stop()
        self.tasks = TaskSet("devnet proxy")  # request timeouts firing

    def account(self, owner: Address) -> WorkerAccount:
        key = raw_address(owner)
        if key not in self.workers:
            sc = self.root_config.worker_sc_address(owner, self.sc_address, self.public_key)
            self.workers[key] = WorkerAccount(owner, sc)
            self.sign(self.workers[key])
        return self.workers[key]

    def sign(self, account: WorkerAccount) -> SignedPayment:
        """Re-sign the cumulative statement (devnet: every token is committed at once)."""
        account.statement = sign_statement(self._seed, account.tokens, account.sc_address,
                                           self.owner_address)
        return SignedPayment(account.statement)

    def choose(self, model: str, max_coefficient: int) -> WorkerLine:
        candidates = [line for line in self.lines if line.model_base == model]
        if not candidates:
            raise RemoteError(PROTOVIOLATION, f"unknown model {model}: no worker on this "
                                              "devnet serves it (GET /v1/models lists those "
                                              "served)")
        ready = [line for line in candidates
                 if not line.is_disabled and line.running < line.max_active_requests]
        cheap = [line for line in ready if line.coefficient <= max_coefficient]
        if not cheap:
            if ready:
                lowest = min(line.coefficient for line in ready)
                raise RemoteError(NOTREADY, f"can run this query with coefficient={lowest}: "
                                            f"send max_coefficient of at least {lowest}")
            raise RemoteError(NOTREADY, f"no ready workers for model {model} (all busy or "
                                        "disabled); retry in a moment")
        return min(cheap, key=lambda line: (line.running * line.average_query_time(),
                                            line.running / line.max_active_requests))

    def meter(self, line: WorkerLine, adjusted_total: int) -> SignedPayment:
        line.account.tokens += adjusted_total
        self.metered.append((raw_address(line.account.owner_address), adjusted_total))
        return self.sign(line.account)
