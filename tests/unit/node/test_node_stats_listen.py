"""The stats surface beyond loopback: HTTPS, or plain HTTP only when the risk was accepted."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cocoon_desktop.node.stats_surface import StatsSurface

TOKEN = "stats-listen-token-0123456789"


async def test_a_plain_http_bind_beyond_loopback_is_refused_before_listening() -> None:
    surface = StatsSurface("0.0.0.0", 0, TOKEN)
    with pytest.raises(PermissionError, match=r"over plain HTTP.*tls_certificate.*"
                                              r"accept_plain_http_risk"):
        await surface.start(None, None, str, dict)  # type: ignore[arg-type]
    assert surface.url == ""


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "k.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "c.pem", folder / "k.pem"


async def test_with_a_certificate_the_stats_are_served_over_https(tmp_path: Path) -> None:
    surface = StatsSurface("127.0.0.1", 0, TOKEN, tls=self_signed(tmp_path))
    url = await surface.start(None, None, str, lambda: {"state": "serving"})  # type: ignore
    try:
        assert url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
        context.check_hostname = False
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/nodestatus", ssl=context,
                                headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200 and (await resp.json()) == {"state": "serving"}
            with pytest.raises(aiohttp.ClientError):
                async with http.get(url.replace("https", "http") + "/nodestatus"):
                    pass
    finally:
        await surface.stop()
