"""Speculative decoding and shared prefixes through the real engine process's API."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.engine.host.client import EngineClient
from tests.integration.engine_service.conftest import SERVED, wait_for_stats

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="module")]
WORDS = ["apple", "river", "stone", "cloud", "lamp", "orange", "bridge", "candle"]


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def idle_engine(client: EngineClient) -> AsyncIterator[None]:
    await wait_for_stats(client, lambda s: s.active_requests == 0 and s.queued_requests == 0)
    yield


async def test_the_status_counts_drafted_and_accepted_tokens(client: EngineClient) -> None:
    before = await client.status()
    assert before.speculation == "prompt lookup"
    # A list said three times: the model goes on repeating it, and drafts from the prompt hold
    # (counting did not: its drafts are right about half the time, which does not pay for a
    # draft on a CPU, so the engine rightly stops drafting there).
    body = {"model": SERVED, "prompt": " ".join(WORDS * 3), "max_tokens": 80,
            "temperature": 0}
    answer = await client.complete(body)
    assert answer["usage"]["completion_tokens"] == 80
    after = await client.status()
    accepted = after.draft_tokens_accepted_total - before.draft_tokens_accepted_total
    drafted = after.draft_tokens_total - before.draft_tokens_total
    assert 0 < accepted <= drafted


async def test_a_prompt_sharing_a_running_jobs_prefix_reports_it_cached(
        client: EngineClient, http: aiohttp.ClientSession) -> None:
    prefix = " ".join(secrets.choice(WORDS) for _ in range(80))  # new to this engine
    before = await client.status()
    running = await http.post("/v1/completions", json={
        "model": SERVED, "prompt": f"{prefix}\n1, 2, 3, 4, 5,", "max_tokens": 400,
        "temperature": 0, "stream": True})
    try:
        assert running.status == 200
        await running.content.readline()  # its prompt is decoded: the first chunk came
        other = await client.complete({"model": SERVED, "prompt": f"{prefix}\nA, B, C,",
                                       "max_tokens": 4, "temperature": 0})
    finally:
        running.close()
    usage = other["usage"]
    assert usage["prompt_tokens"] > 80
    # every token of the shared words (the newline and what follows differ)
    assert usage["prompt_tokens_details"]["cached_tokens"] >= usage["prompt_tokens"] - 8
    after = await wait_for_stats(client, lambda s: s.active_requests == 0)
    copied = after.shared_prefix_tokens_total - before.shared_prefix_tokens_total
    assert copied == usage["prompt_tokens_details"]["cached_tokens"]
