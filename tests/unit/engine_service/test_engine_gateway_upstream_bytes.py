"""The gateway's exact answer bytes against what upstream's worker runner does with them
(`WorkerRunningRequest::send_answer`, b75d444), who it serves, and the lane it sets.

The engine here is a loopback stand-in answering as aiohttp (the real engine's server) does,
`Content-Length` capitalised: the gateway's framing is what is under test, not the model.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from cocoon_desktop.engine.host.gateway import UpstreamGateway
from cocoon_desktop.engine.types import EngineEndpoint

ANSWER = {"choices": [{"message": {"content": "hi"}}],
          "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


def upstream_kept_headers(head: bytes) -> list[tuple[str, str]]:
    """Upstream's send_answer: every header of the engine's answer is passed on except those
    whose name is exactly `content-length`, `transfer-encoding` or `connection` (its
    comparison uses the original spelling), then it adds its own framing header."""
    lines = head.decode().split("\r\n")[1:]
    pairs = [tuple(x.strip() for x in line.split(":", 1)) for line in lines if line]
    return [(n, v) for n, v in pairs
            if n not in ("content-length", "transfer-encoding", "connection")]


@pytest.fixture
async def gateway():
    lanes: list[str | None] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        lanes.append(request.headers.get("X-Cocoon-Lane"))
        body = await request.json()
        if not body.get("stream"):
            return web.json_response(ANSWER)  # Content-Length: N, as the engine sends it
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + json.dumps(ANSWER).encode() + b"\n\ndata: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    endpoint = EngineEndpoint(f"http://127.0.0.1:{port}", "t" * 32)
    gateway = UpstreamGateway(lambda: endpoint, port=0)
    await gateway.start()
    try:
        yield gateway, lanes
    finally:
        await gateway.stop()
        await runner.cleanup()


async def raw(gateway: UpstreamGateway, body: bytes, headers: str = "Host: 127.0.0.1:8000\r\n"
              ) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\n" + headers.encode()
                 + b"Content-Type: application/json\r\nConnection: close\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    data = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


async def test_a_whole_answer_reaches_upstreams_client_in_one_framing(gateway) -> None:
    gw, _ = gateway
    head, body = await raw(gw, b'{"model":"m","messages":[]}')
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: " in head and b"Content-Length" not in head
    assert b"Transfer-Encoding" not in head and b"Connection" not in head
    kept = upstream_kept_headers(head)
    assert not [n for n, _ in kept if n.lower() in ("content-length", "transfer-encoding",
                                                    "connection")]
    assert json.loads(body) == ANSWER  # upstream then appends its cost fields and its length


async def test_a_streamed_answer_is_chunked_in_lower_case(gateway) -> None:
    gw, _ = gateway
    head, body = await raw(gw, b'{"model":"m","messages":[],"stream":true}')
    assert b"\r\ntransfer-encoding: chunked" in head and b"Transfer-Encoding" not in head
    assert not [n for n, _ in upstream_kept_headers(head)
                if n.lower() in ("content-length", "transfer-encoding", "connection")]
    assert b"data: [DONE]" in body


async def test_a_proxys_lane_header_is_replaced_by_the_network_lane(gateway) -> None:
    gw, lanes = gateway
    await raw(gw, b'{"model":"m","messages":[]}',
              "Host: 127.0.0.1\r\nX-Cocoon-Lane: chat\r\n")
    assert lanes == ["network"]


@pytest.mark.parametrize("headers", [
    "Host: evil.example:8000\r\nOrigin: http://evil.example:8000\r\n",
    "Host: evil.example:8000\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\n"])
async def test_a_browser_page_rebinding_its_name_to_loopback_is_refused(gateway, headers) -> None:
    gw, lanes = gateway
    head, body = await raw(gw, b'{"model":"m","messages":[]}', headers)
    assert head.startswith(b"HTTP/1.1 403") and json.loads(body)["error"]["code"] == \
        "forbidden_host"
    assert lanes == []  # nothing reached the engine


@pytest.mark.parametrize("headers", [
    "Host: localhost:8000\r\nOrigin: http://localhost:3000\r\n",  # a local tool's page
    "Host: api.some-client.example\r\n"])  # upstream's runner forwards the client's Host
async def test_programs_and_forwarded_requests_are_served(gateway, headers) -> None:
    gw, lanes = gateway
    head, _ = await raw(gw, b'{"model":"m","messages":[]}', headers)
    assert head.startswith(b"HTTP/1.1 200") and lanes == ["network"]
