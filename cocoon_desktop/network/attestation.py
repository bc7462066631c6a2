"""Peer attestation for RA-TLS: quote parsing, the image hash, and the three policies.

Mirrors upstream tee/cocoon/tdx.cpp:
- `any`: no quote needed (upstream's policy without a TDX interface).
- `fake_tdx`: the "quote" is the 64-byte report data itself; test networks only.
- `tdx`: an Intel TDX quote (v4 body, or v5 with a TDX 1.0/1.5 body). Its report data must be
  SHA-512 of the user claims (the certificate's Ed25519 public key) and its image hash must be
  in the allow-list when one is given. What is missing here is DCAP: the quote's ECDSA
  signature chain up to Intel's root (QE report, PCK certificates, TCB status, collateral root
  key id) is NOT verified, so a `tdx` peer is only structurally checked; see docs/areas/network.md.

Image hash = SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3 and 64 zero bytes
in place of the report data (upstream `AttestationData::image_hash`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

POLICY_KINDS = ("any", "fake_tdx", "tdx")
QUOTE_HEADER_BYTES = 48
TDX_BODY10_BYTES = 584
TDX_BODY15_BYTES = 648
TEE_TYPE_TDX = 0x81
MEASUREMENT_BYTES = 48
REPORT_DATA_BYTES = 64
MAX_QUOTE_BYTES = 32 * 1024


class AttestationError(ValueError):
    """The peer's attestation does not satisfy the policy (message says why)."""


class QuoteProvider(Protocol):
    """What RA-TLS needs from the engine's attestation: a kind and a quote over report data."""

    kind: str  # "tdx", "fake_tdx" or "none"

    def quote(self, report_data: bytes) -> bytes: ...


@dataclass(frozen=True)
class TdxMeasurements:
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes

    @property
    def image_hash(self) -> bytes:
        body = (self.mr_td + self.mr_config_id + self.mr_owner + self.mr_owner_config
                + b"".join(self.rtmrs) + b"\x00" * REPORT_DATA_BYTES)
        return hashlib.sha256(body).digest()

    @property
    def is_fake(self) -> bool:
        """Upstream calls an attestation "fake TDX" when RTMR0 is all zeros."""
        return not any(self.rtmrs[0])


@dataclass(frozen=True)
class PeerAttestation:
    """What the handshake proved about the peer."""

    kind: str  # "none", "fake TDX" or "TDX"
    public_key: bytes  # the peer certificate's Ed25519 key (32 bytes)
    image_hash: bytes = b"\x00" * 32  # zero when there is no attestation

    @property
    def image_hash_hex(self) -> str:
        return self.image_hash.hex()


def parse_tdx_body(body: bytes) -> TdxMeasurements:
    """The measurements of a TDX 1.0 quote body (the first 584 bytes of a 1.5 body too)."""
    offset = 16 + 48 + 48 + 8 + 8 + 8  # tee_tcb_svn, mr_seam, mr_signer_seam, attributes, xfam
    fields = [body[offset + i * 48 : offset + (i + 1) * 48] for i in range(8)]
    report_data = body[offset + 8 * 48 : offset + 8 * 48 + REPORT_DATA_BYTES]
    return TdxMeasurements(fields[0], fields[1], fields[2], fields[3],
                           (fields[4], fields[5], fields[6], fields[7]), report_data)


def parse_tdx_quote(quote: bytes) -> TdxMeasurements:
    """Measurements of an Intel quote (v4 TDX, or v5 with a TDX body); AttestationError else."""
    if len(quote) < QUOTE_HEADER_BYTES:
        raise AttestationError(f"quote too small: {len(quote)} bytes, a header needs "
                               f"{QUOTE_HEADER_BYTES}")
    version, _key_type, tee_type = struct.unpack_from("<HHI", quote)
    rest = quote[QUOTE_HEADER_BYTES:]
    if version == 4:
        if tee_type != TEE_TYPE_TDX:
            raise AttestationError(f"quote v4 is for TEE type {tee_type:#x}, not TDX (0x81)")
        if len(rest) < TDX_BODY10_BYTES:
            raise AttestationError("quote v4 is truncated: the TDX body is incomplete")
        return parse_tdx_body(rest[:TDX_BODY10_BYTES])
    if version == 5:
        if len(rest) < 6:
            raise AttestationError("quote v5 is truncated: no body header")
        body_type, size = struct.unpack_from("<HI", rest)
        body = rest[6 : 6 + size]
        expected = {2: TDX_BODY10_BYTES, 3: TDX_BODY15_BYTES}.get(body_type)
        if expected is None:
            raise AttestationError(f"quote v5 body type {body_type} is not a TDX report")
        if len(body) != expected or size != expected:
            raise AttestationError(f"quote v5 TDX body has {len(body)} bytes, expected {expected}")
        return parse_tdx_body(body[:TDX_BODY10_BYTES])
    raise AttestationError(f"unsupported quote version {version} (expected 4 or 5 for TDX)")


def user_claims_hash(public_key: bytes) -> bytes:
    """Report data binding a quote to a certificate: SHA-512 of the claims (the raw key)."""
    return hashlib.sha512(public_key).digest()


def fake_tdx_image_hash() -> bytes:
    """The image hash every fake-TDX peer has (all measurements zero)."""
    zero = b"\x00" * MEASUREMENT_BYTES
    return TdxMeasurements(zero, zero, zero, zero, (zero,) * 4, b"").image_hash


@dataclass(frozen=True)
class AttestationPolicy:
    """How to judge a peer's certificate: `any`, `fake_tdx`, or `tdx` with allowed image hashes."""

    kind: str = "any"
    allowed_image_hashes: frozenset[bytes] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise ValueError(f"unknown attestation policy {self.kind!r}; use one of "
                             f"{', '.join(POLICY_KINDS)}")
        if self.kind == "any" and self.allowed_image_hashes:
            raise ValueError("the 'any' policy cannot check image hashes; use 'tdx' or 'fake_tdx'")

    @classmethod
    def parse(cls, spec: str, image_hashes: Iterable[str] = ()) -> AttestationPolicy:
        """`any`, `fake_tdx`, `tdx`, or upstream's `tdx:HEX,HEX` spelling."""
        kind, _, inline = spec.partition(":")
        hashes = [h for h in inline.split(",") if h] + list(image_hashes)
        try:
            parsed = frozenset(bytes.fromhex(h) for h in hashes)
        except ValueError as exc:
            raise ValueError(f"image hashes must be hex: {exc}") from exc
        if any(len(h) != 32 for h in parsed):
            raise ValueError("each image hash must be 64 hex characters (32 bytes)")
        return cls(kind, parsed)

    def validate(self, quote: bytes | None, public_key: bytes) -> PeerAttestation:
        """Check the peer's quote against its certificate key; AttestationError says why not."""
        if self.kind == "any":
            return PeerAttestation("none", public_key)
        if quote is None:
            raise AttestationError(f"the peer's certificate has no attestation quote, and the "
                                   f"'{self.kind}' policy requires one")
        if len(quote) > MAX_QUOTE_BYTES:
            raise AttestationError(f"quote of {len(quote)} bytes exceeds {MAX_QUOTE_BYTES}")
        if self.kind == "fake_tdx":
            if len(quote) != REPORT_DATA_BYTES:
                raise AttestationError(f"invalid fake quote size: expected {REPORT_DATA_BYTES} "
                                       f"bytes, got {len(quote)}")
            zero = b"\x00" * MEASUREMENT_BYTES
            measurements = TdxMeasurements(zero, zero, zero, zero, (zero,) * 4, quote)
        else:
            measurements = parse_tdx_quote(quote)
        if measurements.report_data != user_claims_hash(public_key):
            raise AttestationError("report data mismatch: the quote was not made for this "
                                   "certificate's key (a replayed or stolen quote)")
        image_hash = measurements.image_hash
        if self.allowed_image_hashes and image_hash not in self.allowed_image_hashes:
            raise AttestationError(f"image hash {image_hash.hex()} is not in the allow-list")
        kind = "fake TDX" if measurements.is_fake else "TDX"
        return PeerAttestation(kind, public_key, image_hash)
