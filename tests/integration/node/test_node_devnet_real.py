"""A node on the devnet with the real engine and the bundled model: a job served end to end,
recorded in the ledger, visible on the stats surface; stopping drains and frees everything."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import aiohttp
import psutil
import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.engine.models.capacity import COMPUTE_RESERVE_BYTES, KV_SHARE_OF_FREE_MEMORY
from cocoon_desktop.engine.models.gguf_meta import read_gguf_metadata
from cocoon_desktop.hardware.energy import Tariff
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.node import engine_plan
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState
from tests.helpers.bundled_model import bundled_model_or_skip
from tests.integration.node.node_harness import (
    client_of,
    complete,
    devnet_config,
    served_ok,
    serving_node,
    wait_until,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]


async def test_a_job_is_served_recorded_and_shown(tmp_path: Path) -> None:
    async with serving_node(devnet_config(tmp_path / "home")) as (node, log):
        assert node.engine is not None and node.engine.settings is not None
        model = node.engine.settings.model_name
        serving = node.status
        assert node.engine.settings.parallel_sequences == 3  # 2 jobs and the chat's lane
        assert serving.worker is not None and serving.worker.max_active_requests == 2
        assert "as set (2 network jobs and the chat)" in serving.engine_capacity_note
        run_file = node.home.run_file
        assert run_file.stat().st_mode & 0o777 == 0o600
        url, token = client_of(run_file)
        assert served_ok(await complete(url, token, model, max_tokens=12))
        await wait_until(lambda: node.status.earnings is not None
                         and node.status.earnings.all_time.requests == 1, 30)
        summary = node.status.earnings
        assert summary is not None and summary.all_time.earned_nanoton > 0
        await _stats_surface_shows_it(node, json.loads(run_file.read_text()))
        engine_pid = node.engine.status.pid
    assert log.states()[-3:] == [NodeState.SERVING, NodeState.STOPPING, NodeState.STOPPED]
    assert engine_pid is not None and not psutil.pid_exists(engine_pid)
    assert not run_file.exists()
    with Ledger.open(tmp_path / "home" / "data" / "ledger-devnet.sqlite3") as ledger:
        [served] = ledger.requests()
    assert served.succeeded and served.adjusted_tokens > 0
    assert served.earned_nanoton == summary.all_time.earned_nanoton


async def _stats_surface_shows_it(node: Node, run: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {run['stats_token']}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{run['stats_url']}/metrics", headers=auth) as response:
            metrics = await response.text()
        async with session.get(f"{run['stats_url']}/nodestatus", headers=auth) as response:
            status = await response.json()
        async with session.get(f"{run['stats_url']}/jsonstats",
                               params={"access_hash": run["stats_token"]}) as response:
            jsonstats = await response.json()
        async with session.get(f"{run['stats_url']}/metrics") as response:
            assert response.status == 401  # no token, no figures
    assert 'cocoon_worker_requests_total{result="success"} 1' in metrics
    assert 'cocoon_node_state{node_instance="0",state="serving"} 1' in metrics
    assert ('cocoon_node_earned_nanoton{node_instance="0",period="all",network="devnet"}'
            in metrics)
    assert status["state"] == "serving" and status["accepting"] is True
    assert jsonstats["status"]["enabled"] is True and jsonstats["stats"]
    assert run["stats_url"].startswith("http://127.0.0.1:")


async def test_a_second_node_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = Node(devnet_config(tmp_path / "home"))
    await first.open()
    try:
        second = Node(devnet_config(tmp_path / "home"))
        status = await second.open()
        assert status.state is NodeState.FAILED and "already serves from" in status.headline
        assert "its own --instance" in status.what_to_do
        assert (await second.start_serving()).state is NodeState.FAILED
        await second.close()
    finally:
        await first.close()


async def test_stop_serving_lets_a_running_job_finish(tmp_path: Path) -> None:
    async with serving_node(devnet_config(tmp_path / "home")) as (node, _):
        assert node.engine is not None and node.engine.settings is not None
        url, token = client_of(node.home.run_file)
        started = asyncio.Event()
        job = asyncio.ensure_future(complete(url, token, node.engine.settings.model_name,
                                             max_tokens=120, started=started))
        await asyncio.wait_for(started.wait(), 60)
        assert await node.stop_serving() is True  # waited for the job
        assert served_ok(await job)
        assert node.status.state is NodeState.STOPPED and node.worker.opened is None
        assert node.engine.ready  # stopping serving leaves the engine to the chat


async def test_a_job_cut_off_at_stop_still_reaches_the_ledger(tmp_path: Path) -> None:
    """What the worker reports while it stops (a job the drain could not wait for, cut off
    and reported failed) is recorded: the recorder is detached only after the worker."""
    async with serving_node(devnet_config(tmp_path / "home")) as (node, _):
        assert node.engine is not None and node.engine.settings is not None
        url, token = client_of(node.home.run_file)
        started = asyncio.Event()
        job = asyncio.ensure_future(complete(url, token, node.engine.settings.model_name,
                                             max_tokens=400, started=started))
        await asyncio.wait_for(started.wait(), 60)
        assert await node.stop_serving(drain_timeout_s=0) is False  # not waited for
        await asyncio.gather(job, return_exceptions=True)
    with Ledger.open(tmp_path / "home" / "data" / "ledger-devnet.sqlite3") as ledger:
        [cut_off] = ledger.requests()
    assert not cut_off.succeeded


async def test_live_settings_reach_protection_monitoring_and_money(tmp_path: Path) -> None:
    node = Node(devnet_config(tmp_path / "home"))
    await node.open()
    try:
        changed = dataclasses.replace(
            node.config, protection=ProtectionSettings(pause_temperature_c=70,
                                                       resume_temperature_c=60),
            game_mode_processes=("steam",), monitoring_interval_s=5.0,
            tariff=Tariff(Decimal("0.4"), "EUR"))
        node.apply_live_settings(changed)
        assert node.health.policy.settings.pause_temperature_c == 70
        assert node.health.service is not None and node.health.service.interval_s == 5.0
        assert node.health.service.games.names == ("steam",)
        assert node.earnings is not None and node.earnings.config.tariff == changed.tariff
    finally:
        await node.close()


async def test_a_new_model_setting_restarts_engine_and_worker(tmp_path: Path) -> None:
    async with serving_node(devnet_config(tmp_path / "home")) as (node, log):
        assert node.engine is not None and node.engine.settings is not None
        opened = node.worker.opened
        first_pid, first_devnet = node.engine.status.pid, opened and opened.devnet
        assert node.engine.settings.context_tokens == 1024 * 3  # 2 jobs + the chat lane
        log.seen.clear()
        node.apply_live_settings(dataclasses.replace(node.config, context_tokens=512))
        await log.wait_for(lambda s: s.state is NodeState.STOPPED, 60)
        await log.wait_for(lambda s: s.state is NodeState.SERVING, 120)
        assert node.engine.settings.context_tokens == 512 * 3
        assert node.engine.status.pid != first_pid and node.worker.opened is not None
        assert node.worker.opened.devnet is not first_devnet
        url, token = client_of(node.home.run_file)
        assert served_ok(await complete(url, token, node.engine.settings.model_name))


async def test_the_worker_announces_what_the_engine_can_take(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Little free RAM: the engine gets the sequences whose KV cache fits, the worker
    announces that many jobs (one lane stays the chat's), and the panel's note says why."""
    meta = read_gguf_metadata(bundled_model_or_skip())
    assert meta.kv_bytes_per_token_per_layer is not None
    per_sequence = meta.kv_bytes_per_token_per_layer * meta.block_count * 1024
    available = (meta.file_size_bytes + COMPUTE_RESERVE_BYTES
                 + int(3.5 * per_sequence / KV_SHARE_OF_FREE_MEMORY))
    monkeypatch.setattr(engine_plan, "available_ram", lambda: available)
    async with serving_node(devnet_config(tmp_path / "home", max_active_requests=4)) as (
            node, _):
        status = node.status
        assert node.engine is not None and node.engine.status.stats is not None
        assert node.engine.status.stats.capacity == 3
        assert status.worker is not None and status.worker.max_active_requests == 2
        assert "3 at once of 1024 tokens each, not 5" in status.engine_capacity_note
