"""A TLS byte stream over asyncio streams, driving a pyOpenSSL memory-BIO connection.

A write to a stream that has been quiet for `JOIN_WINDOW_S` leaves at once. Writes that follow
closer together (the parts of several answers after one batch of tokens from the engine) are
joined and leave at the end of the event loop's turn: one TLS record and one socket write
instead of one each, and a write never waits longer than the turn it was made in.
"""

from __future__ import annotations

import asyncio
import contextlib

from OpenSSL import SSL

from cocoon_desktop.network.attestation import AttestationError, PeerAttestation
from cocoon_desktop.network.ratls import handshake_result

READ_CHUNK = 65536
JOIN_WINDOW_S = 0.001


class TlsStream:
    """Encrypted read/write over a connected TCP pair; `handshake()` first."""

    def __init__(self, conn: SSL.Connection, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._conn = conn
        self._reader = reader
        self._writer = writer
        self._queued: list[bytes] = []  # plaintext written this turn of the event loop
        self._last_sent_at = -JOIN_WINDOW_S
        self._error: ConnectionError | None = None  # a write that failed after it was queued
        self._drained = False  # TLS holds no plaintext: read() waits for bytes straight away
        self.peer: PeerAttestation | None = None

    def _flush(self) -> None:
        """Send whatever TLS wrote into its memory BIO (a short read means it is empty)."""
        while True:
            try:
                data = self._conn.bio_read(READ_CHUNK)
            except SSL.WantReadError:
                return
            self._writer.write(data)
            if len(data) < READ_CHUNK:
                return

    async def _pull(self) -> bool:
        data = await self._reader.read(READ_CHUNK)
        if not data:
            return False
        self._conn.bio_write(data)
        return True

    async def handshake(self) -> PeerAttestation:
        """Run the TLS handshake; AttestationError when the peer fails our policy."""
        while True:
            try:
                self._conn.do_handshake()
                break
            except SSL.WantReadError:
                self._flush()
                await self._writer.drain()
                if not await self._pull():
                    raise self._refusal("the peer closed the connection during the TLS "
                                        "handshake (it may have refused our attestation)"
                                        ) from None
            except SSL.Error as exc:
                self._flush()
                with contextlib.suppress(ConnectionError):
                    await self._writer.drain()
                raise self._refusal(f"TLS handshake failed: {exc}") from exc
        self._flush()
        await self._writer.drain()
        attestation, error = handshake_result(self._conn)
        if attestation is None:
            raise AttestationError(error or "the peer presented no certificate: it is not an "
                                            "RA-TLS peer; check the host and port")
        self.peer = attestation
        return attestation

    def _refusal(self, default: str) -> Exception:
        _, error = handshake_result(self._conn)
        if error:
            return AttestationError(f"peer refused by our attestation policy: {error}")
        return ConnectionError(default)

    async def read(self) -> bytes:
        """Decrypted bytes as they come; b"" when the peer closed."""
        while True:
            if not self._drained:
                data = self._recv_buffered()
                if data is not None:
                    return data
            if not await self._pull():
                return b""
            self._drained = False

    def _recv_buffered(self) -> bytes | None:
        """All the plaintext that the bytes received so far hold (b"" once the peer closed
        TLS), None when more must come first. What TLS answers meanwhile (a key update, an
        alert) goes out once, after it."""
        chunks = []
        try:
            while True:
                chunks.append(self._conn.recv(READ_CHUNK))
        except SSL.WantReadError:
            self._drained = True
        except SSL.ZeroReturnError:
            chunks.append(b"")
        except SSL.Error as exc:
            raise ConnectionError(f"TLS error: {exc}") from exc
        self._flush()
        return b"".join(chunks) if chunks else None

    def write_nowait(self, data: bytes) -> None:
        """Send `data` now, or at the end of this turn of the event loop together with what
        else is written in it (see the module's docstring). Order is the order of the calls."""
        if self._error is not None:
            raise self._error
        if self._writer.is_closing():
            raise ConnectionError("the connection is closed")
        if not self._queued:
            loop = asyncio.get_running_loop()
            if loop.time() - self._last_sent_at >= JOIN_WINDOW_S:
                self._queued.append(data)
                self._send_queued()
                if self._error is not None:
                    raise self._error
                return
            loop.call_soon(self._send_queued)
        self._queued.append(data)

    def _send_queued(self) -> None:
        data = b"".join(self._queued)
        self._queued.clear()
        if not data or self._writer.is_closing():
            return
        self._last_sent_at = asyncio.get_running_loop().time()
        try:
            self._conn.sendall(data)
        except SSL.Error as exc:
            self._error = ConnectionError(f"TLS error: {exc}")
            self._writer.close()
            return
        self._flush()

    async def drain(self) -> None:
        """Wait while the socket's send buffer is full (the peer reads slower than we write)."""
        if self._error is not None:
            raise self._error
        await self._writer.drain()

    async def write(self, data: bytes) -> None:
        self.write_nowait(data)
        await self.drain()

    def abort(self) -> None:
        """Drop the connection at once, without a TLS close (for shutdown paths)."""
        self._queued.clear()
        self._writer.close()

    async def close(self) -> None:
        self._send_queued()  # what was written before the close still goes out
        with contextlib.suppress(SSL.Error, ConnectionError, OSError):
            self._conn.shutdown()
            self._flush()
            await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
