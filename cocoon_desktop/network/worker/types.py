"""The worker's configuration, its event types and its status snapshot (plain dataclasses).

Other areas subscribe with `Worker.add_listener(callback)`; the callback gets one of the event
dataclasses below, on the event loop's thread, and must not block. Each fact travels once, on
its event: the fee per token on `RequestFinished`, `PaymentReceived` and `ProxyStateChanged`
(nobody asks the worker for it on the side), the verified statement on `PaymentReceived`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.root_config import RootConfig
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.coalesce import HOLD_S
from cocoon_desktop.protocol.model_names import base_model_name
from cocoon_desktop.protocol.pricing import AdjustedTokens, PriceMultipliers, TokenCounts
from cocoon_desktop.protocol.statements import RejectReason, VerifiedStatement

MIN_PROTO_VERSION = 1
MAX_PROTO_VERSION = 2


@dataclass(frozen=True)
class WorkerConfig:
    owner_address: str  # the TON address that owns the earnings
    model_name: str  # Cocoon's `name@commit:verity_hash`; the base name is what clients ask for
    # The engine, or a function giving its current endpoint (None while it is not running):
    # the supervisor's endpoint changes on every restart.
    engine: EngineEndpoint | Callable[[], EngineEndpoint | None]
    root_config: RootConfig
    root_contract_address: str
    coefficient: int = 1000  # 1000 = 1.0x the base price
    is_test: bool = True
    max_active_requests: int = 4
    proxy_connections: int = 1  # how many proxies to serve at once
    proxies: tuple[Endpoint, ...] = ()  # explicit proxies; empty: the root config's
    proxy_policy: AttestationPolicy = field(default_factory=AttestationPolicy)
    check_proxy_hashes: bool = False  # upstream: on outside test mode
    image_hash: bytes = b""  # this machine's image hash, as the attestation reports it
    max_request_bytes: int = 4 << 20
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    connection_timeout_s: float = 20.0
    # How long a piece of an answer may wait to share its part with the next (coalesce.py).
    answer_part_hold_s: float = HOLD_S

    @property
    def checks_proxy_hashes(self) -> bool:
        """Upstream checks the proxy's image hash whenever it is not in test mode."""
        return self.check_proxy_hashes or not self.is_test

    @property
    def model_base_name(self) -> str:
        return base_model_name(self.model_name)

    @property
    def multipliers(self) -> PriceMultipliers:
        return self.root_config.multipliers

    def engine_endpoint(self) -> EngineEndpoint | None:
        return self.engine() if callable(self.engine) else self.engine


@dataclass(frozen=True)
class RequestStarted:
    request_id: str  # 64 hex digits
    proxy_key: str
    model: str
    started_at: datetime


@dataclass(frozen=True)
class RequestFinished:
    request_id: str
    proxy_key: str
    model: str
    succeeded: bool
    error: str | None
    tokens: TokenCounts  # raw engine usage
    adjusted: AdjustedTokens  # what the proxy meters and pays
    coefficient: int
    worker_fee_per_token: int  # nanoTON per adjusted token
    started_at: datetime
    finished_at: datetime

    @property
    def earned_nanoton(self) -> int:
        return self.adjusted.total * self.worker_fee_per_token


@dataclass(frozen=True)
class PaymentReceived:
    """A proxy's signed statement, verified here against its key and our contract: the one
    verification (the ledger stores `statement` as it is). The proxy's contracts and the fee
    come along so the receiver can register the proxy before storing what it signed."""

    proxy_key: str
    proxy_sc_address: str  # raw `wc:hex`
    worker_sc_address: str
    worker_fee_per_token: int  # nanoTON per adjusted token, from the root config
    statement: VerifiedStatement
    db_tokens: int
    max_tokens: int


@dataclass(frozen=True)
class PaymentRejected:
    """A proxy's payment information the worker refused on the wire (nothing of it counts):
    a statement that fails a check (`bad_signature`, `malformed`, `wrong_worker`), or one that
    signs, or counters that report, less than the proxy already committed (`rollback`)."""

    proxy_key: str
    boc: bytes = field(repr=False)  # the statement as received; b"" when only counters came
    reason: RejectReason
    detail: str


@dataclass(frozen=True)
class ProxyStateChanged:
    endpoint: str
    state: Literal["connecting", "handshake", "ready", "disconnected"]
    detail: str = ""
    proxy_key: str | None = None
    proxy_sc_address: str | None = None
    worker_sc_address: str | None = None
    worker_fee_per_token: int | None = None  # with the keys, once the handshake named them


WorkerEvent = (RequestStarted | RequestFinished | PaymentReceived | PaymentRejected
               | ProxyStateChanged)


@dataclass(frozen=True)
class ProxyStatus:
    endpoint: str
    state: str
    detail: str
    proxy_key: str | None
    proxy_sc_address: str | None
    worker_sc_address: str | None
    tokens_committed: int  # newest verified statement
    tokens_max_known: int
    connected_since: datetime | None


@dataclass(frozen=True)
class WorkerStatus:
    """A snapshot for the UI and the stats surface."""

    enabled: bool
    draining: bool
    coefficient: int
    active_requests: int
    max_active_requests: int
    proxies: tuple[ProxyStatus, ...]

    @property
    def connected_proxies(self) -> int:
        return sum(1 for p in self.proxies if p.state == "ready")
