"""The image boots under QEMU's emulator (TCG), the engine inside answers through the
forwarded port, the worker inside serves a devnet job whose tokens reach the host's ledger
over the control channel (the prompt in no host log), and the VM stops cleanly. The guest
reaches its proxies through their forwards and nothing else of this host (a listener on
another loopback port gets no connection); a proxy that rolled back what it committed before
(the ledger's statement, restored into the guest worker at its start) is refused inside.

One VM serves the whole module (booting one takes about a minute under emulation)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
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
from cocoon_desktop.network.worker.types import ProxyStateChanged, WorkerEvent
from cocoon_desktop.protocol.cells import raw_address
from cocoon_desktop.protocol.statements import verify_statement
from cocoon_desktop.vm.forwards import plan_forwards
from cocoon_desktop.vm.guest_config import GuestConfig, ModelDiskInfo, WorkerSection
from cocoon_desktop.vm.guest_worker import GuestWorker
from cocoon_desktop.vm.image import ImageManifest
from cocoon_desktop.vm.machine import VirtualMachine, VmState
from cocoon_desktop.vm.modes import VmMode
from tests.helpers.devnet_harness import MODEL_NAME, SERVED, chat, wait_until
from tests.helpers.vm_config import worker_config

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.timeout(1200),
              pytest.mark.asyncio(loop_scope="module")]
BOOT_TIMEOUT_S = 900  # TCG on a busy 2-core machine
HOST_LOOPBACK_FROM_GUEST = "10.0.2.2"  # what QEMU's user network used to let the guest reach


class Listener:
    """A port on this host's loopback the guest is not meant to reach: counts connections."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()


@dataclass
class Served:
    vm: VirtualMachine
    worker: GuestWorker
    config: GuestConfig
    devnet: Devnet
    rolled_back: Devnet
    elsewhere: Listener
    events: list[WorkerEvent]
    ledger: Ledger
    recorder: EarningsRecorder
    workdir: Path


def worker_section(devnet: Devnet, proxies: tuple[str, ...]) -> WorkerSection:
    return WorkerSection(
        owner_address=friendly(DEVNET_WORKER_OWNER), root_config=fake_ton_json(devnet.root_config),
        root_contract_address=devnet.root_contract_address, proxies=proxies,
        proxy_policy="any", attestation="fake_tdx")


def restore_rolled_back(worker: GuestWorker, devnet: Devnet) -> None:
    """The ledger knows a statement for 50 tokens; the proxy has since lost its books."""
    account = devnet.proxy.account(DEVNET_WORKER_OWNER)
    account.tokens = 50
    statement = verify_statement(devnet.proxy.sign(account).data, devnet.proxy.public_key,
                                 raw_address(account.sc_address))
    account.tokens = 0
    devnet.proxy.sign(account)
    worker.restore_account(statement, raw_address(devnet.proxy.sc_address))


def connected_proxies(worker: GuestWorker) -> int:
    return worker.status().connected_proxies


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(vm_image: ImageManifest, model_disk: tuple[Path, ModelDiskInfo],
                 elsewhere: Listener, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Served]:
    workdir = tmp_path_factory.mktemp("vm")
    # The proxies demand software attestation: the guest worker presents fake TDX.
    settings = {"pow_difficulty": 4, "model_names": (MODEL_NAME,),
                "worker_policy": AttestationPolicy("fake_tdx")}
    devnet = await start_devnet(DevnetSettings(**settings))  # type: ignore[arg-type]
    rolled_back = await start_devnet(DevnetSettings(**settings))  # type: ignore[arg-type]
    forwards = plan_forwards([devnet.workers_endpoint, rolled_back.workers_endpoint])
    section = worker_section(devnet, (*(f.guest_address for f in forwards),
                                      f"{HOST_LOOPBACK_FROM_GUEST}:{elsewhere.port}"))
    ledger = Ledger.open(workdir / "ledger.sqlite3")
    recorder = EarningsRecorder(ledger)
    config = GuestConfig(mode="tcg", network="devnet", model_name=MODEL_NAME,
                         model=model_disk[1], worker=section)
    vm = VirtualMachine(vm_image, VmMode.TCG, config, model_disk[0], workdir / "instance-0",
                        event_store=lambda: recorder, forwards=forwards)
    worker = GuestWorker(vm, worker_config(root_config=devnet.root_config))
    events: list[WorkerEvent] = []
    worker.add_listener(recorder.on_worker_event)
    worker.add_listener(events.append)
    restore_rolled_back(worker, rolled_back)
    await vm.start()
    try:
        await vm.wait_ready(BOOT_TIMEOUT_S)
        await worker.start()
        await wait_until(lambda: connected_proxies(worker) == 1, 300)
        yield Served(vm, worker, config, devnet, rolled_back, elsewhere, events, ledger,
                     recorder, workdir)
    finally:
        await vm.stop(drain_timeout_s=5)
        await worker.stop()
        recorder.close()
        ledger.close()
        await devnet.stop()
        await rolled_back.stop()


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


async def test_the_guest_reaches_its_proxies_and_nothing_else_of_this_host(
        served: Served) -> None:
    """The devnet's proxy through its forward (connected, serving above); a port on this
    host's loopback that is not a forward is tried by the guest and never reached."""
    elsewhere = f"{HOST_LOOPBACK_FROM_GUEST}:{served.elsewhere.port}"

    def tried_and_failed() -> bool:
        return any(isinstance(e, ProxyStateChanged) and e.endpoint == elsewhere
                   and e.state == "disconnected" for e in served.events)
    await wait_until(tried_and_failed, 300)
    assert served.elsewhere.accepted == 0
    proxies = {p.endpoint: p for p in served.worker.status().proxies}
    assert proxies[str(served.devnet.workers_endpoint)].state == "ready"  # its own address


async def test_a_proxy_that_rolled_back_is_refused_inside(served: Served) -> None:
    rolled_back = str(served.rolled_back.workers_endpoint)

    def refused() -> bool:
        status = {p.endpoint: p for p in served.worker.status().proxies}.get(rolled_back)
        return status is not None and "cannot reconcile payment" in status.detail
    await wait_until(refused, 300)
    assert served.rolled_back.proxy.lines == []  # no worker line: refused at the handshake


async def test_the_vm_stops_cleanly(served: Served) -> None:
    assert await served.vm.stop(drain_timeout_s=5) is True
    assert served.vm.status.state is VmState.STOPPED
    assert served.vm.status.stopped_cleanly
    assert not (served.vm.workdir / "channel-token").exists()
    console = served.vm.console_file.read_text()
    assert "cocoon-boot: stopped cleanly" in console
    assert "powering off" in console
