"""The image boots under QEMU's emulator (TCG), the engine inside answers through the
forwarded port, the worker inside serves a devnet job whose tokens reach the host's ledger
over the control channel (the prompt in no host log), and the VM stops cleanly.

One VM serves the whole module (booting one takes about a minute under emulation)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    Devnet,
    DevnetSettings,
    fake_ton_json,
    start_devnet,
)
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.vm.guest_config import (
    HOST_FROM_GUEST,
    GuestConfig,
    ModelDiskInfo,
    WorkerSection,
)
from cocoon_desktop.vm.guest_state import decode_state
from cocoon_desktop.vm.image import ImageManifest
from cocoon_desktop.vm.machine import VirtualMachine, VmState
from cocoon_desktop.vm.modes import VmMode
from tests.helpers.devnet_harness import MODEL_NAME, SERVED, chat, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.timeout(1200),
              pytest.mark.asyncio(loop_scope="module")]
BOOT_TIMEOUT_S = 900  # TCG on a busy 2-core machine


@dataclass
class Served:
    vm: VirtualMachine
    config: GuestConfig
    devnet: Devnet
    ledger: Ledger
    recorder: EarningsRecorder
    workdir: Path


def worker_section(devnet: Devnet) -> WorkerSection:
    return WorkerSection(
        owner_address=friendly(DEVNET_WORKER_OWNER), root_config=fake_ton_json(devnet.root_config),
        root_contract_address=devnet.root_contract_address,
        proxies=(f"{HOST_FROM_GUEST}:{devnet.workers_endpoint.port}",), proxy_policy="any",
        attestation="fake_tdx")


def connected_proxies(vm: VirtualMachine) -> int:
    worker = decode_state(vm.guest_status).worker if vm.guest_status else None
    return worker.connected_proxies if worker is not None else 0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(vm_image: ImageManifest, model_disk: tuple[Path, ModelDiskInfo],
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    workdir = tmp_path_factory.mktemp("vm")
    # The proxy demands software attestation: the guest worker presents fake TDX.
    devnet = await start_devnet(DevnetSettings(pow_difficulty=4, model_names=(MODEL_NAME,),
                                               worker_policy=AttestationPolicy("fake_tdx")))
    ledger = Ledger.open(workdir / "ledger.sqlite3")
    recorder = EarningsRecorder(ledger)
    config = GuestConfig(mode="tcg", network="devnet", model_name=MODEL_NAME,
                         model=model_disk[1], worker=worker_section(devnet))
    vm = VirtualMachine(vm_image, VmMode.TCG, config, model_disk[0], workdir / "instance-0",
                        persist_events=recorder.flush)
    vm.worker_events.add(recorder.on_worker_event)
    await vm.start()
    try:
        await vm.wait_ready(BOOT_TIMEOUT_S)
        await wait_until(lambda: connected_proxies(vm) == 1, 300)
        yield Served(vm, config, devnet, ledger, recorder, workdir)
    finally:
        await vm.stop(drain_timeout_s=5)
        recorder.close()
        ledger.close()
        await devnet.stop()


async def test_the_guest_measured_the_config_this_host_wrote(served: Served) -> None:
    record = served.vm.status.measurement
    assert record is not None and record.mode == "tcg" and not record.in_hardware
    assert record.config_sha256_hex == served.config.sha256_hex
    assert f"cocoon.root={served.vm.image.root.root_hash_hex}" in record.cmdline
    assert served.vm.status.boot_s is not None


async def test_the_engine_in_the_vm_streams_through_the_forwarded_port(served: Served) -> None:
    endpoint = served.vm.status.engine
    assert endpoint is not None and endpoint.base_url.startswith("http://127.0.0.1:")
    body = {"model": SERVED, "messages": [{"role": "user", "content": "Say hi"}],
            "stream": True, "max_tokens": 4, "temperature": 0,
            "stream_options": {"include_usage": True}}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{endpoint.base_url}/v1/chat/completions", json=body) as resp:
            assert resp.status == 401  # the forward carries the engine's token check along
        async with session.post(f"{endpoint.base_url}/v1/chat/completions", json=body,
                                headers=endpoint.auth_header) as resp:
            assert resp.status == 200
            text = (await resp.read()).decode()
    chunks = [json.loads(line[5:]) for line in text.splitlines()
              if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content and chunks[-1]["usage"]["completion_tokens"] == 4
    assert text.rstrip().endswith("data: [DONE]")


async def test_a_devnet_job_is_served_inside_and_its_tokens_reach_the_host_ledger(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    prompt = f"Marker {uuid.uuid4().hex}: name a purple fruit."
    status, events, raw = await chat(served.devnet, prompt, max_tokens=6)
    assert status == 200, raw
    usage = next(e["usage"] for e in reversed(events) if e.get("usage"))

    def recorded() -> bool:
        served.recorder.flush()
        return len(served.ledger.requests()) == 1
    await wait_until(recorded, 120)
    [request] = served.ledger.requests()
    assert request.succeeded
    assert request.tokens.prompt_tokens == usage["prompt_tokens"]
    assert request.tokens.completion_tokens == usage["completion_tokens"] == 6

    def statement_in() -> bool:
        served.recorder.flush()
        latest = served.ledger.latest_statement(request.proxy_key)
        return latest is not None and latest[1].tokens_committed == request.adjusted_tokens
    await wait_until(statement_in, 120)  # signed by the proxy, verified off the channel
    console = served.vm.console_file.read_text()
    assert prompt not in console and prompt not in caplog.text
    assert prompt.split(":")[0] not in console + caplog.text


async def test_the_vm_stops_cleanly(served: Served) -> None:
    assert await served.vm.stop(drain_timeout_s=5) is True
    assert served.vm.status.state is VmState.STOPPED
    assert served.vm.status.stopped_cleanly
    assert not (served.vm.workdir / "channel-token").exists()
    console = served.vm.console_file.read_text()
    assert "cocoon-boot: stopped cleanly" in console
    assert "powering off" in console
