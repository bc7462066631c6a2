"""The VM process owner on the host: starts QEMU, follows the boot on the guest console (kept
in a log file), talks to the guest agent over the control channel, and stops it cleanly.

    vm = VirtualMachine(image, VmMode.TCG, config, model_disk, workdir,
                        event_store=lambda: recorder, forwards=plan_forwards(proxies))
    vm.worker_events.add(recorder.on_worker_event)   # (or through a GuestWorker)
    await vm.start()
    endpoint = await vm.wait_ready(timeout_s=600)   # the guest engine, through the forward
    ...
    clean = await vm.stop(drain_timeout_s=30)       # worker drains, engine stops, VM powers off

A guest that fails says why on its console ("cocoon-boot: failed: ..."; a dm-verity mismatch
panics the kernel): the status carries that reason. The measurement the guest reports must
name the config this host wrote, or the VM is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.logs import register_secret
from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.worker.types import ProxyStateChanged, WorkerEvent
from cocoon_desktop.vm.channel import ChannelError, ControlClient, Message
from cocoon_desktop.vm.console import (
    boot_step,
    failure_reason,
    loading_progress,
    log_console_line,
)
from cocoon_desktop.vm.events import EventError, decode_event
from cocoon_desktop.vm.forwards import GuestForward, host_address
from cocoon_desktop.vm.gpu import SYSFS, check_passthrough, helper_command
from cocoon_desktop.vm.guest_config import GuestConfig
from cocoon_desktop.vm.guest_events import EventStore, GuestEvents
from cocoon_desktop.vm.image import ImageManifest, vm_cache_dir
from cocoon_desktop.vm.measurement import MeasurementError, MeasurementRecord
from cocoon_desktop.vm.modes import VmMode
from cocoon_desktop.vm.qemu import VmLaunch, VmPorts, qemu_command

log = logging.getLogger(__name__)
STOP_GRACE_S = 120.0  # after the drain: engine stop and power-off, slow under emulation
KILL_WAIT_S = 10.0
CONSOLE_TAIL_LINES = 40


class VmState(StrEnum):
    STARTING = "starting"
    BOOTING = "booting"
    LOADING = "loading"  # the agent runs; the engine loads the model
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class VmError(Exception):
    """The VM did not start or stopped on its own; the text says why and what to do."""


@dataclass(frozen=True)
class VmStatus:
    state: VmState
    detail: str
    mode: VmMode
    engine: EngineEndpoint | None = None
    measurement: MeasurementRecord | None = None
    boot_s: float | None = None  # from QEMU's start to the guest engine ready
    stopped_cleanly: bool | None = None
    # While it starts: the share of the whole start done (boot steps, then the model's load).
    progress_fraction: float | None = None


class VirtualMachine:
    def __init__(self, image: ImageManifest, mode: VmMode, config: GuestConfig,
                 model_disk: Path, workdir: Path, *, ports: VmPorts | None = None,
                 event_store: Callable[[], EventStore | None] | None = None,
                 memory_mib: int = 2048, cpus: int = 2, gpu: str | None = None,
                 restore_gpu: Callable[[str], Awaitable[None]] | None = None,
                 tdx_firmware: Path | None = None, vsock_cid: int | None = None,
                 forwards: tuple[GuestForward, ...] = (),
                 qemu_binary: str = "qemu-system-x86_64", sysfs: Path = SYSFS) -> None:
        """Listeners: `status_changed` (every `VmStatus`), `worker_events` (the guest worker's
        events, as the worker's own types), `guest_messages` (the agent's other messages:
        its status, answers to commands). `event_store` names the store of the moment (the
        earnings recorder): worker events are acknowledged to the guest only once it follows
        them and wrote them (`guest_events.py`). `gpu`: a card already bound to
        vfio-pci (the caller asked the user and ran the helper); `restore_gpu(address)` is
        awaited once QEMU has exited, to give it back. `forwards`: the proxies the guest may
        reach (it reaches nothing else)."""
        self.image, self.mode, self.config = image, mode, config
        self.workdir = workdir
        self.console_file = workdir / "console.log"
        self.model_disk, self.memory_mib, self.cpus = model_disk, memory_mib, cpus
        self.gpu, self.tdx_firmware, self.vsock_cid = gpu, tdx_firmware, vsock_cid
        self.forwards = forwards
        self._restore_gpu = restore_gpu
        self._sysfs = sysfs
        self._ports = ports
        self._qemu_binary = qemu_binary
        self._status = VmStatus(VmState.STOPPED, "The VM is not running.", mode)
        self._changed = asyncio.Event()
        self.status_changed: Listeners[VmStatus] = Listeners("the VM's status")
        self.events = GuestEvents(event_store)
        self.worker_events = self.events.listeners
        self.guest_messages: Listeners[Message] = Listeners("the guest agent's messages")
        self._process: asyncio.subprocess.Process | None = None
        self._client: ControlClient | None = None
        self._console_task: asyncio.Task[None] | None = None
        self._tasks = TaskSet("the VM")
        self._tail: deque[str] = deque(maxlen=CONSOLE_TAIL_LINES)
        self._locks: list[IO[str]] = []
        self._started_at = 0.0
        self._stopping = False
        self.guest_status: Message = {}

    @property
    def status(self) -> VmStatus:
        return self._status

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _set(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)
        self._changed.set()
        self.status_changed.emit(self._status)

    async def start(self) -> None:
        """Write the config disk and the token, start QEMU (returns while the guest boots)."""
        if self.gpu is not None and not check_passthrough(self.gpu, self._sysfs).bound_to_vfio:
            raise VmError(f"The card {self.gpu} is not bound to vfio-pci yet: ask the user, "
                          f"then run {' '.join(helper_command('bind', self.gpu))}.")
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_instance()
        ports = self._ports or VmPorts.free()
        token = secrets.token_urlsafe(32)
        register_secret(token)
        config_disk = self.workdir / "config.img"
        config_disk.write_bytes(self.config.disk_bytes())
        token_file = self.workdir / "channel-token"
        token_file.unlink(missing_ok=True)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        launch = VmLaunch(self.image, self.mode, config_disk, self.model_disk, token_file,
                          ports, memory_mib=self.memory_mib, cpus=self.cpus, gpu=self.gpu,
                          tdx_firmware=self.tdx_firmware, vsock_cid=self.vsock_cid,
                          forwards=self.forwards)
        self._ports, self._stopping = ports, False
        self._tail.clear()
        self._set(state=VmState.STARTING, detail=f"Starting the VM ({self.mode}).",
                  engine=None, measurement=None, boot_s=None, stopped_cleanly=None,
                  progress_fraction=0.0)
        if self.console_file.exists():  # the previous run's console stays one run
            self.console_file.replace(self.workdir / "console.previous.log")
        self._started_at = time.monotonic()
        self._process = await asyncio.create_subprocess_exec(
            *qemu_command(launch, self._qemu_binary), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        self.events.clear()
        self._client = ControlClient("127.0.0.1", ports.control, token, self._on_message,
                                     self.events.stored)
        self._tasks = TaskSet("the VM")
        self._console_task = self._tasks.spawn(self._follow_console(), name="vm-console")
        self._tasks.spawn(self._follow_channel(), name="vm-channel")

    def replay(self, listener: Callable[[WorkerEvent], None]) -> None:
        """Give a listener added late the worker events not stored yet, then acknowledge
        them if that made them stored."""
        if self.events.replay(listener) and self._client is not None:
            self._tasks.spawn(self._client.settle(), name="vm-events-settle")

    def _lock_instance(self) -> None:
        """One VM per instance folder and per card (locks held while QEMU runs)."""
        paths = [self.workdir / "instance.lock"]
        if self.gpu is not None:
            (vm_cache_dir() / "locks").mkdir(parents=True, exist_ok=True)
            paths.append(vm_cache_dir() / "locks" / f"gpu-{self.gpu}.lock")
        for path in paths:
            lock = path.open("w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                self._unlock()
                what = f"the card {self.gpu}" if path.name.startswith("gpu-") else self.workdir
                raise VmError(f"Another VM already runs from {what} (one VM per instance and "
                              "card): stop it first, or use another instance.") from None
            self._locks.append(lock)

    def _unlock(self) -> None:
        for lock in self._locks:
            lock.close()
        self._locks.clear()

    async def _follow_console(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with self.console_file.open("a", encoding="utf-8") as console:
            while line := await self._process.stdout.readline():
                text = line.decode(errors="replace").rstrip()
                console.write(text + "\n")
                console.flush()
                self._tail.append(text)
                log_console_line(text)
                self._on_console_line(text)
        code = await self._process.wait()
        self._on_exit(code)

    def _on_console_line(self, text: str) -> None:
        step = boot_step(text)
        if step is not None and self._status.state in (VmState.STARTING, VmState.BOOTING,
                                                       VmState.LOADING):
            self._set(state=VmState.LOADING if step.loading else VmState.BOOTING,
                      detail=step.detail, progress_fraction=max(
                          step.progress_fraction, self._status.progress_fraction or 0.0))

    def _on_exit(self, code: int) -> None:
        clean = self._stopping and any("stopped cleanly" in line for line in self._tail)
        if self._stopping:
            self._set(state=VmState.STOPPED, engine=None, stopped_cleanly=clean,
                      progress_fraction=None,
                      detail="The VM stopped cleanly." if clean else
                      f"The VM was stopped (QEMU exit status {code}).")
        else:
            self._set(state=VmState.FAILED, engine=None, stopped_cleanly=False,
                      progress_fraction=None, detail=failure_reason(list(self._tail), code))

    async def _follow_channel(self) -> None:
        """Connect once the guest listens, and again if the channel breaks while it runs."""
        assert self._client is not None and self._process is not None
        while self._process.returncode is None and not self._stopping:
            try:
                hello = await self._client.connect(timeout_s=30)
            except ChannelError:
                continue
            self._on_hello(hello)
            await self._client.closed.wait()

    def _on_hello(self, hello: Message) -> None:
        try:
            record = MeasurementRecord.from_json(hello.get("measurement") or {})
        except (MeasurementError, ValueError) as exc:
            log.error("the guest's measurement record is unreadable: %s", exc)
            return
        if record.config_sha256_hex != self.config.sha256_hex or not record.consistent():
            self._set(detail="The guest measured a different configuration than this host "
                      "wrote: stopping it.", measurement=record)
            self._tasks.spawn(self.stop(0), name="vm-stop-unmeasured")
            return
        self._set(measurement=record)

    def _on_message(self, message: Message) -> None:
        kind = message.get("event")
        if kind == "engine":
            self._on_engine(message)
        elif kind == "status":
            self.guest_status = message
        try:
            event = decode_event(message)
        except EventError as exc:
            log.error("%s", exc)
            return
        if isinstance(event, ProxyStateChanged):  # the proxy's own address, not its forward's
            event = replace(event, endpoint=host_address(self.forwards, event.endpoint))
        if event is not None:
            self.events.received(event)
        elif kind not in ("engine", "hello"):
            self.guest_messages.emit(message)

    def _on_engine(self, message: Message) -> None:
        if self._stopping or self._ports is None:  # ports: set by start(), before any event
            return
        token = message.get("token")
        if message.get("state") == "ready" and isinstance(token, str):
            if self._status.state is VmState.READY and self._status.engine is not None \
                    and self._status.engine.token == token:
                return
            register_secret(token)
            endpoint = EngineEndpoint(f"http://127.0.0.1:{self._ports.engine}", token)
            boot_s = self._status.boot_s or time.monotonic() - self._started_at
            self._set(state=VmState.READY, engine=endpoint, boot_s=boot_s,
                      progress_fraction=None, detail=f"The guest engine is ready ({self.mode}).")
        elif self._status.state in (VmState.READY, VmState.LOADING):
            fraction = message.get("load_fraction")
            self._set(state=VmState.LOADING, engine=None,
                      detail=str(message.get("detail") or "The guest engine is not ready."),
                      progress_fraction=loading_progress(
                          fraction if isinstance(fraction, int | float) else None))

    async def wait_ready(self, timeout_s: float) -> EngineEndpoint:
        """The guest engine's endpoint on the host, once ready (VmError if the VM failed)."""
        async def until_settled() -> None:
            while self._status.state not in (VmState.READY, VmState.FAILED, VmState.STOPPED):
                self._changed.clear()
                await self._changed.wait()
        try:
            await asyncio.wait_for(until_settled(), timeout_s)
        except TimeoutError:
            raise VmError(f"The VM was not ready within {timeout_s:.0f} s "
                          f"({self._status.detail}).") from None
        if self._status.engine is None:
            raise VmError(self._status.detail)
        return self._status.engine

    async def command(self, name: str, **fields: object) -> None:
        if self._client is None:
            raise VmError("The VM is not running.")
        await self._client.command(name, **fields)

    async def stop(self, drain_timeout_s: float = 30.0) -> bool:
        """Ask the guest to drain and power off; force it after a grace time. True if the
        guest stopped cleanly (every event delivered, the VM powered itself off)."""
        process = self._process
        if process is None or process.returncode is not None:
            await self._finish()
            return bool(self._status.stopped_cleanly)
        self._stopping = True
        self._set(state=VmState.STOPPING, detail="Stopping the VM: the worker drains.")
        grace = drain_timeout_s + STOP_GRACE_S
        try:
            await self.command("stop", drain_timeout_s=drain_timeout_s)
        except (ChannelError, ConnectionError, VmError):
            grace = 0.0  # nobody to ask (the guest has not booted yet): QEMU is stopped
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            if grace:
                log.warning("the VM did not power off in time: stopping QEMU")
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), KILL_WAIT_S)
            except TimeoutError:
                self._signal(signal.SIGKILL)
                await process.wait()
        await self._finish()
        return bool(self._status.stopped_cleanly)

    def _signal(self, signum: int) -> None:
        if self._process is not None:  # QEMU leads its own process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signum)

    async def _finish(self) -> None:
        if self._console_task is not None:  # it ends by itself once QEMU's output closes
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._console_task), KILL_WAIT_S)
        if self._client is not None:  # its last events: read to the end, stored or not
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._client.closed.wait(), KILL_WAIT_S)
        await self._tasks.close()  # the channel's (re)connect loop, a stop of its own
        if self._client is not None:
            await self._client.close()
        if self.events.report_unstored():
            self._set(stopped_cleanly=False)
        (self.workdir / "channel-token").unlink(missing_ok=True)
        if self.gpu is not None and self._restore_gpu is not None and self._locks:
            try:
                await self._restore_gpu(self.gpu)
            except Exception as exc:  # the VM is down either way: say what is left to do
                log.error("the card %s could not be given back to its driver: %s", self.gpu,
                          exc)
        self._unlock()
