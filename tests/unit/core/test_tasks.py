"""TaskSet, spawn and run_blocking: what every background task relies on to end cleanly."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest

from cocoon_desktop.core.tasks import (
    APP_TASKS,
    TaskSet,
    cancel_and_wait,
    run_blocking,
    set_error_reporter,
    spawn,
)


async def test_close_cancels_and_waits_for_every_task() -> None:
    tasks = TaskSet("test")
    ended: list[str] = []

    async def sleeper(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append(name)

    for name in ("a", "b"):
        tasks.spawn(sleeper(name), name=name)
    await asyncio.sleep(0)
    await tasks.close()
    assert sorted(ended) == ["a", "b"]  # both ran their clean-up before close() returned
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_nothing_starts_after_close_and_the_coroutine_is_not_left_unawaited() -> None:
    tasks = TaskSet("the test owner")
    await tasks.close()

    async def never() -> None:
        raise AssertionError("must not run")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="the test owner is stopping"):
            tasks.spawn(never())
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_a_failure_is_logged_once_and_a_done_hook_sees_it(caplog) -> None:
    tasks = TaskSet("owner")
    seen: list[BaseException | None] = []

    async def boom() -> None:
        raise ValueError("broken")

    tasks.spawn(boom(), name="logged")
    tasks.spawn(boom(), name="hooked", on_done=lambda t: seen.append(t.exception()))
    await asyncio.sleep(0.01)
    failures = [r for r in caplog.records if "background task" in r.getMessage()]
    assert [r.getMessage() for r in failures] == ["owner: background task logged failed"]
    assert isinstance(seen[0], ValueError)
    await tasks.close()


async def test_a_task_that_ignores_cancellation_is_named_instead_of_hanging(caplog) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # refuses to stop

    task = asyncio.get_running_loop().create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        await cancel_and_wait([task], "owner", timeout_s=0.2)
    assert "did not stop within 0 s of being cancelled" in caplog.text
    assert "stubborn" in caplog.text
    release.set()
    await task


async def test_the_calling_task_is_never_cancelled_by_its_own_set() -> None:
    tasks = TaskSet("self")
    result: list[str] = []

    async def closes_its_own_set() -> None:
        await tasks.close()
        result.append("still running")

    await tasks.spawn(closes_its_own_set())
    assert result == ["still running"]


async def test_run_blocking_runs_off_the_event_loop_thread() -> None:
    import threading

    loop_thread = threading.get_ident()
    ran_on = await run_blocking(threading.get_ident)
    assert ran_on != loop_thread
    assert await run_blocking(lambda a, *, b: a + b, 2, b=3) == 5


async def test_spawned_app_task_failures_reach_the_reporter_once() -> None:
    seen: list[tuple[BaseException, str]] = []
    set_error_reporter(lambda exc, where: seen.append((exc, where)))
    try:
        async def boom() -> None:
            raise ValueError("broken")

        task = spawn(boom(), name="boom")
        await asyncio.wait({task})
        assert [(type(e), w) for e, w in seen] == [(ValueError, "background task boom")]
        assert task not in APP_TASKS  # no reference is kept after it ends
    finally:
        set_error_reporter(None)


async def test_cancel_and_wait_takes_one_task_or_none() -> None:
    assert await cancel_and_wait(None)
    task = asyncio.get_running_loop().create_task(asyncio.sleep(60))
    assert await cancel_and_wait(task, "owner", timeout_s=5)
    assert task.cancelled()
