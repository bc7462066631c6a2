"""Cancellation, the bounded queue and the chat lane, on the real engine (2 sequences, queue 2)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.engine.host.client import EngineClient
from cocoon_desktop.engine.stats import EngineStats
from tests.integration.engine_service.conftest import COUNTING, wait_for_stats

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="module")]
LONG = {**COUNTING, "max_tokens": 1000, "stream": True}


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def idle_engine(client: EngineClient) -> AsyncIterator[None]:
    await wait_for_stats(client, lambda s: s.active_requests == 0 and s.queued_requests == 0)
    yield
    await wait_for_stats(client, lambda s: s.active_requests == 0 and s.queued_requests == 0)


@contextlib.asynccontextmanager
async def open_stream(http: aiohttp.ClientSession, *, lane: str | None = None
                      ) -> AsyncIterator[aiohttp.ClientResponse]:
    """A long counting stream, closed (connection dropped) when the block ends."""
    headers = {"X-Cocoon-Lane": lane} if lane else {}
    response = await http.post("/v1/completions", json=LONG, headers=headers)
    try:
        assert response.status == 200
        yield response
    finally:
        response.close()


async def read_text_chunks(response: aiohttp.ClientResponse, count: int) -> int:
    seen = 0
    async for line in response.content:
        if line.startswith(b"data: {") and b'"text":"' in line and b'"text":""' not in line:
            seen += 1
            if seen == count:
                return seen
    raise AssertionError("the stream ended early")


def tokens_and_cancels(stats: EngineStats) -> tuple[int, int]:
    return stats.completion_tokens_total, stats.requests_cancelled


async def test_closing_a_stream_stops_generation_within_a_token(
        client: EngineClient, http: aiohttp.ClientSession) -> None:
    before = await client.status()
    tokens_before, cancels_before = tokens_and_cancels(before)
    async with open_stream(http) as response:
        received = await read_text_chunks(response, 3)
    stats = await wait_for_stats(client, lambda s: s.requests_cancelled == cancels_before + 1)
    assert stats.active_requests == 0
    generated = stats.completion_tokens_total - tokens_before
    # a decode step gives one token plus the drafted ones it confirmed, in one chunk
    steps = generated - (stats.draft_tokens_accepted_total - before.draft_tokens_accepted_total)
    assert received <= steps <= received + 8, "generation went on after the client left"
    await asyncio.sleep(0.5)
    assert (await client.status()).completion_tokens_total == stats.completion_tokens_total


async def test_a_client_that_leaves_a_whole_answer_cancels_it(client: EngineClient) -> None:
    tokens_before, cancels_before = tokens_and_cancels(await client.status())
    waiting = asyncio.create_task(client.complete({**LONG, "stream": False}))
    await wait_for_stats(client, lambda s: s.completion_tokens_total > tokens_before
                         or s.active_requests == 1)
    waiting.cancel()  # drops the connection, as a client that gives up would
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    stats = await wait_for_stats(client, lambda s: s.requests_cancelled == cancels_before + 1)
    assert stats.active_requests == 0
    assert stats.completion_tokens_total - tokens_before < 200


async def test_a_full_queue_answers_503_with_a_retry_hint_and_runs_the_rest_in_order(
        client: EngineClient, http: aiohttp.ClientSession) -> None:
    rejected_before = (await client.status()).requests_rejected
    async with open_stream(http) as first, open_stream(http) as second:
        await read_text_chunks(first, 1)
        await read_text_chunks(second, 1)
        queued = [asyncio.create_task(http.post("/v1/completions", json=LONG))
                  for _ in range(2)]
        await wait_for_stats(client, lambda s: s.queued_requests == 2)
        async with http.post("/v1/completions", json=LONG) as refused:
            body = await refused.json()
        assert refused.status == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert body["error"]["code"] == "queue_full"
        assert "busy" in body["error"]["message"] and "Retry" in body["error"]["message"]
        stats = await client.status()
        assert (stats.active_requests, stats.queued_requests) == (2, 2)
        assert stats.requests_rejected == rejected_before + 1
        # A sequence frees: the oldest waiting request takes it; running ones kept running.
        first.close()
        oldest = await asyncio.wait_for(queued[0], 30)
        assert oldest.status == 200
        stats = await client.status()
        assert (stats.active_requests, stats.queued_requests) == (2, 1)
        for task in queued[1:]:
            task.cancel()
        oldest.close()
    await asyncio.gather(*queued, return_exceptions=True)


async def test_the_chat_lane_holds_one_sequence_and_network_jobs_pass_it(
        client: EngineClient, http: aiohttp.ClientSession) -> None:
    async with open_stream(http, lane="chat") as chat:
        await read_text_chunks(chat, 1)
        second_chat = asyncio.create_task(
            http.post("/v1/completions", json=LONG, headers={"X-Cocoon-Lane": "chat"}))
        stats = await wait_for_stats(client, lambda s: s.queued_requests == 1)
        assert stats.active_requests == 1  # a sequence is free, but not for the chat lane
        async with open_stream(http) as job:
            await read_text_chunks(job, 1)
            stats = await client.status()
            assert (stats.active_requests, stats.queued_requests) == (2, 1)
        second_chat.cancel()
    await asyncio.gather(second_chat, return_exceptions=True)
