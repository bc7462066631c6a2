"""GPU protection acting on a real node: the fake NVML (no GPU here) heats, fills and breaks
the card; the real monitor, policy and node drain the worker, unload the real engine and stop
it, and bring serving back when the card is fine again."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState
from tests.helpers.fake_nvml import FakeGpu, FakeNvml, GiB
from tests.integration.node.node_harness import (
    StatusLog,
    client_of,
    complete,
    devnet_config,
    served_ok,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture
def card(monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    fake = FakeNvml([FakeGpu.rtx_4090(temperature_c=60)]).install(monkeypatch)
    return fake.gpus[0]


@pytest.fixture
def other_program() -> Iterator[int]:
    """A real process that is neither the node nor its engine (a game, say)."""
    process = subprocess.Popen(["sleep", "300"])
    yield process.pid
    process.kill()
    process.wait()


async def serving_node(tmp_path: Path, **protection: float) -> tuple[Node, StatusLog]:
    settings = ProtectionSettings(**protection)  # type: ignore[arg-type]
    node = Node(devnet_config(tmp_path / "home", protection=settings))
    log = StatusLog(node)
    await node.open()
    await node.start_serving()
    await log.wait_for(lambda s: s.state is NodeState.SERVING)
    return node, log


def model_of(node: Node) -> str:
    assert node.engine is not None and node.engine.settings is not None
    return node.engine.settings.model_name


async def test_a_hot_card_drains_then_serving_resumes(tmp_path: Path, card: FakeGpu) -> None:
    node, log = await serving_node(tmp_path)
    try:
        url, token = client_of(node.home.run_file)
        started = asyncio.Event()
        running = asyncio.ensure_future(complete(url, token, model_of(node), max_tokens=120,
                                                 started=started))
        await asyncio.wait_for(started.wait(), 60)
        card.temperature_c = 86
        paused = await log.wait_for(lambda s: s.state is NodeState.PAUSED, 30)
        assert "GPU 0 reached 86 °C" in paused.headline and not paused.accepting
        assert node.worker.opened is not None and not node.worker.opened.worker.accepting
        assert served_ok(await running)  # the job in flight finished
        refused = await complete(url, token, model_of(node))
        assert not served_ok(refused)  # no new job while paused
        card.temperature_c = 70
        await log.wait_for(lambda s: s.state is NodeState.SERVING, 30)
        assert served_ok(await complete(url, token, model_of(node)))
        assert node.engine is not None and node.engine.status.state is EngineState.READY
    finally:
        await node.close()


async def test_game_mode_unloads_the_engine_and_reloads_it(
        tmp_path: Path, card: FakeGpu, other_program: int) -> None:
    node, log = await serving_node(tmp_path, game_end_quiet_s=1.0)
    try:
        assert node.engine is not None
        first_pid = node.engine.status.pid
        assert first_pid is not None and psutil.pid_exists(first_pid)
        card.grab_vram(other_program, 6 * GiB, kind="graphics", sm_percent=80)
        await log.wait_for(lambda s: s.protection.model_unloaded
                           and s.engine_state is EngineState.STOPPED, 60)
        assert node.status.state is NodeState.PAUSED and "Game mode" in node.status.headline
        assert not psutil.pid_exists(first_pid)  # the process is gone: its VRAM is free
        card.release(other_program)
        back = await log.wait_for(lambda s: s.state is NodeState.SERVING, 120)
        assert not back.protection.model_unloaded and node.engine.status.pid != first_pid
        url, token = client_of(node.home.run_file)
        assert served_ok(await complete(url, token, model_of(node)))
    finally:
        await node.close()


async def test_a_critical_gpu_error_stops_the_engine_until_the_user_serves_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    node, log = await serving_node(tmp_path)
    try:
        fake.raise_xid(0, 79)  # fallen off the bus
        fault = await log.wait_for(lambda s: s.state is NodeState.GPU_FAULT, 30)
        assert "GPU 0 reported xid 79" in fault.headline and "Reboot" in fault.what_to_do
        await log.wait_for(lambda s: s.engine_state is EngineState.STOPPED, 30)
        await asyncio.sleep(2)  # nothing restarts by itself
        assert node.status.state is NodeState.GPU_FAULT
        assert node.status.engine_state is EngineState.STOPPED and not node.status.accepting
        await node.start_serving()  # the user, after checking the card
        await log.wait_for(lambda s: s.state is NodeState.SERVING, 60)
    finally:
        await node.close()
