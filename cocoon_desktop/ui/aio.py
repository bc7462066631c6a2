"""The app's one way to run blocking calls and background tasks on qasync's event loop.

- `run_blocking(fn, *args)`: NVML, keyring over D-Bus, hashing, file I/O run on a small thread
  pool and are awaited from the GUI thread; the GUI never blocks.
- `spawn(coro, name=...)`: every background task; a reference is kept until it ends (so it is
  never garbage-collected mid-flight), and a failure is logged and handed to the error reporter
  (the uncaught-error dialog) instead of vanishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_tasks: set[asyncio.Task[Any]] = set()
_error_reporter: Callable[[BaseException, str], None] | None = None


def set_error_reporter(reporter: Callable[[BaseException, str], None] | None) -> None:
    """Where unexpected task failures go after being logged (the app's error dialog)."""
    global _error_reporter
    _error_reporter = reporter


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cocoon-blocking")
    return _executor


async def run_blocking(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` on the blocking pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))


def spawn(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start `coro` as a task that is kept alive and whose failure is reported."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_on_task_done)
    return task


def _on_task_done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None:
        return
    log.error("background task %s failed", task.get_name(), exc_info=exc)
    if _error_reporter is not None:
        _error_reporter(exc, f"background task {task.get_name()}")


async def cancel_and_wait(task: asyncio.Task[Any] | None, timeout_s: float = 3.0) -> bool:
    """Cancel one task and wait for it, bounded: quitting never hangs on a stuck task.

    Returns whether it ended in time; a task that did not is logged and left behind.
    """
    if task is None or task.done():
        return True
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("task %s did not stop within %.0f s; leaving it", task.get_name(),
                    timeout_s)
    return bool(done)


def running_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in _tasks if not t.done()]


async def cancel_all(timeout_s: float = 5.0) -> None:
    """Cancel every spawned task and wait (bounded) for them to finish."""
    tasks = running_tasks()
    for task in tasks:
        task.cancel()
    if tasks:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(tasks, timeout=timeout_s)


def shutdown_pool() -> None:
    """Let blocking calls in flight finish; start no new ones (at exit)."""
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
        _executor = None
