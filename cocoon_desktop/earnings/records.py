"""What the ledger stores, as frozen dataclasses (units in the names, money in nanoTON)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cocoon_desktop.protocol.pricing import (
    PriceMultipliers,
    TokenCounts,
    adjusted_tokens,
    earned_nanoton,
)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; refuses a naive datetime (its zone would be a guess)."""
    if moment.tzinfo is None:
        raise ValueError("a timestamp needs a time zone (use datetime.now(UTC))")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def check_hex64(value: str, what: str) -> str:
    """Lower-case 64-digit hex (a request id or an Ed25519 key), or a clear ValueError."""
    lowered = value.lower()
    if not _HEX64.match(lowered):
        raise ValueError(f"{what} must be 64 hexadecimal digits, got {value[:80]!r}")
    return lowered


@dataclass(frozen=True)
class ServedRequest:
    """One request this worker served for a proxy."""

    request_id: str  # the int256 request id, 64 hex digits
    proxy_key: str  # the proxy's Ed25519 public key, 64 hex digits
    model: str
    tokens: TokenCounts
    coefficient: int
    adjusted_tokens: int
    worker_fee_per_token: int  # nanoTON per adjusted token
    started_at: datetime
    finished_at: datetime
    succeeded: bool = True
    energy_j: float | None = None
    energy_cost_nano: int | None = None  # billionths of `energy_currency`'s unit
    energy_currency: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_id", check_hex64(self.request_id, "request id"))
        object.__setattr__(self, "proxy_key", check_hex64(self.proxy_key, "proxy key"))
        if self.coefficient <= 0 or self.worker_fee_per_token < 0:
            raise ValueError("coefficient must be positive and the fee per token not negative")
        if to_ms(self.finished_at) < to_ms(self.started_at):
            raise ValueError("a request cannot finish before it started")
        if self.energy_j is not None and self.energy_j < 0:
            raise ValueError("energy cannot be negative")

    @property
    def earned_nanoton(self) -> int:
        return earned_nanoton(self.adjusted_tokens, self.worker_fee_per_token)

    @classmethod
    def from_usage(
        cls,
        *,
        request_id: str,
        proxy_key: str,
        model: str,
        tokens: TokenCounts,
        coefficient: int,
        multipliers: PriceMultipliers,
        worker_fee_per_token: int,
        started_at: datetime,
        finished_at: datetime,
        succeeded: bool = True,
    ) -> ServedRequest:
        """Compute adjusted tokens with upstream's formula from the engine's raw usage."""
        adjusted = adjusted_tokens(tokens, coefficient, multipliers).total
        return cls(
            request_id=request_id,
            proxy_key=proxy_key,
            model=model,
            tokens=tokens,
            coefficient=coefficient,
            adjusted_tokens=adjusted,
            worker_fee_per_token=worker_fee_per_token,
            started_at=started_at,
            finished_at=finished_at,
            succeeded=succeeded,
        )


@dataclass(frozen=True)
class ProxySession:
    """What the worker learns from a proxy's handshake (`worker.connectedToProxy`)."""

    proxy_key: str  # proxy.params.proxy_public_key, 64 hex digits
    proxy_sc_address: str  # raw `wc:hex`
    worker_sc_address: str  # this worker's contract for that proxy, raw `wc:hex`
    worker_fee_per_token: int  # nanoTON, from the root config

    def __post_init__(self) -> None:
        object.__setattr__(self, "proxy_key", check_hex64(self.proxy_key, "proxy key"))


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the ledger knows it, with what it last said about our balance."""

    proxy_key: str
    proxy_sc_address: str
    worker_sc_address: str
    worker_fee_per_token: int
    first_seen: datetime
    last_seen: datetime
    db_tokens: int  # tokens the proxy says it committed to its database
    max_tokens: int  # tokens the proxy has counted for us, committed or not
    chain_tokens_processed: int | None  # the worker contract's paid-out counter, last read
    chain_read_at: datetime | None


class PayoutStatus(StrEnum):
    """Where a payout is: built, sent, done by the contract, in the owner's wallet (or failed)."""

    PREPARED = "prepared"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    RECEIVED = "received"
    FAILED = "failed"


class PayoutReason(StrEnum):
    THRESHOLD = "threshold"
    IDLE = "idle"
    USER = "user"
    CHAIN = "chain"  # found on chain without a local record (e.g. sent by the upstream runner)


@dataclass(frozen=True)
class PayoutRecord:
    """One payout: the contract pays (tokens_to - tokens_from) x fee to the owner."""

    id: int
    proxy_key: str
    statement_id: int | None
    worker_sc_address: str
    tokens_from: int
    tokens_to: int
    amount_nanoton: int
    gas_nanoton: int
    reason: PayoutReason
    status: PayoutStatus
    body_hash: bytes | None
    tx_hash: str | None
    owner_tx_hash: str | None
    created_at: datetime
    submitted_at: datetime | None
    confirmed_at: datetime | None
    received_at: datetime | None
    error: str | None
    external_msg_hash: str | None  # the node wallet's signed message, as explorers show it


@dataclass(frozen=True)
class RejectedStatement:
    proxy_key: str
    reason: str
    detail: str
    first_seen: datetime
    last_seen: datetime
    times_seen: int
