"""The TDX quote format as Cocoon uses it: registers, report data and the image hash.

Upstream Cocoon (tee/cocoon/tdx.cpp, docs/ra-tls.md) puts a quote in every RA-TLS certificate:
report_data = SHA-512(user claims) (64 bytes), and the quote binds those bytes to the machine.
A `fake_tdx` quote (upstream's test format) is the 64 report_data bytes themselves, and every
measurement register reads as zero.

The image hash (what the root contract lists as allowed worker hashes) is upstream's
`AttestationData::image_hash`: SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3
(48 bytes each, in that order) followed by 64 zero bytes where REPORTDATA was. A fake quote has
all-zero registers, so every fake_tdx worker has the same image hash.

`dcap_verify` checks a real quote's signature chain up to Intel's root with Intel DCAP
(`dcap-qvl`: the QE report, the PCK certificate chain and CRLs, the TCB info and QE identity),
offline, against collateral fetched beforehand (`network.collateral`), and reports the TCB
status; which statuses a peer may have is the policy's choice (`network.attestation`).
dcap-qvl is imported on the first quote read, not with this module (the app's first window
imports the node's settings, which name Intel's PCS).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

INTEL_PCS_URL = "https://api.trustedservices.intel.com"  # where DCAP collateral comes from
REPORT_DATA_BYTES = 64
REGISTER_BYTES = 48
TEE_TYPE_TDX = 0x81
_QUOTE_HEADER_BYTES = 48
_TD_REPORT_MRTD_OFFSET = 136  # tee_tcb_svn, mr_seam, mr_signer_seam, attributes, xfam
_TD_REPORT10_BYTES = 584
# Upstream's default `allowed_collateral_root_hashes` (tee/cocoon/router.cpp): the key ID of
# Intel's SGX Root CA, SHA-384 of its public key as an uncompressed point.
INTEL_ROOT_KEY_ID = bytes.fromhex(
    "46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5dcf58eef31463613de1570d516200993")


class QuoteError(Exception):
    """A quote could not be made or read. The text says why and what to do."""


@dataclass(frozen=True)
class CollateralKey:
    """Which collateral a quote needs: its platform's FMSPC and the CA that issued its PCK."""

    fmspc: str  # 12 hex digits, upper case as Intel's PCS spells it
    ca: str  # "platform" or "processor"


@dataclass(frozen=True)
class DcapVerdict:
    """What Intel DCAP said about a quote whose signature chain verified."""

    tcb_status: str  # "UpToDate", "SWHardeningNeeded", "OutOfDate", ...
    advisory_ids: tuple[str, ...]  # Intel security advisories, e.g. "INTEL-SA-00837"
    root_key_id: bytes  # SHA-384 of the chain's root CA key (upstream's collateral root hash)


def collateral_key(quote: bytes) -> CollateralKey:
    """The collateral a quote needs (read from its PCK certificate)."""
    import dcap_qvl

    try:
        parsed = dcap_qvl.parse_quote(quote)
        return CollateralKey(parsed.fmspc().upper(), parsed.ca().lower())
    except Exception as exc:  # the binding raises ValueError/RuntimeError on garbage
        raise QuoteError(f"The TDX quote cannot be read ({_first_line(exc)}).") from None


def dcap_verify(quote: bytes, collateral_json: str, now_unix_s: int) -> DcapVerdict:
    """Verify `quote`'s signature chain against collateral at the given time (QuoteError)."""
    import dcap_qvl

    try:
        collateral = dcap_qvl.QuoteCollateralV3.from_json(collateral_json)
        report = dcap_qvl.verify(quote, collateral, int(now_unix_s))
    except Exception as exc:
        raise QuoteError(f"Intel DCAP refused the quote: {_first_line(exc)}") from None
    return DcapVerdict(str(report.status), tuple(str(a) for a in report.advisory_ids),
                       root_key_id(quote))


def root_key_id(quote: bytes) -> bytes:
    """SHA-384 of the public key of the root CA at the end of the quote's PCK chain."""
    import dcap_qvl
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        chain = x509.load_pem_x509_certificates(dcap_qvl.parse_quote(quote).cert_chain_pem_bytes())
        point = chain[-1].public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    except Exception as exc:  # parse_quote, the PEM loader and a non-EC key raise differently
        raise QuoteError(f"The TDX quote's certificate chain cannot be read "
                         f"({_first_line(exc)}).") from None
    return hashlib.sha384(point).digest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).removeprefix("Verification failed: ")


@dataclass(frozen=True)
class TdxMeasurements:
    """The measurement registers of a TDX quote (48 bytes each) and its report data."""

    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmr: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes

    def image_hash(self) -> bytes:
        """Upstream's image hash: SHA-256 of the registers with report data zeroed."""
        registers = (self.mr_td, self.mr_config_id, self.mr_owner, self.mr_owner_config,
                     *self.rtmr)
        return hashlib.sha256(b"".join(registers) + bytes(REPORT_DATA_BYTES)).digest()

    @property
    def is_fake(self) -> bool:
        """Upstream tells a fake quote by an all-zero RTMR0."""
        return not any(self.rtmr[0])


def _registers(body: bytes, report_data: bytes) -> TdxMeasurements:
    regs = [body[i * REGISTER_BYTES:(i + 1) * REGISTER_BYTES] for i in range(8)]
    return TdxMeasurements(regs[0], regs[1], regs[2], regs[3],
                           (regs[4], regs[5], regs[6], regs[7]), report_data)


def parse_tdx_quote(quote: bytes) -> TdxMeasurements:
    """Read the registers out of a TDX quote (version 4, or 5 with a TD report 1.0/1.5 body).

    This parses; it does not verify Intel's signature (peers do that with DCAP).
    """
    if len(quote) < _QUOTE_HEADER_BYTES:
        raise QuoteError(f"The TDX quote is too short ({len(quote)} bytes) to hold a header.")
    version, _key_type, tee_type = struct.unpack_from("<HHI", quote, 0)
    body_offset = _QUOTE_HEADER_BYTES
    if version == 5:
        body_type, _body_size = struct.unpack_from("<HI", quote, body_offset)
        if body_type not in (2, 3):
            raise QuoteError(f"The quote's body type {body_type} is not a TDX report.")
        body_offset += 6
    elif version != 4 or tee_type != TEE_TYPE_TDX:
        raise QuoteError(f"Not a TDX quote (version {version}, TEE type {tee_type:#x}).")
    start = body_offset + _TD_REPORT_MRTD_OFFSET
    end = body_offset + _TD_REPORT10_BYTES
    if len(quote) < end:
        raise QuoteError(f"The TDX quote is cut short ({len(quote)} bytes, need {end}).")
    return _registers(quote[start:end - REPORT_DATA_BYTES], quote[end - REPORT_DATA_BYTES:end])


def fake_tdx_measurements(quote: bytes) -> TdxMeasurements:
    """What upstream's FakeTdxInterface reads from a fake quote: zeros and the report data."""
    if len(quote) != REPORT_DATA_BYTES:
        raise QuoteError(
            f"Invalid fake quote size: expected {REPORT_DATA_BYTES} bytes, got {len(quote)}."
        )
    zero = bytes(REGISTER_BYTES)
    return TdxMeasurements(zero, zero, zero, zero, (zero, zero, zero, zero), quote)


def check_report_data(report_data: bytes) -> bytes:
    if not isinstance(report_data, bytes | bytearray) or len(report_data) != REPORT_DATA_BYTES:
        raise ValueError(
            f"report_data must be exactly {REPORT_DATA_BYTES} bytes (SHA-512 of the user claims)"
        )
    return bytes(report_data)


def report_data_for_claims(claims: bytes) -> bytes:
    """Upstream's report data for serialized user claims: SHA-512 (64 bytes)."""
    return hashlib.sha512(claims).digest()


def image_hash_of_quote(kind: str, quote: bytes) -> bytes | None:
    """The image hash a peer derives from a quote of the given provider kind."""
    if kind == "tdx":
        return parse_tdx_quote(quote).image_hash()
    if kind == "fake_tdx":
        return fake_tdx_measurements(quote).image_hash()
    return None
