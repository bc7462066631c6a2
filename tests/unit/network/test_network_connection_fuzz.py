"""Fuzzing one TL connection: arbitrary bytes after a valid handshake never escape as an
exception; the connection either keeps going or closes with a reason."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from cocoon_desktop.network.connection import TlConnection
from cocoon_desktop.network.framing import encode_frame
from cocoon_desktop.network.tl.base import TcpConnect, TcpPing


class MemoryStream:
    """A ByteStream fed from a list of chunks; what the connection writes is kept."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)
        self.written: list[bytes] = []
        self.closed = False

    async def read(self) -> bytes:
        if self._chunks:
            return self._chunks.pop(0)
        await asyncio.sleep(0.01)
        return b""  # then the peer "closes"

    def write_nowait(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionError("closed")
        self.written.append(data)

    async def drain(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


async def serve(chunks: list[bytes]) -> tuple[TlConnection, MemoryStream]:
    packets: list[bytes] = []

    async def on_packet(data: bytes) -> None:
        packets.append(data)

    async def on_query(data: bytes) -> bytes:
        return data

    stream = MemoryStream([encode_frame(TcpConnect(1).encode(), 0), *chunks])
    conn = TlConnection(stream, is_client=False, name="fuzz", on_query=on_query,
                        on_packet=on_packet, timeout_s=5)
    await conn.start()
    await asyncio.wait_for(conn.closed.wait(), 5)
    return conn, stream


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_random_bytes_after_the_handshake_close_with_a_reason(chunks: list[bytes]) -> None:
    conn, stream = asyncio.run(serve(chunks))
    assert conn.closed.is_set() and conn.close_reason and stream.closed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5))
def test_pings_are_answered_in_order(ids: list[int]) -> None:
    frames = [encode_frame(TcpPing(i).encode(), n + 1) for n, i in enumerate(ids)]
    _, stream = asyncio.run(serve([b"".join(frames)] if frames else []))
    assert len(stream.written) == 1 + len(ids)  # tcp.connected, then one pong per ping
    assert [w[-8:] for w in stream.written[1:]] == [
        i.to_bytes(8, "little", signed=True) for i in ids]
