"""The engine dies mid-stream: the client gets an error, the worker recovers with the restart."""

from __future__ import annotations

import json
import os
import signal

import aiohttp
import pytest

from cocoon_desktop.engine.host.supervisor import RestartPolicy
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.network.worker.types import RequestFinished
from tests.helpers.devnet_harness import (
    SERVED,
    chat,
    engine_settings,
    running_engine,
    served_devnet,
    wait_until,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]


async def test_engine_killed_mid_stream_fails_the_request_and_the_worker_recovers() -> None:
    async with running_engine(engine_settings(parallel_sequences=2),
                              restart_policy=RestartPolicy(first_delay_s=0.2)) as supervisor, \
            served_devnet(lambda: supervisor.endpoint) as (devnet, worker, events):
        supervisor.on_status(lambda s: worker.set_engine_ready(s.state is EngineState.READY))
        body = {"model": SERVED, "prompt": "1, 2, 3, 4, 5, 6, 7,", "stream": True,
                "max_tokens": 400, "temperature": 0}
        headers = {"Authorization": f"Bearer {devnet.settings.http_token}"}
        received, killed = b"", 0
        async with aiohttp.ClientSession() as http, http.post(
                f"{devnet.http_url}/v1/completions", json=body, headers=headers) as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                async for line in resp.content:
                    received += line
                    if received.count(b"data:") == 3 and not killed:
                        killed = supervisor.status.pid
                        os.kill(killed, signal.SIGKILL)
        error = json.loads(received.split(b"data: ")[-1])["error"]
        assert "the engine stopped in the middle of the answer" in error["message"]
        await wait_until(lambda: any(isinstance(e, RequestFinished) for e in events))
        finished = next(e for e in events if isinstance(e, RequestFinished))
        assert not finished.succeeded and worker.status().active_requests == 0
        await wait_until(lambda: supervisor.status.state is EngineState.READY
                         and supervisor.status.pid not in (None, killed), 180)
        await wait_until(lambda: worker.accepting)
        status, _, text = await chat(devnet, "Say hello.")
        assert status == 200 and "[DONE]" in text  # the same worker serves again
