"""The upstream gateway in front of the real engine: what upstream's worker runner sends (no
Authorization header) is answered, streamed as it comes, cancelled when the client leaves;
only the engine's three routes; it follows an engine restart to its new port and token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.engine.host.client import EngineClient
from cocoon_desktop.engine.host.gateway import UpstreamGateway
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from tests.integration.engine_service.conftest import (
    COUNTING,
    SERVED,
    engine_settings,
    started,
    wait_for_stats,
)

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="module")]
# What upstream's runner forwards: the proxy's body with include_usage forced, no token.
CHAT = {"model": SERVED, "messages": [{"role": "user", "content": "Say hello."}],
        "temperature": 0, "max_tokens": 8, "stream": True,
        "stream_options": {"include_usage": True}}


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(shared_engine: EngineSupervisor) -> AsyncIterator[UpstreamGateway]:
    opened = UpstreamGateway(lambda: shared_engine.endpoint, port=0)
    await opened.start()
    yield opened
    await opened.stop()


async def sse_payloads(response: aiohttp.ClientResponse) -> list[Any]:
    payloads: list[Any] = []
    async for line in response.content:
        if line.startswith(b"data: "):
            data = line[6:].strip()
            payloads.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return payloads


async def test_a_streamed_chat_without_a_token_is_answered_with_usage(
        gateway: UpstreamGateway) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.url}/v1/chat/completions", json=CHAT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        payloads = await sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    usage = payloads[-2]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] == 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + 8
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in payloads[:-2]
                   if p["choices"])
    assert text.strip()


async def test_models_and_a_whole_completion_pass_through(gateway: UpstreamGateway) -> None:
    body = {"model": SERVED, "prompt": "The capital of France is", "max_tokens": 4,
            "temperature": 0}
    # A client's own Authorization header is replaced by the engine's token, never passed on.
    headers = {"Authorization": "Bearer not-the-engine-token"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{gateway.url}/v1/models") as response:
            models = await response.json()
        async with session.post(f"{gateway.url}/v1/completions", json=body) as response:
            answer = await response.json()
            length = response.headers.get("Content-Length")
    assert models["data"][0]["id"] == SERVED
    assert answer["usage"]["completion_tokens"] == 4 and answer["choices"][0]["text"]
    assert length is not None and int(length) > 0  # not re-chunked


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v1/engine/status", 404, "not_found"),  # the engine's own status stays private
    ("GET", "/", 404, "not_found"),
    ("POST", "/v1/embeddings", 404, "not_found"),
    ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
    ("POST", "/v1/models", 405, "method_not_allowed"),
])
async def test_only_the_engines_routes_are_forwarded(gateway: UpstreamGateway, method: str,
                                                     path: str, status: int, code: str) -> None:
    async with aiohttp.ClientSession() as session, session.request(
            method, gateway.url + path) as response:
        body = await response.json()
    assert response.status == status
    assert body["error"]["code"] == code
    assert "/v1/chat/completions" in body["error"]["message"] or status == 405


async def test_the_engines_errors_come_back_unchanged(gateway: UpstreamGateway) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.url}/v1/chat/completions", json={**CHAT, "model": "gpt-17"}) as response:
        body = await response.json()
    assert response.status == 404 and body["error"]["code"] == "model_not_found"


async def test_a_client_that_leaves_cancels_the_generation(gateway: UpstreamGateway,
                                                           client: EngineClient) -> None:
    before = await client.status()
    body = {**COUNTING, "max_tokens": 400, "stream": True}
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.url}/v1/completions", json=body) as response:
        chunks = 0
        async for line in response.content:  # arrives chunk by chunk: nothing is buffered
            chunks += line.startswith(b"data: {")
            if chunks == 3:
                break
    stats = await wait_for_stats(
        client, lambda s: s.requests_cancelled == before.requests_cancelled + 1)
    assert stats.active_requests == 0
    assert stats.completion_tokens_total - before.completion_tokens_total < 100


async def test_it_follows_an_engine_restart_and_says_when_the_engine_is_away() -> None:
    supervisor = EngineSupervisor(engine_settings(parallel_sequences=1, context_tokens=1024))
    gateway = UpstreamGateway(lambda: supervisor.endpoint, port=0,
                              why_not_ready=lambda: supervisor.status.detail)
    await gateway.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gateway.url}/v1/models") as response:
                body = await response.json()
            assert response.status == 503 and response.headers["Retry-After"] == "5"
            assert body["error"]["code"] == "engine_not_ready"
            assert "The engine is stopped" in body["error"]["message"]
            first = await started(supervisor)
            assert await _usage_through(session, gateway) > 0
            await supervisor.restart(drain_timeout_s=0)
            second = await supervisor.wait_ready(120)
            assert (second.base_url, second.token) != (first.base_url, first.token)
            assert await _usage_through(session, gateway) > 0
    finally:
        await gateway.stop()
        await supervisor.stop(drain_timeout_s=0)
    with pytest.raises(aiohttp.ClientConnectionError):  # closed: the port is free again
        async with aiohttp.ClientSession() as session:
            await session.get(f"{gateway.url}/v1/models")


async def _usage_through(session: aiohttp.ClientSession, gateway: UpstreamGateway) -> int:
    async with session.post(f"{gateway.url}/v1/chat/completions", json=CHAT) as response:
        assert response.status == 200
        payloads = await asyncio.wait_for(sse_payloads(response), 120)
    return int(payloads[-2]["usage"]["completion_tokens"])
