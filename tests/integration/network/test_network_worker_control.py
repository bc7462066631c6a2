"""Drain and request timeouts, with a scripted engine (timing, not the model, is under test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cocoon_desktop.network.worker.types import RequestFinished
from tests.helpers.devnet_harness import (
    ServedDevnet,
    chat,
    scripted_engine,
    served_devnet,
    wait_until,
)


@pytest.fixture
async def slow() -> AsyncIterator[ServedDevnet]:
    async with scripted_engine(parts=10, delay_s=0.2) as engine, \
            served_devnet(engine.endpoint) as served:  # about 2 s per answer
        yield served


async def test_drain_lets_running_requests_finish_and_refuses_new_ones(slow) -> None:
    devnet, worker, _ = slow
    running = asyncio.create_task(chat(devnet, "long one"))
    await wait_until(lambda: worker.active_requests == 1)
    drained = asyncio.create_task(worker.drain(10))
    await wait_until(lambda: devnet.proxy.lines[0].is_disabled)
    status, _, text = await chat(devnet, "too late")
    assert status == 502 and "no ready workers" in text
    assert await drained is True
    status, _, text = await running
    assert status == 200 and "[DONE]" in text  # the running request was not cut
    assert worker.status().draining
    worker.enable()
    await wait_until(lambda: not devnet.proxy.lines[0].is_disabled)
    assert (await chat(devnet, "welcome back"))[0] == 200


async def test_a_drain_that_runs_out_of_time_says_so(slow) -> None:
    devnet, worker, _ = slow
    running = asyncio.create_task(chat(devnet, "long one"))
    await wait_until(lambda: worker.active_requests == 1)
    assert await worker.drain(0.2) is False
    assert (await running)[0] == 200


async def test_the_request_timeout_is_honoured_and_reported(slow) -> None:
    devnet, worker, events = slow
    status, _, text = await chat(devnet, "slow", timeout=1.0)
    # The head was already sent, so the timeout ends the stream with an error event.
    assert status == 200 and "timeout" in text and "[the answer broke off]" in text
    await wait_until(lambda: any(isinstance(e, RequestFinished) for e in events))
    finished = next(e for e in events if isinstance(e, RequestFinished))
    assert not finished.succeeded and "timeout" in (finished.error or "")
    await wait_until(lambda: worker.active_requests == 0)


async def test_losing_the_proxy_mid_request_frees_the_slot_and_reports_it(slow) -> None:
    devnet, worker, events = slow
    running = asyncio.create_task(chat(devnet, "long one"))
    await wait_until(lambda: worker.active_requests == 1)
    await devnet.proxy.stop()
    await wait_until(lambda: worker.active_requests == 0)
    finished = next(e for e in events if isinstance(e, RequestFinished))
    assert not finished.succeeded and "proxy connection closed" in (finished.error or "")
    status, _, text = await running
    assert status == 200 and "[the answer broke off]" in text
