"""RA-TLS certificates and TLS contexts, as upstream's tee/cocoon/tdx.cpp builds and checks them.

A certificate is self-signed Ed25519, valid for a day, with two critical private extensions whose
values are the raw bytes (the X.509 extnValue OCTET STRING holds them directly):
`1.3.6.1.4.1.12345.1` the quote over SHA-512(user claims) and `1.3.6.1.4.1.12345.2` the user
claims (today the certificate's 32-byte public key). Policy `none` certificates carry neither.

TLS is mutual TLS 1.3 with AES-GCM suites and no session tickets. Python's `ssl` module cannot do
this: a server that requests a client certificate always verifies it against a CA store, so a
self-signed peer fails before our code runs (checked: CERTIFICATE_VERIFY_FAILED). pyOpenSSL
gives the verify callback upstream uses, so the policy decides inside the handshake.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from OpenSSL import SSL

from cocoon_desktop.network.attestation import (
    MAX_QUOTE_BYTES,
    AttestationError,
    AttestationPolicy,
    PeerAttestation,
    QuoteProvider,
    user_claims_hash,
)

OID_TDX_QUOTE = x509.ObjectIdentifier("1.3.6.1.4.1.12345.1")
OID_TDX_USER_CLAIMS = x509.ObjectIdentifier("1.3.6.1.4.1.12345.2")
CERT_VALIDITY = dt.timedelta(days=1)
CIPHER_SUITES = b"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
# Critical extensions OpenSSL itself understands; any other critical one must be ours.
KNOWN_CRITICAL = {
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.CERTIFICATE_POLICIES, ExtensionOID.INHIBIT_ANY_POLICY,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
}
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION = 34


@dataclass(frozen=True)
class RaTlsIdentity:
    """This side's certificate and key. The key never leaves the process; it is not a secret
    worth storing (a fresh one is made per run, as upstream does per day)."""

    certificate: x509.Certificate
    private_key: ed25519.Ed25519PrivateKey = field(repr=False)
    attestation_kind: str  # "none", "fake_tdx" or "tdx"

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def make_identity(provider: QuoteProvider | None, now: dt.datetime | None = None) -> RaTlsIdentity:
    """A fresh Ed25519 key and certificate; with a provider, the quote binds the key."""
    key = ed25519.Ed25519PrivateKey.generate()
    raw_key = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    extensions: list[x509.UnrecognizedExtension] = []
    kind = "none"
    if provider is not None and provider.kind != "none":
        quote = provider.quote(user_claims_hash(raw_key))
        if len(quote) > MAX_QUOTE_BYTES:
            raise AttestationError(f"the attestation quote is {len(quote)} bytes, above the "
                                   f"{MAX_QUOTE_BYTES} a certificate may carry; check this "
                                   "machine's attestation with `cocoon-desktop doctor`")
        extensions = [x509.UnrecognizedExtension(OID_TDX_QUOTE, quote),
                      x509.UnrecognizedExtension(OID_TDX_USER_CLAIMS, raw_key)]
        kind = provider.kind
    return RaTlsIdentity(_build_certificate(key, extensions, now), key, kind)


def _build_certificate(key: ed25519.Ed25519PrivateKey, extensions: list[x509.UnrecognizedExtension],
                       now: dt.datetime | None) -> x509.Certificate:
    now = now or dt.datetime.now(dt.UTC)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "AE"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "DUBAI"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TDLib Development"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Security"),
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
    ])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key())
               .serial_number(int.from_bytes(os.urandom(16), "big") | 1)
               .not_valid_before(now).not_valid_after(now + CERT_VALIDITY))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    san = [x509.DNSName("localhost"), x509.DNSName("127.0.0.1"),
           x509.IPAddress(ipaddress.ip_address("::1"))]  # upstream's spelling of its SAN list
    builder = (builder
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                            False, False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                     ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.SubjectAlternativeName(san), critical=False))
    return builder.sign(key, None)


def verify_certificate(cert: x509.Certificate, policy: AttestationPolicy) -> PeerAttestation:
    """Upstream's `Verifier::do_verify`: extensions, an Ed25519 key, then the policy."""
    quote = None
    for extension in cert.extensions:
        if extension.oid == OID_TDX_QUOTE:
            quote = extension.value.value
        elif extension.critical and extension.oid not in KNOWN_CRITICAL | {OID_TDX_USER_CLAIMS}:
            raise AttestationError(f"unknown critical extension "
                                   f"{extension.oid.dotted_string}: not an RA-TLS certificate "
                                   "this app understands; refused")
    public_key = cert.public_key()
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise AttestationError("the peer's certificate key is not Ed25519, as RA-TLS peers' "
                               "are; refused")
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return policy.validate(quote, raw)


class _VerifyState:
    """Per-connection result of the verify callback (pyOpenSSL app data)."""

    def __init__(self, policy: AttestationPolicy) -> None:
        self.policy = policy
        self.attestation: PeerAttestation | None = None
        self.error: str | None = None


def _verify_callback(conn: SSL.Connection, cert: object, errnum: int, depth: int,
                     ok: int) -> bool:
    state: _VerifyState = conn.get_app_data()
    if depth != 0:
        state.error = "only self-signed certificates (chain depth 0) are allowed"
        return False
    if not ok:
        if errnum in (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
                      X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION):
            return True
        state.error = f"certificate rejected by OpenSSL (X509 error {errnum}: expired, not yet " \
                      "valid or malformed)"
        return False
    try:
        state.attestation = verify_certificate(cert.to_cryptography(), state.policy)  # type: ignore[attr-defined]
    except AttestationError as exc:
        state.error = str(exc)
        return False
    return True


def make_connection(identity: RaTlsIdentity, policy: AttestationPolicy,
                    server_side: bool) -> SSL.Connection:
    """A memory-BIO TLS connection with upstream's settings and `policy` in the handshake."""
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.set_options(SSL.OP_NO_TICKET)
    ctx.set_tls13_ciphersuites(CIPHER_SUITES)
    ctx.use_certificate(identity.certificate)
    ctx.use_privatekey(identity.private_key)
    ctx.check_privatekey()
    mode = SSL.VERIFY_PEER | (SSL.VERIFY_FAIL_IF_NO_PEER_CERT if server_side else 0)
    ctx.set_verify(mode, _verify_callback)
    ctx.set_verify_depth(1)
    conn = SSL.Connection(ctx, None)
    conn.set_app_data(_VerifyState(policy))
    if server_side:
        conn.set_accept_state()
    else:
        conn.set_connect_state()
    return conn


def handshake_result(conn: SSL.Connection) -> tuple[PeerAttestation | None, str | None]:
    """After (or after a failed) handshake: the peer's attestation, or why it was refused."""
    state: _VerifyState = conn.get_app_data()
    return state.attestation, state.error
