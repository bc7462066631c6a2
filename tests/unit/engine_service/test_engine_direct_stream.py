"""A streamed answer's text deltas written to the client's socket by the decode thread (issue
17: the N=1 overhead), on a real socket pair under a real asyncio transport: what goes out, when
the decode thread must leave a delta to the loop, and that order holds when it does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio

from cocoon_desktop.engine.process.direct_stream import DirectStream
from cocoon_desktop.engine.process.generation import Generation, PreparedRequest
from cocoon_desktop.engine.process.inference_types import (
    GenerationRequest,
    SamplingParams,
    TokenDelta,
)
from cocoon_desktop.engine.process.openai_api import ApiRequest, Endpoint
from cocoon_desktop.engine.process.queue import Ticket
from cocoon_desktop.engine.process.service import EngineService
from cocoon_desktop.engine.types import EngineSettings, SandboxStatus


def event(text: str) -> bytes:
    return b"data: " + text.encode() + b"\n\n"


@dataclass
class Pipe:
    transport: asyncio.Transport
    peer: socket.socket

    def received(self) -> bytes:
        data = b""
        while True:
            try:
                data += self.peer.recv(1 << 20)
            except BlockingIOError:
                return data


@pytest_asyncio.fixture
async def pipe() -> AsyncIterator[Pipe]:
    """Our end under an asyncio transport (as aiohttp has it), the client's end raw."""
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    transport, _ = await asyncio.get_running_loop().create_unix_connection(
        asyncio.Protocol, sock=ours)
    yield Pipe(transport, peer)
    transport.close()
    peer.close()


def fill(transport: asyncio.Transport) -> None:
    """Leave bytes in the transport's own buffer (the client reads slower than we write)."""
    while not transport.get_write_buffer_size():
        transport.write(b"x" * 65536)


async def test_a_delta_goes_out_framed_as_an_http_chunk(pipe: Pipe) -> None:
    stream = DirectStream.open(pipe.transport, event, chunked=True)
    assert stream is not None
    assert stream.send("hi") == b""
    assert pipe.received() == b"a\r\ndata: hi\n\n\r\n"
    assert DirectStream.open(pipe.transport, event, chunked=False).send("hi") == b""
    assert pipe.received() == b"data: hi\n\n"


async def test_bytes_waiting_in_the_transport_leave_the_delta_to_the_loop(pipe: Pipe) -> None:
    stream = DirectStream.open(pipe.transport, event, chunked=False)
    fill(pipe.transport)
    assert stream.send("late") is None  # nothing written: it would overtake those bytes
    assert b"late" not in pipe.received()


async def test_what_the_socket_does_not_take_comes_back_for_the_loop(pipe: Pipe) -> None:
    stream = DirectStream.open(pipe.transport, event, chunked=False)
    text = "y" * (8 << 20)  # more than any socket buffer holds
    rest = stream.send(text)
    assert rest  # written in part
    sent = pipe.received()
    assert sent + rest == event(text)


async def test_after_close_or_a_gone_client_nothing_is_written(pipe: Pipe) -> None:
    stream = DirectStream.open(pipe.transport, event, chunked=False)
    stream.close()
    assert stream.send("after") is None
    assert pipe.received() == b""
    other = DirectStream.open(pipe.transport, event, chunked=False)
    pipe.peer.close()
    assert other.send("to nobody") is None
    assert other.send("again") is None  # its descriptor is closed: no write at all


async def test_no_direct_writes_under_tls_or_on_a_closing_transport(pipe: Pipe) -> None:
    pipe.transport.close()
    assert DirectStream.open(pipe.transport, event, chunked=False) is None
    assert DirectStream.open(None, event, chunked=False) is None


def generation() -> Generation:
    api = ApiRequest(Endpoint.CHAT, "m", stream=True, include_usage=False, max_tokens=8)
    request = GenerationRequest("r", (1, 2), SamplingParams(max_tokens=8, temperature=0.0))
    return Generation(PreparedRequest(api, request), Ticket())


async def test_a_delta_left_to_the_loop_keeps_its_place_before_later_ones(pipe: Pipe) -> None:
    settings = EngineSettings(model_path="/nonexistent.gguf", model_name="m@0:h")
    service = EngineService(settings, SandboxStatus("none", False, "a unit test"))
    gen = generation()
    gen.direct = DirectStream.open(pipe.transport, event, chunked=False)
    sink = service._sink(gen)  # what the decode thread calls

    sink(TokenDelta("a", 1))
    assert pipe.received() == event("a")
    fill(pipe.transport)
    sink(TokenDelta("b", 2))  # declined: the loop must write it
    pipe.received()
    await wait_until(lambda: not pipe.transport.get_write_buffer_size(), pipe)
    pipe.received()  # the client has read everything
    sink(TokenDelta("c", 3))  # the socket would take it, but "b" is not written yet
    assert pipe.received() == b""
    assert gen.handed == 2 and gen.written == 0
    gen.written = 2  # the handler wrote "b" and "c"
    sink(TokenDelta("d", 4))
    assert pipe.received() == event("d")
    assert [(e.text, rest) for _, e, rest in service._mailbox] == \
        [("a", b""), ("b", None), ("c", None), ("d", b"")]


async def wait_until(condition: Callable[[], bool], pipe: Pipe, timeout_s: float = 30) -> None:
    async def wait() -> None:
        while not condition():
            pipe.received()
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout_s)


@pytest.mark.parametrize("chunked", [True, False])
async def test_a_non_ascii_delta_is_framed_by_its_bytes(pipe: Pipe, chunked: bool) -> None:
    stream = DirectStream.open(pipe.transport, event, chunked=chunked)
    assert stream.send("héllo ✓") == b""
    body = event("héllo ✓")
    expected = b"%x\r\n%b\r\n" % (len(body), body) if chunked else body
    assert pipe.received() == expected
