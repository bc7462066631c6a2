"""Peer attestation for RA-TLS: quote parsing, the image hash, and the three policies.

Mirrors upstream tee/cocoon/tdx.cpp:
- `any`: no quote needed (upstream's policy without a TDX interface).
- `fake_tdx`: the "quote" is the 64-byte report data itself; test networks only.
- `tdx`: an Intel TDX quote (v4 body, or v5 with a TDX 1.0/1.5 body) whose signature chain
  verifies up to Intel's root with DCAP (`QuoteVerifier`: `DcapVerifier` over the collateral
  cache), whose TCB status is one the policy accepts (upstream accepts only `UpToDate`), whose
  report data is SHA-512 of the user claims (the certificate's Ed25519 public key) and whose
  image hash is in the allow-list when one is given. Without collateral the peer is refused
  with the reason; nothing is ever accepted unchecked.

Quote parsing and the image hash (SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG,
RTMR0-3 and 64 zero bytes) come from `cocoon_desktop.protocol.tdx_quote`, shared with the providers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.network.collateral import CollateralCache, CollateralRefresher
from cocoon_desktop.protocol import tdx_quote as quote_mod

if TYPE_CHECKING:
    import aiohttp

POLICY_KINDS = ("any", "fake_tdx", "tdx")
MAX_QUOTE_BYTES = 32 * 1024  # upstream's cap on the quote extension
UPSTREAM_TCB_STATUSES = frozenset({"UpToDate"})  # upstream: SGX_QL_QV_RESULT_OK only


class AttestationError(ValueError):
    """The peer's attestation does not satisfy the policy (message says why)."""


class QuoteProvider(Protocol):
    """What RA-TLS needs from the engine's attestation (engine.attestation.providers)."""

    kind: str  # "tdx", "fake_tdx" or "none"

    def quote(self, report_data: bytes) -> bytes: ...


class QuoteVerifier(Protocol):
    """Checks a TDX quote's signature chain (DCAP); raises AttestationError with the reason."""

    def verify(self, quote: bytes) -> quote_mod.DcapVerdict: ...


class NoQuoteVerifier:
    """The `tdx` policy without a collateral source: every TDX peer is refused, saying why."""

    def verify(self, quote: bytes) -> quote_mod.DcapVerdict:
        raise AttestationError("can't check proxies' hardware: no collateral source is "
                               "configured (set `collateral_url` to a PCCS or Intel's PCS)")


@dataclass(frozen=True)
class DcapVerifier:
    """Intel DCAP over the collateral cache, at the clock's time."""

    collateral: CollateralCache
    clock: Callable[[], float] = time.time

    def verify(self, quote: bytes) -> quote_mod.DcapVerdict:
        try:
            key = quote_mod.collateral_key(quote)
        except quote_mod.QuoteError as exc:
            raise AttestationError(f"{exc} Refused.") from None
        found = self.collateral.lookup(key)
        if found is None:
            raise AttestationError(self.collateral.missing_reason(key))
        try:
            return quote_mod.dcap_verify(quote, found.json_text, int(self.clock()))
        except quote_mod.QuoteError as exc:
            raise AttestationError(f"{exc}; refused: the quote is not from genuine, "
                                   "current TDX hardware") from None


@dataclass(frozen=True)
class PeerAttestation:
    """What the handshake proved about the peer."""

    kind: str  # "none", "fake TDX" or "TDX"
    public_key: bytes  # the peer certificate's Ed25519 key (32 bytes)
    image_hash: bytes = b"\x00" * 32  # zero when there is no attestation
    tcb_status: str = ""  # DCAP's verdict for a TDX peer ("UpToDate", ...); "" otherwise
    advisory_ids: tuple[str, ...] = ()

    @property
    def image_hash_hex(self) -> str:
        return self.image_hash.hex()


def user_claims_hash(public_key: bytes) -> bytes:
    """Report data binding a quote to a certificate: SHA-512 of the claims (the raw key)."""
    return quote_mod.report_data_for_claims(public_key)


def fake_tdx_image_hash() -> bytes:
    """The image hash every fake-TDX peer has (all measurements zero)."""
    return quote_mod.fake_tdx_measurements(bytes(quote_mod.REPORT_DATA_BYTES)).image_hash()


def _measurements(kind: str, quote: bytes) -> quote_mod.TdxMeasurements:
    try:
        if kind == "fake_tdx":
            return quote_mod.fake_tdx_measurements(quote)
        return quote_mod.parse_tdx_quote(quote)
    except quote_mod.QuoteError as exc:
        raise AttestationError(str(exc)) from exc


@dataclass(frozen=True)
class AttestationPolicy:
    """How to judge a peer's certificate: `any`, `fake_tdx`, or `tdx` with allowed image hashes,
    a quote verifier (DCAP) and the TCB statuses it accepts."""

    kind: str = "any"
    allowed_image_hashes: frozenset[bytes] = field(default_factory=frozenset)
    verifier: QuoteVerifier = field(default_factory=NoQuoteVerifier, compare=False)
    accepted_tcb_statuses: frozenset[str] = UPSTREAM_TCB_STATUSES
    allowed_root_key_ids: frozenset[bytes] = frozenset({quote_mod.INTEL_ROOT_KEY_ID})

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise ValueError(f"unknown attestation policy {self.kind!r}; use one of "
                             f"{', '.join(POLICY_KINDS)}")
        if self.kind == "any" and self.allowed_image_hashes:
            raise ValueError("the 'any' policy cannot check image hashes; use 'tdx' or 'fake_tdx'")

    @classmethod
    def parse(cls, spec: str, image_hashes: Iterable[str] = (),
              verifier: QuoteVerifier | None = None) -> AttestationPolicy:
        """`any`, `fake_tdx`, `tdx`, or upstream's `tdx:HEX,HEX` spelling."""
        kind, _, inline = spec.partition(":")
        hashes = [h for h in inline.split(",") if h] + list(image_hashes)
        try:
            parsed = frozenset(bytes.fromhex(h) for h in hashes)
        except ValueError as exc:
            raise ValueError(f"image hashes must be hex (64 hex characters each): {exc}"
                             ) from exc
        if any(len(h) != 32 for h in parsed):
            raise ValueError("each image hash must be 64 hex characters (32 bytes)")
        return cls(kind, parsed, verifier or NoQuoteVerifier())

    def validate(self, quote: bytes | None, public_key: bytes) -> PeerAttestation:
        """Check the peer's quote against its certificate key; AttestationError says why not."""
        if self.kind == "any":
            return PeerAttestation("none", public_key)
        if quote is None:
            raise AttestationError(f"the peer's certificate has no attestation quote, and the "
                                   f"'{self.kind}' policy requires one; connect to a peer that "
                                   "attests, or relax the policy only for a network you trust")
        if len(quote) > MAX_QUOTE_BYTES:
            raise AttestationError(f"the peer's quote of {len(quote)} bytes exceeds "
                                   f"{MAX_QUOTE_BYTES}: it is not a TDX quote; refused")
        verdict = self._check_tcb(quote) if self.kind == "tdx" else None
        measurements = _measurements(self.kind, quote)
        if measurements.report_data != user_claims_hash(public_key):
            raise AttestationError("report data mismatch: the quote was not made for this "
                                   "certificate's key (a replayed or stolen quote); refused, "
                                   "nothing to change on this side")
        image_hash = measurements.image_hash()
        if self.allowed_image_hashes and image_hash not in self.allowed_image_hashes:
            raise AttestationError(f"image hash {image_hash.hex()} is not in the allow-list; "
                                   "add it to the allowed image hashes if you trust that image")
        if verdict is None:
            return PeerAttestation("fake TDX", public_key, image_hash)
        return PeerAttestation("TDX", public_key, image_hash, verdict.tcb_status,
                               verdict.advisory_ids)

    def _check_tcb(self, quote: bytes) -> quote_mod.DcapVerdict:
        verdict = self.verifier.verify(quote)
        if verdict.root_key_id not in self.allowed_root_key_ids:
            raise AttestationError(
                f"the peer's quote chains up to root key {verdict.root_key_id.hex()[:16]}…, "
                "which is not an allowed collateral root (Intel's SGX Root CA by default, as "
                "upstream); refused")
        if verdict.tcb_status not in self.accepted_tcb_statuses:
            advisories = (f" (advisories {', '.join(verdict.advisory_ids)})"
                          if verdict.advisory_ids else "")
            raise AttestationError(
                f"the peer's TDX platform has TCB status {verdict.tcb_status}{advisories}, "
                f"and this node accepts only {', '.join(sorted(self.accepted_tcb_statuses))}; "
                "refused (the peer must update its platform)")
        return verdict


def dcap_policy(collateral_folder: Path, collateral_url: str,
                accepted_tcb_statuses: Iterable[str],
                session_factory: Callable[[], aiohttp.ClientSession] | None = None
                ) -> tuple[AttestationPolicy, TaskSet]:
    """The `tdx` policy mainnet workers hold proxies to: quotes checked with Intel DCAP
    against collateral from `collateral_url` (fetched with `session_factory`'s sessions),
    cached in `collateral_folder` and refreshed by the returned task set's task (close it
    with the worker)."""
    cache = CollateralCache(collateral_folder)
    refresher = TaskSet("the collateral refresher")
    refresher.spawn(CollateralRefresher(cache, collateral_url, session_factory).run(),
                    "collateral refresher")
    return AttestationPolicy("tdx", verifier=DcapVerifier(cache),
                             accepted_tcb_statuses=frozenset(accepted_tcb_statuses)), refresher
