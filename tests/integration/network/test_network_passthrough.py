"""The engine's answer crosses worker -> proxy -> client byte for byte; only the usage chunk
changes (it gains the cost fields), and the worker still counts the tokens from it."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from cocoon_desktop.network.devnet.client import End, Failed, Part
from cocoon_desktop.network.worker.types import RequestFinished
from tests.helpers.devnet_harness import (
    SERVED,
    ScriptedEngine,
    chat,
    served_devnet,
    wait_until,
)

COST_FIELDS = {"prompt_total_cost", "completion_total_cost", "total_cost"}


async def straight(engine: ScriptedEngine) -> bytes:
    assert engine.endpoint is not None
    async with aiohttp.ClientSession() as session, session.post(
            f"{engine.endpoint.base_url}/v1/chat/completions", json={"stream": True},
            headers={"Authorization": f"Bearer {engine.token}"}) as resp:
        return await resp.read()


def usage_line(lines: list[bytes]) -> int:
    return next(i for i, line in enumerate(lines) if b'"usage": {' in line)


async def test_a_fast_stream_arrives_byte_identical_with_usage_counted() -> None:
    # 300 parts written back to back: the engine outpaces the link, so parts are joined
    engine = ScriptedEngine(parts=300, prompt_tokens=17)
    await engine.start()
    try:
        expected = await straight(engine)
        async with served_devnet(engine.endpoint) as served:
            status, _, text = await chat(served.devnet, "Hi", max_tokens=400)
            await wait_until(lambda: any(isinstance(e, RequestFinished)
                                         for e in served.events))
    finally:
        await engine.stop()
    assert status == 200
    want, got = expected.split(b"\n"), text.encode().split(b"\n")
    assert len(got) == len(want)
    at = usage_line(want)
    assert got[:at] == want[:at] and got[at + 1:] == want[at + 1:]  # every other byte as sent
    sent_usage = json.loads(want[at][5:])["usage"]
    served_usage = json.loads(got[at][5:])["usage"]
    assert set(served_usage) - set(sent_usage) == COST_FIELDS
    assert {k: served_usage[k] for k in sent_usage} == sent_usage
    finished = next(e for e in served.events if isinstance(e, RequestFinished))
    assert finished.succeeded
    assert (finished.tokens.prompt_tokens, finished.tokens.completion_tokens) == (17, 300)
    assert served_usage["total_cost"] == \
        finished.adjusted.total * served.devnet.root_config.price_per_token


async def test_parts_leave_at_most_once_per_hold_however_fast_the_engine_writes() -> None:
    # a chunk every millisecond: each arrives on its own, well inside the 5 ms hold
    engine = ScriptedEngine(parts=300, delay_s=0.001)
    await engine.start()
    try:
        async with served_devnet(engine.endpoint) as served:
            hold_s = served.worker.config.answer_part_hold_s
            started = asyncio.get_running_loop().time()
            request_id, queue = await served.devnet.client.query(
                SERVED, "/v1/chat/completions",
                {"model": SERVED, "messages": [{"role": "user", "content": "Hi"}],
                 "stream": True, "max_tokens": 400})
            events = [await queue.get()]
            while not isinstance(events[-1], End | Failed):
                events.append(await queue.get())
            elapsed_s = asyncio.get_running_loop().time() - started
            served.devnet.client.done(request_id)
    finally:
        await engine.stop()
    assert isinstance(events[-1], End) and events[-1].tokens.total_tokens_used > 0
    parts = [e for e in events if isinstance(e, Part)]
    assert b"".join(p.data for p in parts).count(b'"delta"') == 300  # every piece arrived
    # one part per hold at most (plus the first, sent at once, and the final one)
    assert len(parts) <= elapsed_s / hold_s + 2
