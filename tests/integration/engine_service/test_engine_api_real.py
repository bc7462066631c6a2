"""The engine's OpenAI API against the real engine process and the bundled model."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.engine.host.client import EngineClient
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from tests.integration.engine_service.conftest import SERVED, wait_for_stats

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="module")]
CHAT = {"model": SERVED, "messages": [{"role": "user", "content": "Say hello."}],
        "temperature": 0, "max_tokens": 8}


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def idle_engine(client: EngineClient) -> AsyncIterator[None]:
    """Each test starts with nothing running or waiting (the engine is shared)."""
    await wait_for_stats(client, lambda s: s.active_requests == 0 and s.queued_requests == 0)
    yield


async def sse_payloads(response: aiohttp.ClientResponse) -> list[Any]:
    """Every `data:` payload of a stream, `[DONE]` included as the string."""
    payloads: list[Any] = []
    async for line in response.content:
        if line.startswith(b"data: "):
            data = line[6:].strip()
            payloads.append("[DONE]" if data == b"[DONE]" else json.loads(data))
    return payloads


async def test_models_lists_the_served_model(http: aiohttp.ClientSession) -> None:
    async with http.get("/v1/models") as response:
        body = await response.json()
    assert response.status == 200
    (model,) = body["data"]
    assert model["id"] == SERVED and model["cocoon_name"].startswith(SERVED + "@")
    assert model["context_length"] == 1024  # 2048 tokens shared by 2 sequences


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic dXNlcjpwdw=="])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/models"), ("GET", "/v1/engine/status"), ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"), ("GET", "/no/such/route"),
])
async def test_every_route_needs_the_token(shared_engine: EngineSupervisor,
                                           authorization: str | None, method: str,
                                           path: str) -> None:
    assert shared_engine.endpoint is not None
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as session, session.request(
            method, shared_engine.endpoint.base_url + path, headers=headers,
            json=CHAT) as response:
        body = await response.json()
    assert response.status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert "Authorization: Bearer" in body["error"]["message"]


async def test_a_whole_chat_answer_with_usage(client: EngineClient) -> None:
    answer = await client.chat(CHAT)
    choice = answer["choices"][0]
    assert answer["object"] == "chat.completion" and answer["model"] == SERVED
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] in ("stop", "length")
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 5 and 1 <= usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] >= 0


async def test_a_streamed_chat_is_the_same_answer_in_openais_chunks(
        client: EngineClient, http: aiohttp.ClientSession) -> None:
    whole = await client.chat(CHAT)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with http.post("/v1/chat/completions", json=body) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        payloads = await sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    chunks = payloads[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == whole["choices"][0]["message"]["content"]
    finish, usage_chunk = chunks[-2], chunks[-1]
    assert finish["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert usage_chunk["choices"] == []
    assert all(c["usage"] is None for c in chunks[:-1])
    usage, expected = usage_chunk["usage"], whole["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == \
        (expected["prompt_tokens"], expected["completion_tokens"])
    assert len({c["id"] for c in chunks}) == 1


async def test_a_stream_without_include_usage_has_no_usage(http: aiohttp.ClientSession) -> None:
    async with http.post("/v1/chat/completions", json={**CHAT, "stream": True}) as response:
        payloads = await sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    assert all("usage" not in p and p["choices"] for p in payloads[:-1])


async def test_completions_streamed_and_not(client: EngineClient) -> None:
    body = {"model": SERVED, "prompt": "The capital of France is", "max_tokens": 6,
            "temperature": 0, "echo": True}
    whole = await client.complete(body)
    assert whole["object"] == "text_completion"
    assert whole["choices"][0]["text"].startswith("The capital of France is")
    chunks = [c async for c in client.stream_complete(body)]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == whole["choices"][0]["text"]
    assert chunks[-1]["usage"]["completion_tokens"] == whole["usage"]["completion_tokens"]


async def test_a_repeated_prefix_is_counted_as_cached(client: EngineClient) -> None:
    words = " ".join(secrets.choice(["apple", "river", "stone", "cloud", "lamp"])
                     for _ in range(60))
    body = {"model": SERVED, "prompt": f"{secrets.token_hex(4)} {words}", "max_tokens": 1}
    first = (await client.complete(body))["usage"]
    second = (await client.complete(body))["usage"]
    assert first["prompt_tokens"] == second["prompt_tokens"] > 60
    assert first["prompt_tokens_details"]["cached_tokens"] <= 1
    # Everything but the last prompt token (which must be decoded again for its logits).
    assert second["prompt_tokens_details"]["cached_tokens"] >= second["prompt_tokens"] - 2


async def test_a_seed_makes_sampling_reproducible_and_stop_strings_end_it(
        client: EngineClient) -> None:
    body = {"model": SERVED, "prompt": "Once upon a time", "max_tokens": 10,
            "temperature": 0.9, "seed": 1234}
    first, second = await client.complete(body), await client.complete(body)
    assert first["choices"][0]["text"] == second["choices"][0]["text"]
    stopped = await client.complete({"model": SERVED, "prompt": "1, 2, 3, 4, 5, 6, 7,",
                                     "temperature": 0, "max_tokens": 20, "stop": ["10"]})
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert "10" not in stopped["choices"][0]["text"]
