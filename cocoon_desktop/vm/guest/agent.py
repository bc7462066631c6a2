"""The guest agent, started by the image's init (`python3.11 -m cocoon_desktop.vm.guest.agent`).

Order matters: it reads the config disk and measures it (RTMR3, or the software record)
before acting on it, opens the model disk through dm-verity, then opens the control channel,
starts the engine (the same supervisor and engine process as on the host) and, when the
config names a network and the host says `start` (with the accounts its ledger restored, each
statement verified here), the worker (the same `Worker`), whose events it streams to the host,
each after a `status` with the worker's and the engine's figures (`vm.guest_state`).
Prompts and answers stay here: the channel carries counts and signed statements, and nothing
here logs a request's content. Commands from the host: `start`, `pause` / `resume` (protection),
`drain` (answered by a `drained` event), `coefficient`, and `stop`, which drains the worker,
stops the engine, waits until the host has every event, and returns: the init then powers the
VM off.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocoon_desktop.core.logs import RedactingFilter, register_secret
from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.engine.attestation.providers import (
    detect_quote_providers,
    select_quote_provider,
)
from cocoon_desktop.engine.host.supervisor import EngineStatus, EngineSupervisor
from cocoon_desktop.engine.types import EngineSettings, EngineState
from cocoon_desktop.network.attestation import AttestationPolicy, dcap_policy
from cocoon_desktop.network.errors import RemoteError
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import from_fake_ton_json
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.types import WorkerConfig, WorkerEvent
from cocoon_desktop.network.worker.worker import Worker
from cocoon_desktop.protocol.statements import StatementRejected
from cocoon_desktop.vm import measurement
from cocoon_desktop.vm.events import EventError, RestoredAccount, decode_account, encode_event
from cocoon_desktop.vm.guest import devices
from cocoon_desktop.vm.guest.control_server import ControlServer
from cocoon_desktop.vm.guest.names import forwarded_session
from cocoon_desktop.vm.guest.relay import PortRelay
from cocoon_desktop.vm.guest_config import (
    GUEST_ADDRESS,
    GUEST_CONTROL_PORT,
    GUEST_ENGINE_PORT,
    GuestConfig,
    WorkerSection,
)
from cocoon_desktop.vm.guest_state import encode_state

log = logging.getLogger("cocoon_desktop.vm.guest")
ENGINE_READY_TIMEOUT_S = 1800.0  # an emulated (TCG) guest loads slowly
STATUS_INTERVAL_S = 5.0
FINAL_ACK_TIMEOUT_S = 15.0
COLLATERAL_DIR = Path("/tmp/dcap-collateral")


def say(text: str) -> None:
    """A boot progress line on the console (the host follows these)."""
    print(f"cocoon-boot: {text}", flush=True)


@dataclass(frozen=True)
class Booted:
    config: GuestConfig
    record: measurement.MeasurementRecord
    token: str
    model_path: Path


def boot(cmdline: str) -> Booted:
    """Read and measure the config, then open the model disk (blocking; runs once)."""
    raw = devices.disk_by_serial(devices.CONFIG_SERIAL).read_bytes().rstrip(b"\0")
    config = GuestConfig.from_disk(raw)
    rtmr3 = measurement.Rtmr3(hardware=config.mode == "tdx")
    rtmr3.extend(measurement.config_event(hashlib.sha256(raw).hexdigest()))
    say(f"config measured ({config.mode}, network {config.network})")
    token = devices.read_channel_token()
    register_secret(token)
    model = devices.open_model_disk(config.model,
                                    devices.disk_by_serial(devices.MODEL_SERIAL))
    say(f"model disk verified ({config.model.file_name})")
    return Booted(config, rtmr3.record(config.mode, cmdline), token, model)


class GuestAgent:
    def __init__(self, booted: Booted) -> None:
        self.booted = booted
        config = booted.config
        engine = config.engine
        settings = EngineSettings(
            model_path=booted.model_path, model_name=config.model_name,
            context_tokens=engine.context_tokens, parallel_sequences=engine.parallel_sequences,
            threads=engine.threads, gpu_layers=engine.gpu_layers,
            max_queued_requests=engine.max_queued_requests,
            max_completion_tokens=engine.max_completion_tokens,
            speculative=engine.speculative)
        self.supervisor = EngineSupervisor(settings)
        self.control = ControlServer(booted.token, self._hello, self._on_command)
        self.relay = PortRelay(lambda: self.supervisor.endpoint)
        self.worker: Worker | None = None
        self._tasks = TaskSet("the guest agent")
        self._refresher = TaskSet("no collateral refresher")
        self._stop = asyncio.Event()
        self._host_started = asyncio.Event()  # the host's `start`, after it restored accounts
        self._restored: list[RestoredAccount] = []
        self._enabled = True  # the host's pause/resume, kept until the worker exists
        self._drain_timeout_s = 0.0
        self._last_engine: dict[str, Any] = {}

    def _hello(self) -> dict[str, Any]:
        return {"measurement": self.booted.record.to_json(),
                "engine_port": GUEST_ENGINE_PORT, "network": self.booted.config.network}

    async def run(self) -> None:
        await self.control.start(GUEST_ADDRESS, GUEST_CONTROL_PORT)
        await self.relay.start(GUEST_ADDRESS, GUEST_ENGINE_PORT)
        say("control channel open")
        self.supervisor.on_status(self._on_engine_status)
        await self.supervisor.start()
        self._tasks.spawn(self._report_status(), name="guest-status")
        try:
            if self.booted.config.worker is not None and await self._engine_ready_or_stop() \
                    and await self._or_stop(self._host_started.wait()):
                self.worker = self._make_worker()
                self._restore(self.worker)
                if not self._enabled:
                    self.worker.disable()
                self.worker.add_listener(self._on_worker_event)
                await self.worker.start()
                say("worker started")
            await self._stop.wait()
            await self._shut_down()
        finally:
            await self._tasks.close()
            await self._refresher.close()
            await self.relay.stop()
            await self.control.stop()

    async def _engine_ready_or_stop(self) -> bool:
        try:
            return await self._or_stop(self.supervisor.wait_ready(ENGINE_READY_TIMEOUT_S))
        except Exception as exc:
            log.error("the engine did not start: %s", exc)
            return False

    async def _or_stop(self, awaitable: Coroutine[Any, Any, object]) -> bool:
        """True once `awaitable` is done; False if the host said stop first."""
        done = asyncio.create_task(awaitable)
        stopped = asyncio.create_task(self._stop.wait())
        await asyncio.wait({done, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not done.done():
            done.cancel()
            return False
        done.result()
        return True

    def _take_accounts(self, accounts: object) -> None:
        """The host's restored accounts: each statement checked here before it counts."""
        for message in accounts if isinstance(accounts, list) else []:
            try:
                self._restored.append(decode_account(message))
            except (EventError, StatementRejected) as exc:
                log.error("a restored account from the host was refused: %s", exc)
        if self.worker is not None:  # a start sent again after a reconnect
            self._restore(self.worker)

    def _restore(self, worker: Worker) -> None:
        for account in self._restored:
            try:
                worker.restore_account(account.statement, account.proxy_sc_address,
                                       account.db_tokens, account.max_tokens)
            except RemoteError as exc:
                log.error("a restored account was not taken: %s", exc.message)
        if self._restored:
            log.info("restored what %d prox%s committed before", len(self._restored),
                     "y" if len(self._restored) == 1 else "ies")

    def _proxy_policy(self, section: WorkerSection) -> AttestationPolicy:
        """What proxies must show: on mainnet (tdx) their quotes are checked with Intel DCAP,
        the collateral fetched through its forwards (`names.py`) and kept in the guest's
        tmpfs."""
        if section.proxy_policy != "tdx":
            return AttestationPolicy(section.proxy_policy)
        policy, self._refresher = dcap_policy(COLLATERAL_DIR, section.collateral_url,
                                              section.accepted_tcb_statuses,
                                              forwarded_session(section.collateral_hosts))
        return policy

    def _make_worker(self) -> Worker:
        section = self.booted.config.worker
        assert section is not None
        provider = None if section.attestation == "none" else select_quote_provider(
            section.attestation, detect_quote_providers())
        config = WorkerConfig(
            owner_address=section.owner_address, model_name=self.booted.config.model_name,
            engine=lambda: self.supervisor.endpoint,
            root_config=from_fake_ton_json(section.root_config),
            root_contract_address=section.root_contract_address,
            proxies=tuple(Endpoint.parse(p) for p in section.proxies),
            proxy_policy=self._proxy_policy(section), is_test=section.is_test,
            coefficient=section.coefficient, max_active_requests=section.max_active_requests,
            image_hash=(provider.image_hash() or b"") if provider is not None else b"")
        return Worker(config, make_identity(provider))

    def _on_engine_status(self, status: EngineStatus) -> None:
        if self.worker is not None:
            self.worker.set_engine_ready(status.state is EngineState.READY)
        endpoint = status.endpoint
        fields = {"state": status.state.value, "detail": status.detail,
                  "load_fraction": status.load_fraction,
                  "token": endpoint.token if endpoint is not None else None}
        if fields == self._last_engine:  # the liveness probe repeats the same status
            return
        self._last_engine = fields
        self.control.publish("engine", **fields)
        if status.state is EngineState.READY:
            say("engine ready")

    def _on_worker_event(self, event: WorkerEvent) -> None:
        self._notify_status()  # first, so the host sees the event with the state it left
        message = encode_event(event)
        self.control.publish(message.pop("event"), **message)

    async def _on_command(self, message: dict[str, Any]) -> None:
        command = message.get("command")
        if command == "stop":
            self._drain_timeout_s = _seconds(message.get("drain_timeout_s"))
            self._stop.set()
        elif command == "start":
            self._take_accounts(message.get("accounts"))
            self._host_started.set()
        elif command in ("pause", "resume"):
            self._enabled = command == "resume"
            if self.worker is not None:
                (self.worker.enable if self._enabled else self.worker.disable)()
        elif command == "drain" and self.worker is not None:
            self._tasks.spawn(self._drain(_seconds(message.get("timeout_s"))), name="drain")
        elif command == "coefficient" and self.worker is not None:
            try:
                self.worker.set_coefficient(int(message.get("coefficient", -1)))
            except (TypeError, ValueError) as exc:
                log.warning("the host asked for a coefficient the worker refused: %s", exc)
        else:
            log.warning("unknown control command %r", command)
        self._notify_status()

    async def _drain(self, timeout_s: float) -> None:
        assert self.worker is not None
        finished = await self.worker.drain(timeout_s)
        self._notify_status()
        self.control.publish("drained", finished=finished)

    def _notify_status(self) -> None:
        self.control.notify("status", engine_state=self.supervisor.status.state.value,
                            **encode_state(self.worker, self.supervisor.status.stats))

    async def _report_status(self) -> None:
        while True:
            self._notify_status()
            await asyncio.sleep(STATUS_INTERVAL_S)

    async def _shut_down(self) -> None:
        say("stopping: the worker drains, then the engine stops")
        if self.worker is not None:
            await self.worker.drain(self._drain_timeout_s)
            await self.worker.stop()
        await self.supervisor.stop(drain_timeout_s=self._drain_timeout_s)
        self.control.publish("stopped")
        if not await self.control.wait_acknowledged(FINAL_ACK_TIMEOUT_S):
            log.error("the host stored not every event within %.0f s: %d left unacknowledged "
                      "at the power-off (the host says which)", FINAL_ACK_TIMEOUT_S,
                      self.control.unacknowledged)
        say("stopped cleanly")


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


def main() -> int:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    say("agent started")
    try:
        booted = boot(Path("/proc/cmdline").read_text().strip())
    except (devices.GuestDeviceError, ValueError, measurement.MeasurementError) as exc:
        say(f"failed: {exc}")
        return 1
    try:
        asyncio.run(GuestAgent(booted).run())
    except Exception as exc:  # the host reads the reason from the console
        log.exception("the guest agent failed")
        say(f"failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
