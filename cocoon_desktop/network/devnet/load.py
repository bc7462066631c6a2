"""Test jobs for the local devnet: a few short prompts a second through its client endpoint,
started and stopped by the user, so the whole path (client → proxy → worker → engine → ledger)
moves where people can see it.

The devnet exists to show that path working; without a client nothing ever arrives. The load is
what any OpenAI client would send to the devnet's endpoint (`DevnetEndpoint`, loopback with a
bearer token), at most `max_in_flight` at a time so it never overfills the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cocoon_desktop.core.tasks import TaskSet

if TYPE_CHECKING:  # aiohttp loads with the first test job, not with the app's window
    import aiohttp

log = logging.getLogger(__name__)
PROMPTS = (
    "Name a colour.", "Say hello in French.", "What is 7 times 8?", "Name a planet.",
    "Give one word that rhymes with cat.", "Name a fruit that is yellow.",
    "What is the capital of Italy?", "Count from one to five.",
)
REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DevnetEndpoint:
    """The devnet client's OpenAI-compatible endpoint: what any OpenAI client points at."""

    url: str  # http://127.0.0.1:PORT
    token: str  # the bearer token ("API key")

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


@dataclass(frozen=True)
class LoadCounts:
    sent: int = 0
    answered: int = 0
    failed: int = 0
    completion_tokens: int = 0
    last_error: str = ""
    running: bool = False


class LoadGenerator:
    def __init__(self, endpoint: DevnetEndpoint, model: str, *, per_second: float = 2.0,
                 max_in_flight: int = 2, max_tokens: int = 16,
                 on_progress: Callable[[LoadCounts], None] = lambda counts: None) -> None:
        if per_second <= 0 or max_in_flight < 1:
            raise ValueError("test jobs need a positive rate and at least one job at a time")
        self.endpoint = endpoint
        self.model = model
        self.interval_s = 1.0 / per_second
        self.max_in_flight = max_in_flight
        self.max_tokens = max_tokens
        self.counts = LoadCounts()
        self._on_progress = on_progress
        self._tasks = TaskSet("devnet test jobs")
        self._loop: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(max_in_flight)

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.done()

    def start(self) -> None:
        if not self.running:
            self._update(running=True)
            self._loop = self._tasks.spawn(self._send_forever(), "devnet test jobs")

    async def stop(self) -> None:
        """No new job; jobs in flight are cancelled (the devnet charges nobody for them)."""
        await self._tasks.close(timeout_s=5.0)
        self._tasks = TaskSet("devnet test jobs")
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._update(running=False)

    def _update(self, **changes: object) -> None:
        self.counts = replace(self.counts, **changes)  # type: ignore[arg-type]
        self._on_progress(self.counts)

    async def _send_forever(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            number = 0
            while True:
                started = time.monotonic()
                await self._slots.acquire()  # never more than max_in_flight at once
                prompt = PROMPTS[number % len(PROMPTS)]
                number += 1
                self._tasks.spawn(self._one(session, prompt), "devnet test job")
                await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def _one(self, session: aiohttp.ClientSession, prompt: str) -> None:
        import aiohttp

        self._update(sent=self.counts.sent + 1)
        try:
            tokens = await self._ask(session, prompt)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("a devnet test job failed: %s", exc)
            self._update(failed=self.counts.failed + 1, last_error=str(exc) or type(exc).__name__)
        else:
            self._update(answered=self.counts.answered + 1,
                         completion_tokens=self.counts.completion_tokens + tokens)
        finally:
            self._slots.release()

    async def _ask(self, session: aiohttp.ClientSession, prompt: str) -> int:
        """One chat completion; the completion tokens the devnet reported."""
        body = {"model": self.model, "max_tokens": self.max_tokens, "temperature": 0.7,
                "messages": [{"role": "user", "content": prompt}]}
        headers = {"Authorization": f"Bearer {self.endpoint.token}"}
        async with session.post(f"{self.endpoint.base_url}/chat/completions", json=body,
                                headers=headers) as response:
            text = await response.text()
            if response.status != 200:
                raise ValueError(f"the devnet answered {response.status}: {text[:200]}")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return int(json.loads(text)["usage"]["completion_tokens"])
        return 0
