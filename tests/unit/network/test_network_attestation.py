"""Policies over certificates: quote structure, report-data binding, image hashes, extensions.

A real TDX quote cannot be made here, so these build quotes with the byte layout of Intel's
v4/v5 formats and stand in for Intel's signature chain with `FakeDcapVerifier` (the real DCAP
verification runs on real quotes in test_network_dcap.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network import ratls
from cocoon_desktop.network.attestation import (
    AttestationError,
    AttestationPolicy,
    fake_tdx_image_hash,
    user_claims_hash,
)
from tests.helpers.fake_tdx import FakeDcapVerifier

MRTD, RTMR0 = b"\x11" * 48, b"\x22" * 48


def td_body(report_data: bytes) -> bytes:
    head = b"\x00" * (16 + 48 + 48 + 8 + 8 + 8)
    regs = MRTD + b"\x00" * 48 * 3 + RTMR0 + b"\x00" * 48 * 3
    return head + regs + report_data


def quote_v4(report_data: bytes) -> bytes:
    header = struct.pack("<HHI", 4, 2, 0x81) + b"\x00" * 40
    return header + td_body(report_data) + b"\x99" * 100  # signature data follows the body


def quote_v5(report_data: bytes) -> bytes:
    body = td_body(report_data) + b"\x00" * 64  # TDX 1.5 body: 648 bytes
    return struct.pack("<HHI", 5, 2, 0x81) + b"\x00" * 40 + struct.pack("<HI", 3, 648) + body


def tdx_policy(hashes: frozenset[bytes] = frozenset(), status: str = "UpToDate",
               accepted: frozenset[str] = frozenset({"UpToDate"})) -> AttestationPolicy:
    return AttestationPolicy("tdx", hashes, FakeDcapVerifier(status, ("INTEL-SA-00837",)),
                             accepted)


def expected_image_hash() -> bytes:
    regs = MRTD + b"\x00" * 48 * 3 + RTMR0 + b"\x00" * 48 * 3
    return hashlib.sha256(regs + b"\x00" * 64).digest()


class StaticQuote:
    def __init__(self, kind: str, make) -> None:
        self.kind, self._make = kind, make

    def quote(self, report_data: bytes) -> bytes:
        return self._make(report_data)


@pytest.mark.parametrize("make", [quote_v4, quote_v5])
def test_a_structurally_valid_tdx_quote_passes_the_tdx_policy(make) -> None:
    identity = ratls.make_identity(StaticQuote("tdx", make))
    peer = ratls.verify_certificate(identity.certificate,
                                    tdx_policy(frozenset({expected_image_hash()})))
    assert peer.kind == "TDX" and peer.image_hash == expected_image_hash()
    assert peer.public_key == identity.public_key and peer.tcb_status == "UpToDate"


def test_the_policy_decides_which_tcb_statuses_it_accepts() -> None:
    identity = ratls.make_identity(StaticQuote("tdx", quote_v4))
    with pytest.raises(AttestationError, match=r"TCB status OutOfDate \(advisories "
                                               r"INTEL-SA-00837\).*accepts only UpToDate"):
        ratls.verify_certificate(identity.certificate, tdx_policy(status="OutOfDate"))
    lenient = tdx_policy(status="OutOfDate", accepted=frozenset({"UpToDate", "OutOfDate"}))
    peer = ratls.verify_certificate(identity.certificate, lenient)
    assert (peer.tcb_status, peer.advisory_ids) == ("OutOfDate", ("INTEL-SA-00837",))


def test_without_a_collateral_source_a_tdx_peer_is_refused_never_accepted() -> None:
    identity = ratls.make_identity(StaticQuote("tdx", quote_v4))
    with pytest.raises(AttestationError, match="can't check proxies' hardware: no collateral"):
        ratls.verify_certificate(identity.certificate, AttestationPolicy("tdx"))


def test_a_tdx_quote_for_another_key_is_refused() -> None:
    stolen = quote_v4(user_claims_hash(b"\x05" * 32))
    identity = ratls.make_identity(StaticQuote("tdx", lambda _: stolen))
    with pytest.raises(AttestationError, match="report data mismatch"):
        ratls.verify_certificate(identity.certificate, tdx_policy())


def test_an_image_hash_outside_the_allow_list_is_refused() -> None:
    identity = ratls.make_identity(StaticQuote("tdx", quote_v4))
    with pytest.raises(AttestationError, match="not in the allow-list"):
        ratls.verify_certificate(identity.certificate, tdx_policy(frozenset({b"\x00" * 32})))


@pytest.mark.parametrize(("quote", "message"), [
    (b"\x04\x00" + b"\x00" * 20, "too short"),
    (struct.pack("<HHI", 3, 2, 0) + b"\x00" * 800, "Not a TDX quote"),
    (struct.pack("<HHI", 4, 2, 0x81) + b"\x00" * 100, "cut short"),
])
def test_malformed_tdx_quotes_are_refused(quote: bytes, message: str) -> None:
    identity = ratls.make_identity(StaticQuote("tdx", lambda _: quote))
    with pytest.raises(AttestationError, match=message):
        ratls.verify_certificate(identity.certificate, tdx_policy())


def test_fake_tdx_quotes_fail_the_tdx_policy_and_pass_fake_tdx() -> None:
    cert = ratls.make_identity(FakeTdxProvider()).certificate
    assert ratls.verify_certificate(cert, AttestationPolicy("fake_tdx")).image_hash == \
        fake_tdx_image_hash()
    with pytest.raises(AttestationError):
        ratls.verify_certificate(cert, tdx_policy())


def _cert(key, extensions=()) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1).not_valid_before(now)
               .not_valid_after(now + dt.timedelta(days=1)))
    for ext in extensions:
        builder = builder.add_extension(ext, critical=True)
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest)


def test_an_unknown_critical_extension_is_refused() -> None:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"x")
    with pytest.raises(AttestationError, match="unknown critical extension"):
        ratls.verify_certificate(_cert(ed25519.Ed25519PrivateKey.generate(), [ext]),
                                 AttestationPolicy("any"))


def test_a_non_ed25519_key_is_refused() -> None:
    with pytest.raises(AttestationError, match="not Ed25519"):
        ratls.verify_certificate(_cert(ec.generate_private_key(ec.SECP256R1())),
                                 AttestationPolicy("any"))


def test_policy_specs_parse_like_the_router() -> None:
    spec = AttestationPolicy.parse("tdx:" + "ab" * 32)
    assert spec.kind == "tdx" and spec.allowed_image_hashes == frozenset({b"\xab" * 32})
    with pytest.raises(ValueError, match="unknown attestation policy"):
        AttestationPolicy.parse("sgx")
    with pytest.raises(ValueError, match="64 hex characters"):
        AttestationPolicy.parse("tdx:abcd")
    with pytest.raises(ValueError, match="cannot check image hashes"):
        AttestationPolicy.parse("any:" + "ab" * 32)
