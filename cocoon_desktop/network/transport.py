"""Opening and accepting RA-TLS connections the way upstream's router does.

Client: TCP connect, solve the server's proof of work (refusing above difficulty 28), then the
mutual TLS 1.3 handshake with the server's certificate judged by our policy. Server: send a
challenge, check the answer, then TLS with the client's certificate judged by our policy.
Both end with a `TlConnection` on which the tcp.connect handshake has run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.network import pow as pow_
from cocoon_desktop.network.attestation import AttestationPolicy, PeerAttestation
from cocoon_desktop.network.connection import PacketHandler, QueryHandler, TlConnection

if TYPE_CHECKING:  # TLS (cryptography, pyOpenSSL) loads with the first connection, not with
    # every module that names an endpoint (the app's first window)
    from cocoon_desktop.network.ratls import RaTlsIdentity
    from cocoon_desktop.network.tls_stream import TlsStream

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """`host:port` (IPv6 in brackets)."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not is_port(port):
            raise ValueError(f"'{text}' is not host:port (for example 127.0.0.1:8116)")
        return cls(host.strip("[]") or "127.0.0.1", int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def is_port(text: str) -> bool:
    """1-65535 in ASCII digits ("²" and other scripts' digits pass `isdigit`, some fail `int`)."""
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


async def open_ratls(endpoint: Endpoint, identity: RaTlsIdentity, policy: AttestationPolicy, *,
                     max_pow_difficulty: int = pow_.MAX_CLIENT_DIFFICULTY
                     ) -> tuple[TlsStream, PeerAttestation]:
    """Connect, do the proof of work and the TLS handshake; the caller owns the stream."""
    from cocoon_desktop.network.ratls import make_connection
    from cocoon_desktop.network.tls_stream import TlsStream

    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port), HANDSHAKE_TIMEOUT_S)
    try:
        raw = await asyncio.wait_for(reader.readexactly(pow_.CHALLENGE.size), HANDSHAKE_TIMEOUT_S)
        challenge = pow_.PowChallenge.decode(raw)
        nonce = await pow_.solve_async(challenge, max_pow_difficulty)
        writer.write(pow_.encode_response(nonce))
        await writer.drain()
        stream = TlsStream(make_connection(identity, policy, server_side=False), reader, writer)
        peer = await asyncio.wait_for(stream.handshake(), HANDSHAKE_TIMEOUT_S)
        return stream, peer
    except BaseException:
        writer.close()
        raise


async def connect(endpoint: Endpoint, identity: RaTlsIdentity, policy: AttestationPolicy, *,
                  name: str, on_query: QueryHandler | None = None,
                  on_packet: PacketHandler | None = None, timeout_s: float | None = None,
                  ) -> tuple[TlConnection, PeerAttestation]:
    """A ready client `TlConnection` to `endpoint`."""
    stream, peer = await open_ratls(endpoint, identity, policy)
    conn = TlConnection(stream, is_client=True, name=name, on_query=on_query,
                        on_packet=on_packet, timeout_s=timeout_s)
    try:
        await conn.start()
    except BaseException:
        await stream.close()
        raise
    return conn, peer


Acceptor = Callable[["TlsStream", PeerAttestation, str], Awaitable[None]]


async def accept_ratls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       identity: RaTlsIdentity, policy: AttestationPolicy,
                       pow_difficulty: int) -> tuple[TlsStream, PeerAttestation]:
    """Server side: challenge, check the proof of work, TLS; raises with a clear reason."""
    from cocoon_desktop.network.ratls import make_connection
    from cocoon_desktop.network.tls_stream import TlsStream

    challenge = pow_.PowChallenge.make(pow_difficulty)
    writer.write(challenge.encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.readexactly(pow_.RESPONSE.size), HANDSHAKE_TIMEOUT_S)
    if not challenge.verify(pow_.decode_response(raw)):
        raise pow_.PowError("proof-of-work verification failed")
    stream = TlsStream(make_connection(identity, policy, server_side=True), reader, writer)
    peer = await asyncio.wait_for(stream.handshake(), HANDSHAKE_TIMEOUT_S)
    return stream, peer


class RaTlsServer:
    """A listening RA-TLS socket that owns the handler task of every peer it accepted.

    `close()` stops listening; `wait_closed()` (or leaving `async with`) also cancels the
    handlers still running (peers mid-handshake, sessions not yet ended) and waits for them.
    """

    def __init__(self, server: asyncio.Server, handlers: TaskSet) -> None:
        self._server = server
        self._handlers = handlers

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def close(self) -> None:
        self._server.close()

    async def wait_closed(self) -> None:
        self._server.close()
        await self._handlers.close()
        await self._server.wait_closed()

    async def __aenter__(self) -> RaTlsServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.wait_closed()


async def serve_ratls(host: str, port: int, identity: RaTlsIdentity, policy: AttestationPolicy,
                      on_accept: Acceptor, *, pow_difficulty: int = pow_.DEFAULT_DIFFICULTY,
                      ) -> RaTlsServer:
    """Listen on `host:port`; each peer that passes PoW and the policy goes to `on_accept`."""
    handlers = TaskSet(f"RA-TLS server {host}:{port}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if handlers.closed:  # accepted while the server was stopping
            writer.close()
            return
        handlers.adopt(task)
        peername = writer.get_extra_info("peername")
        where = f"{peername[0]}:{peername[1]}" if peername else "?"
        try:
            stream, peer = await accept_ratls(reader, writer, identity, policy, pow_difficulty)
        except (TimeoutError, ValueError, ConnectionError, OSError,
                asyncio.IncompleteReadError) as exc:
            log.warning("refused connection from %s: %s", where, exc)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        except asyncio.CancelledError:  # the server is stopping: drop the half-open peer
            writer.close()
            return  # not re-raised: asyncio 3.11 logs a handler task that ends cancelled
        try:
            await on_accept(stream, peer, where)
        except asyncio.CancelledError:  # the server is stopping: drop the socket, quietly
            stream.abort()

    return RaTlsServer(await asyncio.start_server(handle, host, port), handlers)
