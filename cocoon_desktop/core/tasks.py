"""The one way the app runs background work on its event loop, core and UI alike.

- `run_blocking(fn, *args)`: NVML, the keyring over D-Bus, hashing, SQLite and file I/O run on
  one small thread pool and are awaited; the event loop (and so the GUI) never blocks.
- `TaskSet`: the background tasks of one owner (a node, a worker, a connection, a controller).
  Each task is referenced until it ends (asyncio keeps only weak references), a failure is
  logged once, and `close()` cancels the tasks and waits for them, so a stopped owner leaves
  nothing pending behind it ("Task was destroyed but it is pending").
- `spawn(coro, name=...)`: a task owned by the app itself (`APP_TASKS`), for work started from
  the UI; a failure is also handed to the error reporter (the GUI's error dialog).
- `cancel_and_wait(tasks, owner)`: cancel and wait, bounded: quitting never hangs on a task that
  ignores its cancellation (it is named in the log instead).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
CLOSE_TIMEOUT_S = 10.0
# Every blocking call of the app shares this pool: the 1 Hz health tick (GPU protection) beside
# calls that can take long (hashing a model, a keyring waiting to be unlocked, proof of work), so
# it is larger than the cores: a few slow calls must not hold the tick back.
BLOCKING_THREADS = 8

_executor: ThreadPoolExecutor | None = None
_error_reporter: Callable[[BaseException, str], None] | None = None


# -- blocking calls -------------------------------------------------------------------------------
def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=BLOCKING_THREADS,
                                       thread_name_prefix="cocoon-blocking")
    return _executor


async def run_blocking(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` on the blocking pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))


def shutdown_pool() -> None:
    """Let blocking calls in flight finish; start no new ones (at exit)."""
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
        _executor = None


# -- tasks ----------------------------------------------------------------------------------------
def set_error_reporter(reporter: Callable[[BaseException, str], None] | None) -> None:
    """Where failures of `spawn`ed tasks go after being logged (the GUI's error dialog)."""
    global _error_reporter
    _error_reporter = reporter


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]] | asyncio.Future[Any] | None,
                          owner: str = "the app", timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
    """Cancel `tasks` (never the calling one) and wait until they have ended; True when all did
    within `timeout_s`. One that ignores its cancellation is named in the log and left behind."""
    if tasks is None:
        return True
    if isinstance(tasks, asyncio.Future):
        tasks = (tasks,)
    current = asyncio.current_task()
    pending = [task for task in tasks if task is not current and not task.done()]
    for task in pending:
        task.cancel()
    if not pending:
        return True
    _, stuck = await asyncio.wait(pending, timeout=timeout_s)
    for task in stuck:
        log.error("%s: a background task did not stop within %.0f s of being cancelled: %r",
                  owner, timeout_s, task)
    return not stuck


class TaskSet:
    """The background tasks of one owner (a node, a worker, a connection, a controller)."""

    def __init__(self, owner: str,
                 reporter: Callable[[BaseException, str], None] | None = None) -> None:
        self.owner = owner
        self._reporter = reporter
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __contains__(self, task: object) -> bool:
        return task in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    def running(self) -> list[asyncio.Task[Any]]:
        return [task for task in self._tasks if not task.done()]

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None,
              on_done: Callable[[asyncio.Task[Any]], None] | None = None) -> asyncio.Task[T]:
        """Run `coro` as a task this set owns. After `close()` nothing may start: the
        coroutine is closed unstarted and RuntimeError says why."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.owner} is stopping; no new background work is started")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.adopt(task, on_done)
        return task

    def adopt(self, task: asyncio.Task[Any],
              on_done: Callable[[asyncio.Task[Any]], None] | None = None) -> None:
        """Own a task something else created (a server's per-connection handler)."""
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if on_done is not None:
                on_done(finished)
            elif not finished.cancelled() and finished.exception() is not None:
                self._report(finished)

        task.add_done_callback(done)

    def _report(self, task: asyncio.Task[Any]) -> None:
        exc = task.exception()
        assert exc is not None
        log.error("%s: background task %s failed", self.owner, task.get_name(), exc_info=exc)
        reporter = self._reporter or (_error_reporter if self is APP_TASKS else None)
        if reporter is not None:
            reporter(exc, f"background task {task.get_name()}")

    def cancel(self) -> None:
        """Cancel every task but the calling one, without waiting (`close()` waits)."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Refuse new tasks, cancel the running ones and wait for them to end."""
        self._closed = True
        return await cancel_and_wait(self._tasks, self.owner, timeout_s)

    async def cancel_all(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Cancel and wait for the running tasks, but keep taking new ones (a reconnect)."""
        return await cancel_and_wait(list(self._tasks), self.owner, timeout_s)


APP_TASKS = TaskSet("the app")


def spawn(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start `coro` as a task of the app itself: kept alive, its failure logged and reported."""
    return APP_TASKS.spawn(coro, name)
