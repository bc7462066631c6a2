"""The node's side of a model load (progress in `NodeStatus`, Cancel while serving starts) and
of the upstream gateway (off by default; on, it serves the node's engine without a token)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import psutil
import pytest

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState, NodeStatus
from tests.integration.engine_core.big_model import write_big_model
from tests.integration.node.node_harness import StatusLog, devnet_config

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_cancel_while_the_model_loads_stops_serving_not_fails(tmp_path: Path) -> None:
    node = Node(devnet_config(tmp_path / "home", model_path=write_big_model(tmp_path)))
    log = StatusLog(node)
    await node.open()
    try:
        assert node.engine.gateway is None  # the upstream gateway is off by default
        assert json.loads(node.home.run_file.read_text())["upstream_gateway_url"] is None
        pids: list[int | None] = []
        cancelling: list[asyncio.Future[bool]] = []

        def cancel_once_the_process_loads(status: NodeStatus) -> None:
            engine = node.engine.status if node.engine is not None else None
            if not cancelling and engine is not None and engine.pid is not None and \
                    status.engine_state is EngineState.LOADING:
                pids.append(engine.pid)
                cancelling.append(asyncio.ensure_future(node.cancel_engine_load()))

        node.status_changed.add(cancel_once_the_process_loads)
        serving = asyncio.ensure_future(node.start_serving())
        await log.wait_for(lambda _s: bool(cancelling), 60)
        assert await cancelling[0] is True
        await asyncio.wait_for(serving, 30)
        [pid] = pids
        status = node.status
        assert status.state is NodeState.STOPPED and not status.wanted
        assert not status.needs_user and status.what_to_do == ""
        assert status.engine_state is EngineState.STOPPED
        assert "was cancelled" in status.engine_detail
        assert status.engine_load_fraction is None
        assert pid is not None and not psutil.pid_exists(pid)
        assert await node.cancel_engine_load() is False  # nothing loads now

        # The next load (a chat's) shows its progress in the node's status, up to 1.0.
        mark = len(log.seen)
        await node.ensure_engine()
        fractions = [s.engine_load_fraction for s in log.seen[mark:]
                     if s.engine_load_fraction is not None]
        assert len(fractions) >= 10 and fractions == sorted(fractions)
        assert fractions[-1] == 1.0
        assert node.status.engine_state is EngineState.READY
        assert node.status.engine_load_fraction is None
    finally:
        await node.close()


async def test_the_upstream_gateway_serves_the_nodes_engine_without_a_token(
        tmp_path: Path) -> None:
    port = free_port()
    node = Node(devnet_config(tmp_path / "home", upstream_gateway_port=port))
    other = Node(devnet_config(tmp_path / "other", upstream_gateway_port=port))
    await node.open()
    try:
        gateway = node.engine.gateway
        assert gateway is not None and gateway.url == f"http://127.0.0.1:{port}"
        run = json.loads(node.home.run_file.read_text())
        assert run["upstream_gateway_url"] == gateway.url
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gateway.url}/v1/models") as response:
                away = await response.json()
            assert response.status == 503 and "The engine is stopped" in \
                away["error"]["message"]
            await node.ensure_engine()
            async with session.get(f"{gateway.url}/v1/models") as response:
                [model] = (await response.json())["data"]
            body = {"model": model["id"], "max_tokens": 6, "temperature": 0,
                    "stream": True, "stream_options": {"include_usage": True},
                    "messages": [{"role": "user", "content": "Say hello."}]}
            async with session.post(f"{gateway.url}/v1/chat/completions",
                                    json=body) as response:
                lines = (await response.read()).decode().splitlines()
        data = [line[6:] for line in lines if line.startswith("data: ")]
        assert response.status == 200 and data[-1] == "[DONE]"
        assert json.loads(data[-2])["usage"]["completion_tokens"] == 6

        # A second node asking for the same port: a problem it shows, not a crash.
        await other.open()
        assert other.engine.gateway is None
        assert any(f"cannot listen on 127.0.0.1:{port}" in p for p in other.status.problems)
    finally:
        await other.close()
        await node.close()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # closed with the node
