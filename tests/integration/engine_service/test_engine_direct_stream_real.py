"""Streams written by the decode thread, in the engine's own service and HTTP app run in this
process with the bundled model (issue 17, the N=1 overhead: the loop woke once per token).

The loop now wakes a few times a second while tokens stream, a client that stops reading gets
every token in order once it reads again, and the bytes are the ones the loop would write."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from cocoon_desktop.engine.process import direct_stream
from cocoon_desktop.engine.process.http_api import build_app
from cocoon_desktop.engine.process.service import (
    COUNT_DIRECT_WRITES_EVERY_S,
    EngineService,
)
from cocoon_desktop.engine.types import SandboxStatus
from tests.integration.engine_service.conftest import SERVED, engine_settings

pytestmark = [pytest.mark.engine]
TOKEN = "direct-stream-test"
COUNTING = {"model": SERVED, "prompt": "1, 2, 3, 4, 5, 6, 7,", "temperature": 0}


@asynccontextmanager
async def serving(send_buffer_bytes: int | None = None
                  ) -> AsyncIterator[tuple[EngineService, str]]:
    """The engine's service and HTTP app on a loopback port of this process."""
    service = EngineService(engine_settings(), SandboxStatus("none", False, "in-process test"))
    await service.load()
    runner = web.AppRunner(build_app(service, TOKEN), handler_cancellation=True,
                           access_log=None)
    await runner.setup()
    listener = socket.create_server(("127.0.0.1", 0))
    if send_buffer_bytes is not None:  # connections inherit the listener's
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    listener.setblocking(False)
    await web.SockSite(runner, listener).start()
    try:
        yield service, f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        await service.shutdown(0)
        await runner.cleanup()


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[EngineService, str]]:
    async with serving() as served:
        yield served


@pytest_asyncio.fixture
async def served_small_buffers() -> AsyncIterator[tuple[EngineService, str]]:
    """Small send buffers: a client that stops reading fills them within a few dozen tokens."""
    async with serving(send_buffer_bytes=4096) as served:
        yield served


async def stream_text(base_url: str, body: dict[str, Any]) -> tuple[str, int]:
    """(text, completion tokens) of a streamed completion with usage."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    parts, tokens = [], 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http, \
            http.post(f"{base_url}/v1/completions", json=body) as response:
        assert response.status == 200
        async for line in response.content:
            if line.startswith(b"data: {"):
                chunk = json.loads(line[6:])
                parts += [c["text"] for c in chunk["choices"]]
                tokens = (chunk.get("usage") or {}).get("completion_tokens", tokens)
    return "".join(parts), tokens


async def whole_text(base_url: str, body: dict[str, Any]) -> str:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http, \
            http.post(f"{base_url}/v1/completions", json=body) as response:
        return (await response.json())["choices"][0]["text"]


async def test_a_stream_wakes_the_loop_a_few_times_a_second_not_per_token(
        served: tuple[EngineService, str], monkeypatch: pytest.MonkeyPatch) -> None:
    service, base_url = served
    drains = 0
    drain = service._drain_mailbox

    def counted() -> None:
        nonlocal drains
        drains += 1
        drain()

    monkeypatch.setattr(service, "_drain_mailbox", counted)
    started = time.monotonic()
    text, tokens = await stream_text(base_url, {**COUNTING, "max_tokens": 96})
    elapsed_s, streamed_drains = time.monotonic() - started, drains
    assert tokens == 96 and text
    assert text == await whole_text(base_url, {**COUNTING, "max_tokens": 96})
    # One wake for the stream's start and end, and one per counting interval in between
    # (waking per token, as before, breaks this whenever decoding is faster than 5 tokens/s).
    assert streamed_drains <= elapsed_s / COUNT_DIRECT_WRITES_EVERY_S + 4, \
        f"{streamed_drains} wakes for {tokens} tokens in {elapsed_s:.1f} s"
    assert service.stats().completion_tokens_total == 2 * tokens


async def test_a_client_that_stops_reading_gets_every_token_in_order(
        served_small_buffers: tuple[EngineService, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, base_url = served_small_buffers
    outcomes: list[bytes | None] = []
    send = direct_stream.DirectStream.send

    def recorded(self: direct_stream.DirectStream, text: str) -> bytes | None:
        outcome = send(self, text)
        outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(direct_stream.DirectStream, "send", recorded)
    body = {**COUNTING, "max_tokens": 400, "stream": True}
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 22)
    raw = json.dumps(body).encode()
    writer.transport.set_write_buffer_limits(0)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    writer.write(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 b"\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n%b" % (len(raw), raw))
    await writer.drain()
    reader._transport.pause_reading()  # the client stops reading until the answer is done
    await wait_for(lambda: service.counters["completed"] == 1)
    reader._transport.resume_reading()
    data = await asyncio.wait_for(reader.read(), 300)
    writer.close()
    streamed = "".join(json.loads(line[6:])["choices"][0]["text"]
                       for line in _body(data).split(b"\n") if line.startswith(b"data: {"))
    assert streamed == await whole_text(base_url, {**COUNTING, "max_tokens": 400})
    assert b"" in outcomes  # some deltas went out directly...
    assert any(o is None or o for o in outcomes)  # ...and some were left to the loop


def _body(response: bytes) -> bytes:
    """The HTTP response's chunked body, unframed."""
    _, _, rest = response.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        body, rest = body + rest[:length], rest[length + 2:]
    return body


async def wait_for(condition: Any, timeout_s: float = 300) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout_s)
