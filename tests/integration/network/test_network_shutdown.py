"""Stopping the devnet and a worker leaves nothing behind on the event loop.

Every task the network code starts is owned, cancelled and awaited on stop, so an app that
closes its loop right after (qasync does, with no sweep that cancels leftovers) gets no "Task
was destroyed but it is pending", no coroutine "never awaited", no unretrieved task exception.
Each scenario runs on a fresh loop in asyncio's debug mode; after the stops no task but the
scenario's own may remain, then the loop is closed, garbage collected, and asyncio's log and
the warnings are searched for those complaints.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import warnings
from collections.abc import Awaitable, Callable

import pytest

from cocoon_desktop.network.devnet.network import DevnetSettings, start_devnet
from cocoon_desktop.network.errors import NOTREADY
from cocoon_desktop.network.worker.http_stats import serve_stats
from tests.helpers.devnet_harness import ScriptedEngine, chat, make_worker, wait_until

LIFECYCLE_COMPLAINTS = ("Task was destroyed but it is pending", "was never awaited",
                        "Task exception was never retrieved", "exception was never retrieved",
                        "Unhandled exception in client_connected_cb")
Scenario = Callable[[], Awaitable[None]]


def complaints_after(scenario: Scenario, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Run `scenario` on a new debug-mode loop, close the loop as qasync does, collect garbage;
    every lifecycle complaint asyncio made on the way, from its log and from warnings."""
    caplog.set_level(logging.DEBUG, logger="asyncio")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop = asyncio.new_event_loop()
        loop.set_debug(True)
        try:
            loop.run_until_complete(scenario())
            loop.run_until_complete(loop.shutdown_default_executor())  # name lookups
        finally:
            loop.close()
        del loop
        gc.collect()
    said = [record.getMessage() for record in caplog.records]
    said += [f"{w.category.__name__}: {w.message}" for w in caught]
    return [text for text in said if any(c in text for c in LIFECYCLE_COMPLAINTS)]


def nothing_left_running() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def serve_then_stop(devnet_first: bool) -> None:
    """A devnet, a worker with its stats page, answers served, then everything stopped while
    one answer streams and the worker's notices to its proxy are still on their way. The
    answer's first bytes are at the client before anything stops (the engine holds after its
    first part), so its status is 200 under any load and what follows is the break-off."""
    engine = ScriptedEngine(parts=20, hold_after=1)
    devnet = await start_devnet(DevnetSettings(pow_difficulty=4))
    worker = make_worker(devnet, await engine.start())
    await worker.start()
    runner, _ = await serve_stats(worker, "shutdown-test-token")
    await wait_until(lambda: worker.status().connected_proxies == 1)
    engine.hold_after = None
    assert (await chat(devnet, "first"))[0] == 200
    engine.hold_after = 1
    first_bytes = asyncio.Event()
    streaming = asyncio.ensure_future(chat(devnet, "a long one", first_bytes=first_bytes))
    await wait_until(first_bytes.is_set)
    if devnet_first:  # the proxy vanishes under a serving worker, which starts reconnecting
        await devnet.stop()
        await wait_until(lambda: worker.status().proxies[0].state != "ready")
    worker.set_coefficient(1500)
    worker.disable()
    await worker.stop()
    await runner.cleanup()
    if not devnet_first:
        await devnet.stop()
    await engine.stop()
    status, events, text = await streaming
    assert status == 200 and "[the answer broke off]" in text  # told, not left hanging
    assert events[0]["choices"][0]["delta"]["content"] == "w0 "
    assert nothing_left_running() == []


async def vanish_before_the_first_byte(devnet_first: bool) -> None:
    """The proxy (or the worker) goes away while the engine has not answered at all: the
    client gets an error status with an OpenAI-style JSON body saying what happened, not a
    200 with a broken stream, and nothing is left behind."""
    engine = ScriptedEngine(parts=5, hold_after=0)
    devnet = await start_devnet(DevnetSettings(pow_difficulty=4))
    worker = make_worker(devnet, await engine.start())
    await worker.start()
    await wait_until(lambda: worker.status().connected_proxies == 1)
    asking = asyncio.ensure_future(chat(devnet, "never answered"))
    await wait_until(lambda: len(engine.seen) == 1)  # the worker has it; no byte came back
    if devnet_first:
        await devnet.stop()
    await worker.stop()
    if not devnet_first:
        await devnet.stop()
    await engine.stop()
    status, events, text = await asking
    assert status == 502 and events == [] and "data:" not in text
    error = json.loads(text)["error"]
    assert error["code"] == NOTREADY and error["type"] == "cocoon_error"
    assert "before the answer was complete" in error["message"]
    assert "send the request again" in error["message"]
    assert nothing_left_running() == []


@pytest.mark.parametrize("devnet_first", [False, True], ids=["worker-first", "devnet-first"])
def test_stopping_leaves_no_pending_task_and_no_unawaited_coroutine(
        devnet_first: bool, caplog: pytest.LogCaptureFixture) -> None:
    assert complaints_after(lambda: serve_then_stop(devnet_first), caplog) == []


@pytest.mark.parametrize("devnet_first", [False, True], ids=["worker-first", "devnet-first"])
def test_a_peer_that_vanishes_before_the_first_byte_is_a_clear_error(
        devnet_first: bool, caplog: pytest.LogCaptureFixture) -> None:
    assert complaints_after(lambda: vanish_before_the_first_byte(devnet_first), caplog) == []


def test_the_check_sees_a_task_left_pending(caplog: pytest.LogCaptureFixture) -> None:
    """The detector itself: a task abandoned at loop close is reported."""
    async def abandon() -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="abandoned")
        await asyncio.sleep(0)

    complaints = complaints_after(abandon, caplog)
    assert any("Task was destroyed but it is pending" in c for c in complaints)
