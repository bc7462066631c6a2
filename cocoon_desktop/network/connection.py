"""One framed TL connection (upstream net/TcpConnection.cpp) over any byte stream.

The client opens with `tcp.connect id` and the server answers `tcp.connected id`; after that,
`tcp.ping`/`tcp.pong` keep it alive (the client pings at half the timeout), `tcp.query` /
`tcp.queryAnswer` / `tcp.queryError` carry correlated queries, and `tcp.packet` one-way
messages. Any received frame resets the idle timer; silence for the timeout (20 s client side,
60 s server side) or any framing or TL error closes the connection with a logged reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol

from cocoon_desktop.core.tasks import TaskSet, cancel_and_wait
from cocoon_desktop.network import tl
from cocoon_desktop.network.errors import FAILURE, ConnectionClosed, RemoteError
from cocoon_desktop.network.framing import FrameDecoder, FramingError, encode_frame
from cocoon_desktop.network.tl.base import (
    TcpConnect,
    TcpConnected,
    TcpPacket,
    TcpPing,
    TcpPong,
    TcpQuery,
    TcpQueryAnswer,
    TcpQueryError,
)
from cocoon_desktop.network.tl.parts import encode_packet, packet_data

log = logging.getLogger(__name__)
QueryHandler = Callable[[bytes], Awaitable[bytes]]
PacketHandler = Callable[[bytes], Awaitable[None]]


class ByteStream(Protocol):
    async def read(self) -> bytes: ...
    def write_nowait(self, data: bytes) -> None: ...  # queued, in order; sent soon
    async def drain(self) -> None: ...  # waits while the peer reads slower than we write
    async def close(self) -> None: ...


def _random_id() -> int:
    return int.from_bytes(secrets.token_bytes(8), "little", signed=True)


class TlConnection:
    """Framing, handshake, keepalive and query correlation for one peer."""

    def __init__(self, stream: ByteStream, *, is_client: bool, name: str,
                 on_query: QueryHandler | None = None, on_packet: PacketHandler | None = None,
                 timeout_s: float | None = None) -> None:
        self.name = name
        self._stream = stream
        self._is_client = is_client
        self._on_query = on_query
        self._on_packet = on_packet
        self.timeout_s = timeout_s or (20.0 if is_client else 60.0)
        self._decoder = FrameDecoder()
        self._early: list[bytes] = []  # frames that arrived together with the handshake
        self._out_seqno = 0
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._tasks = TaskSet(f"connection {name}")  # query answers in progress
        self._serving = TaskSet(f"connection {name} reader")  # the reader and its keepalive
        self._last_received = 0.0
        self._last_sent = 0.0
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_reason = ""

    async def start(self) -> None:
        """Run the tcp.connect handshake, then serve the connection in the background.

        On failure the stream is closed and the error raised."""
        loop = asyncio.get_running_loop()
        self._last_received = loop.time()
        try:
            await self._handshake()
        except BaseException as exc:
            await self._finish(f"handshake failed: {exc}")
            raise
        self._reader_task = self._serving.spawn(self._serve(), name=f"tl-conn {self.name}")

    async def _handshake(self) -> None:
        if self._is_client:
            handshake_id = _random_id()
            await self._send(TcpConnect(handshake_id).encode())
            reply = await asyncio.wait_for(self._next_payload(), self.timeout_s)
            answer = tl.decode(reply, "tcp.Packet")
            if not isinstance(answer, TcpConnected):
                raise ConnectionClosed(f"{self.name}: expected tcp.connected, got "
                                       f"{answer.TL_NAME}; is this a Cocoon proxy port?")
        else:
            first = await asyncio.wait_for(self._next_payload(), self.timeout_s)
            hello = tl.decode(first, "tcp.Packet")
            if not isinstance(hello, TcpConnect):
                raise ConnectionClosed(f"{self.name}: expected tcp.connect, got {hello.TL_NAME}")
            await self._send(TcpConnected(hello.id).encode())

    async def _next_payload(self) -> bytes:
        while True:
            data = await self._stream.read()
            if not data:
                raise ConnectionClosed(f"{self.name}: the peer closed the connection")
            payloads = self._decoder.feed(data)
            if payloads:
                self._early = payloads[1:]
                return payloads[0]

    def _send_nowait(self, payload: bytes) -> None:
        """Number and queue one frame (numbering and queueing happen together, so frames
        leave in the order of their sequence numbers whoever sends them)."""
        frame = encode_frame(payload, self._out_seqno)
        self._out_seqno += 1
        self._last_sent = asyncio.get_running_loop().time()
        self._stream.write_nowait(frame)

    async def _send(self, payload: bytes) -> None:
        self._send_nowait(payload)
        await self._stream.drain()

    async def _serve(self) -> None:
        keepalive = self._serving.spawn(self._keepalive(), name=f"tl-keepalive {self.name}")
        reason = "closed"
        try:
            for payload in self._early:
                await self._dispatch(payload)
            while not self.closed.is_set():
                data = await self._stream.read()
                if not data:
                    reason = "the peer closed the connection"
                    break
                self._last_received = asyncio.get_running_loop().time()
                for payload in self._decoder.feed(data):
                    if self.closed.is_set():  # a handler closed the connection
                        break
                    await self._dispatch(payload)
        except (FramingError, tl.TlError) as exc:
            reason = f"protocol violation: {exc}"
            log.warning("%s: closing: %s", self.name, reason)
        except (ConnectionError, OSError) as exc:
            reason = f"connection error: {exc}"
        except asyncio.CancelledError:
            reason = self.close_reason or "closed locally"
            raise
        finally:
            await cancel_and_wait([keepalive], self.name)
            await self._finish(reason)

    async def _dispatch(self, payload: bytes) -> None:
        data = packet_data(payload)  # the common case, every answer part: read directly
        if data is not None:
            if self._on_packet is not None:
                await self._on_packet(data)
            return
        packet = tl.decode(payload, "tcp.Packet")
        if isinstance(packet, TcpPing):
            await self._send(TcpPong(packet.id).encode())
        elif isinstance(packet, TcpPacket):
            if self._on_packet is not None:
                await self._on_packet(packet.data)
        elif isinstance(packet, TcpQuery):
            if not self._tasks.closed:  # else the connection is closing: no answer now
                self._tasks.spawn(self._answer(packet), name=f"tl-answer {self.name}")
        elif isinstance(packet, TcpQueryAnswer | TcpQueryError):
            future = self._pending.pop(packet.id, None)
            if future is None or future.done():
                log.info("%s: answer to unknown query %d dropped", self.name, packet.id)
            elif isinstance(packet, TcpQueryAnswer):
                future.set_result(packet.data)
            else:
                future.set_exception(RemoteError(packet.code, packet.message))
        # tcp.pong, and a late tcp.connect/connected, only refresh the idle timer.

    async def _answer(self, query: TcpQuery) -> None:
        try:
            if self._on_query is None:
                raise RemoteError(FAILURE, "this side accepts no queries")
            reply = TcpQueryAnswer(query.id, await self._on_query(query.data)).encode()
        except RemoteError as exc:
            reply = TcpQueryError(query.id, exc.code, exc.message).encode()
        except (tl.TlError, ValueError) as exc:
            reply = TcpQueryError(query.id, FAILURE, f"bad query: {exc}").encode()
        with contextlib.suppress(ConnectionError, OSError, FramingError):
            await self._send(reply)

    async def _keepalive(self) -> None:
        """Fail after `timeout_s` without data; as the client, ping when either direction has
        been quiet for half of it (a peer that only receives must still be heard from)."""
        loop = asyncio.get_running_loop()
        ping_every = self.timeout_s / 2
        while True:
            now = loop.time()
            idle = now - self._last_received
            if idle >= self.timeout_s:
                self.close_reason = f"no data from the peer for {self.timeout_s:.0f} s"
                log.info("%s: %s, closing", self.name, self.close_reason)
                if self._reader_task is not None:
                    self._reader_task.cancel()
                return
            quiet = max(idle, now - self._last_sent)
            if self._is_client and quiet >= ping_every:
                with contextlib.suppress(ConnectionError, OSError):
                    await self._send(TcpPing(_random_id()).encode())
                quiet = 0.0
            await asyncio.sleep(max(0.05, min(ping_every - quiet, self.timeout_s - idle)))

    async def query(self, data: bytes, timeout_s: float) -> bytes:
        """Send a query and wait for its answer; RemoteError, TimeoutError or ConnectionClosed."""
        if self.closed.is_set():
            raise ConnectionClosed(f"{self.name}: {self.close_reason}")
        query_id = _random_id()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[query_id] = future
        try:
            await self._send(TcpQuery(query_id, data).encode())
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self._pending.pop(query_id, None)

    def send_packet_nowait(self, data: bytes) -> None:
        """Queue a `tcp.packet` without waiting (see `drain`); ConnectionClosed once closed."""
        if self.closed.is_set():
            raise ConnectionClosed(f"{self.name}: {self.close_reason}")
        self._send_nowait(encode_packet(data))

    async def drain(self) -> None:
        """Wait while the peer reads slower than we write."""
        await self._stream.drain()

    async def send_packet(self, data: bytes) -> None:
        self.send_packet_nowait(data)
        await self.drain()

    async def close(self, reason: str = "closed locally") -> None:
        if not self.close_reason:
            self.close_reason = reason
        reader = self._reader_task
        current = asyncio.current_task()
        if reader is None or reader is current or current in self._tasks:
            # From the reader itself (a packet handler) or from a query's answer (which the
            # reader's shutdown cancels and waits for): finish here, so the reader ends on the
            # closed state instead of waiting for us.
            await self._finish(reason)
        if reader is not None and reader is not current:
            await cancel_and_wait([reader], self.name)

    async def _finish(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = self.close_reason or reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionClosed(f"{self.name}: {self.close_reason}"))
        self._pending.clear()
        self._tasks.cancel()
        with contextlib.suppress(Exception):
            await self._stream.close()
        self.closed.set()
        await self._tasks.close()  # the answers cancelled above have ended when this returns
