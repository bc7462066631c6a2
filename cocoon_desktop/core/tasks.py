"""Ownership for the network code's background tasks.

Every task the network code starts belongs to one `TaskSet`: it is referenced until it ends
(asyncio keeps only weak references), a failure is logged once, and `close()` cancels the
tasks and waits for them. So a stopped worker or devnet leaves nothing pending behind it: no
"Task was destroyed but it is pending" when the app's event loop closes afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 10.0


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], owner: str,
                          timeout_s: float = CLOSE_TIMEOUT_S) -> None:
    """Cancel `tasks` (not the calling one) and wait until they have ended.

    A task that ignores its cancellation for `timeout_s` is named in the log instead of
    hanging the caller's shutdown forever."""
    current = asyncio.current_task()
    pending = [task for task in tasks if task is not current and not task.done()]
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, stuck = await asyncio.wait(pending, timeout=timeout_s)
    for task in stuck:
        log.error("%s: a background task did not stop within %.0f s of being cancelled: %r",
                  owner, timeout_s, task)


class TaskSet:
    """The background tasks of one owner (a connection, a worker, a proxy)."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __contains__(self, task: object) -> bool:
        return task in self._tasks

    @property
    def closed(self) -> bool:
        return self._closed

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None,
              on_done: Callable[[asyncio.Task[Any]], None] | None = None) -> asyncio.Task[Any]:
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
                log.error("%s: background task %s failed", self.owner, finished.get_name(),
                          exc_info=finished.exception())

        task.add_done_callback(done)

    def cancel(self) -> None:
        """Cancel every task but the calling one, without waiting (`close()` waits)."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Refuse new tasks, cancel the running ones and wait for them to end."""
        self._closed = True
        await cancel_and_wait(self._tasks, self.owner, timeout_s)

    async def cancel_all(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Cancel and wait for the running tasks, but keep taking new ones (a reconnect)."""
        await cancel_and_wait(self._tasks, self.owner, timeout_s)
