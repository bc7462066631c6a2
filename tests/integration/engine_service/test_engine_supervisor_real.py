"""The supervisor with the real engine process: crash, recovery, give-up, stop, hang."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cocoon_desktop.engine.host.client import EngineClient, EngineUnavailable
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineSupervisor, RestartPolicy
from cocoon_desktop.engine.types import EngineState
from tests.integration.engine_service.conftest import (
    COUNTING,
    SERVED,
    StatusLog,
    engine_settings,
    started,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]
FAST_RESTARTS = RestartPolicy(first_delay_s=0.2, max_delay_s=1.0, max_quick_crashes=3)
SHORT = {"model": SERVED, "prompt": "Hello", "max_tokens": 3, "temperature": 0}


@contextlib.asynccontextmanager
async def supervised(**options: object) -> AsyncIterator[EngineSupervisor]:
    supervisor = EngineSupervisor(engine_settings(), restart_policy=FAST_RESTARTS,
                                  probe_interval_s=0.3, **options)  # type: ignore[arg-type]
    try:
        yield supervisor
    finally:
        await supervisor.stop(drain_timeout_s=0)


def process_gone(pid: int) -> bool:
    """Gone, or a zombie waiting for a reaper (it holds no memory then)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def port_closed(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


async def test_sigkill_mid_request_gives_an_error_then_the_engine_recovers() -> None:
    async with supervised() as supervisor:
        log = StatusLog(supervisor)
        endpoint = await started(supervisor)
        first_pid = supervisor.status.pid
        assert first_pid is not None
        async with EngineClient(endpoint) as client:
            stream = client.stream_complete({**COUNTING, "max_tokens": 1000})
            await anext(stream)
            os.kill(first_pid, signal.SIGKILL)
            with pytest.raises(EngineUnavailable, match="crashed or was stopped"):
                async for _ in stream:
                    pass
        crashed = await log.wait_for(lambda s: s.state is EngineState.CRASHED)
        assert "SIGKILL" in crashed.detail and "Restarting" in crashed.detail
        assert crashed.endpoint is None and crashed.restart_in_s == pytest.approx(0.2)
        ready = await log.wait_for(lambda s: s.state is EngineState.READY and s.pid != first_pid)
        assert ready.endpoint is not None and ready.endpoint != endpoint  # new port and token
        async with EngineClient(ready.endpoint) as client:
            answer = await client.complete(SHORT)
        assert answer["usage"]["completion_tokens"] >= 1


async def test_the_supervisor_gives_up_after_quick_crashes_and_says_why() -> None:
    async with supervised() as supervisor:
        log = StatusLog(supervisor)
        await started(supervisor)
        killed: set[int] = set()
        for _ in range(FAST_RESTARTS.max_quick_crashes):
            status = await log.wait_for(lambda s: s.state is EngineState.READY
                                        and s.pid not in killed)
            assert status.pid is not None
            killed.add(status.pid)
            os.kill(status.pid, signal.SIGKILL)
        final = await log.wait_for(lambda s: s.gave_up)
        assert final.state is EngineState.CRASHED
        assert "crashed 3 times in a row and was not restarted" in final.detail
        assert "then start it again" in final.detail
        with pytest.raises(EngineStartError, match="crashed 3 times"):
            await supervisor.wait_ready(1)


async def test_a_model_that_cannot_load_is_reported_without_restarting(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))
    supervisor = EngineSupervisor(engine_settings(model_path=broken),
                                  restart_policy=FAST_RESTARTS)
    log = StatusLog(supervisor)
    await supervisor.start()
    with pytest.raises(EngineStartError, match="could not load the model"):
        await supervisor.wait_ready(60)
    await supervisor.stop()
    launches = [s for s in log.seen if s.detail == "Starting the engine."]
    assert len(launches) == 1, "a model that cannot load must not be retried in a loop"
    final = next(s for s in log.seen if s.gave_up)
    assert "Choose another model" in final.detail


async def test_stop_lets_a_running_request_finish_then_frees_the_process() -> None:
    async with supervised() as supervisor:
        endpoint = await started(supervisor)
        pid = supervisor.status.pid
        assert pid is not None
        async with EngineClient(endpoint) as client:
            answer = asyncio.create_task(client.complete({**COUNTING, "max_tokens": 12}))
            while (await client.status()).active_requests == 0:
                await asyncio.sleep(0.02)
            await supervisor.stop(drain_timeout_s=60)
            finished = await answer
        assert finished["choices"][0]["finish_reason"] == "length"
        assert finished["usage"]["completion_tokens"] == 12
        assert supervisor.status.state is EngineState.STOPPED
        assert process_gone(pid)
        assert port_closed(endpoint.base_url)


async def test_stop_without_drain_ends_running_requests_with_an_error() -> None:
    async with supervised() as supervisor:
        endpoint = await started(supervisor)
        async with EngineClient(endpoint) as client:
            stream = client.stream_complete({**COUNTING, "max_tokens": 1000})
            await anext(stream)
            await asyncio.wait_for(supervisor.stop(drain_timeout_s=0), 30)
            with pytest.raises(EngineUnavailable):
                async for _ in stream:
                    pass
            with pytest.raises(EngineUnavailable, match="not running"):
                await client.complete(SHORT)


async def test_a_hung_engine_is_killed_and_restarted() -> None:
    async with supervised(probe_timeout_s=0.5) as supervisor:
        log = StatusLog(supervisor)
        await started(supervisor)
        pid = supervisor.status.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # alive but answering nothing
        ready = await log.wait_for(lambda s: s.state is EngineState.READY and s.pid != pid, 60)
        assert process_gone(pid)
        assert ready.endpoint is not None


async def test_restart_switches_settings() -> None:
    async with supervised() as supervisor:
        await started(supervisor)
        await supervisor.restart(engine_settings(parallel_sequences=1))
        await supervisor.wait_ready(60)
        stats = supervisor.status.stats
        assert stats is not None and stats.capacity == 1


APP = """
import asyncio, sys
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from tests.integration.engine_service.conftest import engine_settings

async def main() -> None:
    supervisor = EngineSupervisor(engine_settings(), sandbox_mode=sys.argv[1])
    await supervisor.start()
    await supervisor.wait_ready(120)
    print(supervisor.status.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["auto", "none"])
async def test_the_engine_never_outlives_a_killed_app(mode: str) -> None:
    root = Path(__file__).resolve().parents[3]
    app = await asyncio.create_subprocess_exec(
        sys.executable, "-c", APP, mode, cwd=root, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)})
    assert app.stdout is not None
    line = await asyncio.wait_for(app.stdout.readline(), 120)
    engine_pid = int(line)
    app.kill()  # the app dies without stopping anything
    await app.wait()
    for _ in range(200):
        if process_gone(engine_pid):
            break
        await asyncio.sleep(0.05)
    assert process_gone(engine_pid), "the engine outlived its app, holding its memory"
