"""RA-TLS over loopback: proof of work, mutual TLS 1.3 with Ed25519, policies, TL framing."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.x509.oid import ExtensionOID

from cocoon_desktop.network import pow as pow_
from cocoon_desktop.network import ratls
from cocoon_desktop.network.attestation import (
    AttestationError,
    AttestationPolicy,
    fake_tdx_image_hash,
)
from cocoon_desktop.network.connection import TlConnection
from cocoon_desktop.network.errors import RemoteError
from cocoon_desktop.network.transport import Endpoint, connect, serve_ratls
from tests.helpers.fake_tdx import FakeDcapVerifier


class ReplayedQuote:
    """A fake-TDX provider that ignores the report data: a quote stolen from another key."""

    kind = "fake_tdx"

    def quote(self, report_data: bytes) -> bytes:
        return b"\x11" * 64


async def start_echo_server(policy: AttestationPolicy, provider, accepted: list):
    identity = ratls.make_identity(provider)

    async def on_accept(stream, peer, where):
        accepted.append(peer)

        async def on_query(data: bytes) -> bytes:
            if data == b"fail":
                raise RemoteError(602, "asked to fail")
            return data[::-1]

        conn = TlConnection(stream, is_client=False, name="server", on_query=on_query)
        await conn.start()
        await conn.closed.wait()

    server = await serve_ratls("127.0.0.1", 0, identity, policy, on_accept, pow_difficulty=8)
    return server, Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])


def test_certificate_layout_matches_upstream(fake_tdx) -> None:
    identity = ratls.make_identity(fake_tdx)
    cert = identity.certificate
    oids = [e.oid for e in cert.extensions]
    assert oids[:2] == [ratls.OID_TDX_QUOTE, ratls.OID_TDX_USER_CLAIMS]
    assert all(e.critical for e in cert.extensions[:2])
    assert cert.extensions[1].value.value == identity.public_key
    assert len(cert.extensions[0].value.value) == 64
    assert cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).critical
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == 86400


async def test_fake_tdx_peers_connect_and_exchange_queries(fake_tdx) -> None:
    accepted: list = []
    server, endpoint = await start_echo_server(AttestationPolicy("fake_tdx"), fake_tdx, accepted)
    async with server:
        conn, peer = await connect(endpoint, ratls.make_identity(fake_tdx),
                                   AttestationPolicy("fake_tdx"), name="client")
        assert peer.kind == "fake TDX" and peer.image_hash == fake_tdx_image_hash()
        assert await conn.query(b"abcdef", 5) == b"fedcba"
        with pytest.raises(RemoteError, match="asked to fail") as info:
            await conn.query(b"fail", 5)
        assert info.value.code == 602
        big = bytes(range(256)) * 4096  # 1 MiB through TLS and framing
        assert await conn.query(big, 10) == big[::-1]
        await conn.close()
    assert accepted[0].kind == "fake TDX"


async def test_a_peer_without_a_quote_is_refused_by_a_fake_tdx_policy(no_tdx, fake_tdx) -> None:
    accepted: list = []
    server, endpoint = await start_echo_server(AttestationPolicy("fake_tdx"), fake_tdx, accepted)
    async with server:
        with pytest.raises((ConnectionError, AttestationError)):
            conn, _ = await connect(endpoint, ratls.make_identity(no_tdx),
                                    AttestationPolicy("any"), name="client")
            await conn.query(b"x", 2)
    assert accepted == []


async def test_the_client_refuses_a_server_outside_its_policy(fake_tdx) -> None:
    server, endpoint = await start_echo_server(AttestationPolicy("any"), None, [])
    async with server:
        with pytest.raises(AttestationError, match="no attestation quote"):
            await connect(endpoint, ratls.make_identity(fake_tdx),
                          AttestationPolicy("fake_tdx"), name="client")


@pytest.mark.parametrize(("policy", "message"), [
    (AttestationPolicy("tdx", verifier=FakeDcapVerifier()), "quote"),
    (AttestationPolicy("tdx"), "can't check proxies' hardware: no collateral"),
    (AttestationPolicy("fake_tdx", frozenset({b"\x01" * 32})), "not in the allow-list"),
])
async def test_policy_mismatches_are_refused_with_the_reason(fake_tdx, policy, message) -> None:
    server, endpoint = await start_echo_server(AttestationPolicy("any"), fake_tdx, [])
    async with server:
        with pytest.raises(AttestationError, match=message):
            await connect(endpoint, ratls.make_identity(None), policy, name="client")


async def test_a_replayed_quote_is_refused(fake_tdx) -> None:
    server, endpoint = await start_echo_server(AttestationPolicy("any"), ReplayedQuote(), [])
    async with server:
        with pytest.raises(AttestationError, match="report data mismatch"):
            await connect(endpoint, ratls.make_identity(None), AttestationPolicy("fake_tdx"),
                          name="client")


async def test_a_client_that_skips_the_proof_of_work_is_dropped() -> None:
    server, endpoint = await start_echo_server(AttestationPolicy("any"), None, [])
    async with server:
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        challenge = pow_.PowChallenge.decode(await reader.readexactly(24))
        assert challenge.difficulty_bits == 8
        nonce = next(n for n in range(10_000) if not challenge.verify(n))
        writer.write(pow_.encode_response(nonce))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_an_idle_connection_times_out_and_pings_keep_it_alive(fake_tdx) -> None:
    server, endpoint = await start_echo_server(AttestationPolicy("any"), None, [])
    async with server:
        conn, _ = await connect(endpoint, ratls.make_identity(None), AttestationPolicy("any"),
                                name="client", timeout_s=1.5)
        await asyncio.sleep(3.5)  # the client pings every 0.75 s, so the server answers pongs
        assert not conn.closed.is_set()
        assert await conn.query(b"ok", 2) == b"ko"
        await conn.close()


async def test_a_client_that_only_receives_is_still_heard_from() -> None:
    """The server streams to a silent client for several server timeouts: the client's pings
    keep the session alive on both sides."""
    closed_by_server: list[str] = []

    async def on_accept(stream, peer, where):
        conn = TlConnection(stream, is_client=False, name="server", timeout_s=1.0)
        await conn.start()
        for _ in range(30):
            if conn.closed.is_set():
                break
            await conn.send_packet(b"tick")
            await asyncio.sleep(0.1)
        closed_by_server.append(conn.close_reason)
        await conn.close()

    server = await serve_ratls("127.0.0.1", 0, ratls.make_identity(None),
                               AttestationPolicy("any"), on_accept, pow_difficulty=4)
    async with server:
        ticks: list[bytes] = []

        async def on_packet(data: bytes) -> None:
            ticks.append(data)

        endpoint = Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
        conn, _ = await connect(endpoint, ratls.make_identity(None), AttestationPolicy("any"),
                                name="client", on_packet=on_packet, timeout_s=1.0)
        await wait_for_list(closed_by_server)
        assert closed_by_server == [""]  # the server never timed the client out
        assert len(ticks) == 30
        await conn.close()


async def wait_for_list(items: list, timeout_s: float = 10) -> None:
    async def poll() -> None:
        while not items:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout_s)
