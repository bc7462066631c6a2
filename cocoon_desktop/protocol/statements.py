"""Signed payment statements from proxies: parse and verify before anything trusts them.

A proxy pays a worker by signing a cumulative "pay up to N adjusted tokens" message for the
worker's contract (`proxy.signedPayment data:bytes`, a BOC). The worker keeps the newest one and
may submit it on chain at any time; the contract pays the difference to what it already paid.
Nothing in a statement counts until its Ed25519 signature checks against the proxy's public key
and it names this worker's contract.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

import nacl.exceptions
import nacl.signing
from pytoniq_core import Address, Cell

from cocoon_desktop.protocol.cells import (
    CellLayoutError,
    build_pay_payload,
    parse_signed_pay_message,
    raw_address,
    wrap_signed_payload,
)

MAX_STATEMENT_BYTES = 4096  # a real one is about 200 bytes
MAX_TOKENS = 2**63 - 1  # upstream reads the 64-bit field into an int64 (WorkerContract.cpp)


class RejectReason(StrEnum):
    """Why a statement was not stored; each has a sentence the UI can show."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_PROXY = "unknown_proxy"
    WRONG_WORKER = "wrong_worker"
    ROLLBACK = "rollback"  # validly signed, but less than the proxy had already committed


class StatementRejected(ValueError):
    """A statement failed a check; nothing was stored. `reason` says which check."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedStatement:
    """A statement whose signature checked against `proxy_public_key`. Build it only with
    `verify_statement` (or read it back from the ledger, which stores nothing else): whoever
    holds one may trust it without checking the signature again."""

    proxy_public_key: bytes = field(repr=False)
    worker_sc_address: str  # raw `wc:hex`
    tokens_committed: int  # cumulative adjusted tokens the proxy owes this worker contract
    qid: int
    return_excesses_to: str
    signature: bytes = field(repr=False)
    payload_hash: bytes = field(repr=False)
    boc: bytes = field(repr=False)

    @property
    def proxy_key_hex(self) -> str:
        return self.proxy_public_key.hex()


def verify_statement(
    boc: bytes, proxy_public_key: bytes, expected_worker_sc_address: str | None = None
) -> VerifiedStatement:
    """Parse `boc` with upstream's layout rules and check the proxy's signature over the payload's
    cell hash (`WorkerContract::check_signed_pay_message`). Raises StatementRejected."""
    if len(proxy_public_key) != 32:
        raise StatementRejected(RejectReason.UNKNOWN_PROXY, "the proxy public key is not 32 bytes")
    if not boc or len(boc) > MAX_STATEMENT_BYTES:
        raise StatementRejected(
            RejectReason.MALFORMED, f"a payment statement of {len(boc)} bytes cannot be valid"
        )
    try:
        parts = parse_signed_pay_message(Cell.one_from_boc(boc))
    except CellLayoutError as exc:
        raise StatementRejected(RejectReason.MALFORMED, f"malformed statement: {exc}") from None
    except Exception as exc:  # untrusted bytes: pytoniq raises many types on garbage
        raise StatementRejected(
            RejectReason.MALFORMED, f"the statement is not a valid cell: {type(exc).__name__}"
        ) from None
    payload_hash = parts.payload.hash
    try:
        nacl.signing.VerifyKey(proxy_public_key).verify(payload_hash, parts.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise StatementRejected(
            RejectReason.BAD_SIGNATURE,
            "the statement's signature does not match the proxy's key (tampered or from another "
            "proxy)",
        ) from None
    if not 0 <= parts.tokens_processed <= MAX_TOKENS:
        raise StatementRejected(
            RejectReason.MALFORMED,
            f"the statement commits {parts.tokens_processed} tokens, beyond upstream's "
            f"64-bit signed limit ({MAX_TOKENS}); no real proxy signs that")
    worker_sc = raw_address(parts.worker_sc_address)
    if expected_worker_sc_address is not None and worker_sc != expected_worker_sc_address:
        raise StatementRejected(
            RejectReason.WRONG_WORKER,
            f"the statement pays contract {worker_sc}, not this worker's "
            f"{expected_worker_sc_address}",
        )
    return VerifiedStatement(
        proxy_public_key=bytes(proxy_public_key),
        worker_sc_address=worker_sc,
        tokens_committed=parts.tokens_processed,
        qid=parts.qid,
        return_excesses_to=raw_address(parts.return_excesses_to),
        signature=parts.signature,
        payload_hash=payload_hash,
        boc=bytes(boc),
    )


def sign_statement(
    proxy_signing_seed: bytes,
    tokens_committed: int,
    worker_sc_address: Address,
    return_excesses_to: Address,
    qid: int | None = None,
) -> bytes:
    """The proxy's side (`ProxyRunner::sign_worker_payment`), for the devnet and for tests:
    sign "pay up to `tokens_committed`" for `worker_sc_address` and return the BOC."""
    payload = build_pay_payload(
        secrets.randbits(64) if qid is None else qid, tokens_committed, worker_sc_address
    )
    signature = nacl.signing.SigningKey(proxy_signing_seed).sign(payload.hash).signature
    return wrap_signed_payload(payload, signature, return_excesses_to).to_boc()
