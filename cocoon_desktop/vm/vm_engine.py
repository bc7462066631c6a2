"""The engine inside the VM, as the node's engine host sees an engine: it starts (the VM is
prepared and boots), says its state and load progress, gives an endpoint (the forwarded port)
and stops (the VM powers off). Its `EngineStatus` is the VM's, put in the engine's words:

- preparing (image, model disk, mode) and booting: `loading`, the boot's progress as
  `load_fraction`, each step's sentence as the detail ("Confidential VM (TCG): …");
- the guest engine ready: `ready`, with the guest engine's own stats (from the agent's status);
- the VM failed: `crashed`, given up, with the reason from its console; nothing restarts it by
  itself (the node shows the reason and what to do).

`prepare` is the caller's: whatever must happen before QEMU starts (build the image, pick the
mode, make the model disk, move a GPU after the user agreed) returns the `VirtualMachine`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings, EngineState, SandboxStatus
from cocoon_desktop.vm.channel import Message
from cocoon_desktop.vm.guest_state import GuestStateError, decode_state
from cocoon_desktop.vm.machine import VirtualMachine, VmState, VmStatus
from cocoon_desktop.vm.modes import LABELS, VmMode

log = logging.getLogger(__name__)
Progress = Callable[[str], None]  # a sentence about the preparation's step
Prepare = Callable[[Progress], Awaitable[VirtualMachine]]
ENGINE_STATES = {VmState.STARTING: EngineState.LOADING, VmState.BOOTING: EngineState.LOADING,
                 VmState.LOADING: EngineState.LOADING, VmState.READY: EngineState.READY,
                 VmState.STOPPING: EngineState.STOPPING, VmState.STOPPED: EngineState.STOPPED,
                 VmState.FAILED: EngineState.CRASHED}


def vm_isolation(mode: VmMode | None) -> SandboxStatus:
    """The Isolation row while the engine runs in the VM (or is about to)."""
    what = LABELS[mode] if mode is not None else "A virtual machine (its mode is being chosen)"
    return SandboxStatus(f"vm-{mode or 'pending'}", network_isolated=True, pids_isolated=True,
                         files_isolated=True, detail=f"{what}: the engine and the worker run "
                         "inside it; the proxies' TLS ends there.")


class VmEngine:
    def __init__(self, settings: EngineSettings, prepare: Prepare) -> None:
        self.settings = settings
        self.vm: VirtualMachine | None = None
        self._prepare = prepare
        self._status = EngineStatus(EngineState.STOPPED, "The VM is not running.")
        self._statuses: Listeners[EngineStatus] = Listeners("the VM engine's status")
        self._stats: EngineStats | None = None
        self._changed = asyncio.Event()
        self._tasks = TaskSet("the VM engine")
        self._starting: asyncio.Task[None] | None = None

    @property
    def status(self) -> EngineStatus:
        return self._status

    @property
    def mode(self) -> VmMode | None:
        """tdx, kvm or tcg once the VM is prepared."""
        return self.vm.mode if self.vm is not None else None

    @property
    def _name(self) -> str:
        return f"Confidential VM ({self.mode})" if self.mode else "Confidential VM"

    @property
    def endpoint(self) -> EngineEndpoint | None:
        return self._status.endpoint

    def on_status(self, listener: Callable[[EngineStatus], None]) -> Callable[[], None]:
        return self._statuses.add(listener)

    def _publish(self, status: EngineStatus) -> None:
        self._status = status
        self._changed.set()
        self._statuses.emit(status)

    def _loading(self, detail: str, fraction: float | None = None) -> None:
        self._publish(EngineStatus(EngineState.LOADING, f"{self._name}: {detail}",
                                   load_fraction=fraction,
                                   sandbox=vm_isolation(self.mode), settings=self.settings))

    async def start(self) -> None:
        """Prepare and boot the VM (returns at once; follow `on_status` or `wait_ready`)."""
        if self._starting is not None and not self._starting.done():
            return
        if self.vm is not None and self.vm.running:
            return
        self._loading("preparing the VM.", 0.0)
        self._starting = self._tasks.spawn(self._boot(), name="vm-engine-start")

    async def _boot(self) -> None:
        try:
            if self.vm is None:
                self.vm = await self._prepare(self._loading)
                self.vm.status_changed.add(self._on_vm_status)
                self.vm.guest_messages.add(self._on_guest_message)
            await self.vm.start()
        except Exception as exc:  # VmError, a refused GPU, an image that cannot be built
            log.error("the VM did not start: %s", exc)
            self._publish(EngineStatus(EngineState.CRASHED, f"The VM did not start: {exc}",
                                       gave_up=True, sandbox=vm_isolation(self.mode)))

    def _on_vm_status(self, vm: VmStatus) -> None:
        state = ENGINE_STATES[vm.state]
        self._publish(EngineStatus(
            state, f"{self._name}: {vm.detail}", endpoint=vm.engine,
            stats=self._stats if state is EngineState.READY else None,
            sandbox=vm_isolation(self.mode), gave_up=state is EngineState.CRASHED,
            load_fraction=vm.progress_fraction if state is EngineState.LOADING else None,
            settings=self.settings if state in (EngineState.LOADING, EngineState.READY)
            else None))

    def _on_guest_message(self, message: Message) -> None:
        if message.get("event") != "status" or self.vm is None:
            return
        try:
            stats = decode_state(message).engine_stats
        except GuestStateError as exc:
            log.error("%s", exc)
            return
        if stats != self._stats:
            self._stats = stats
            if self._status.state is EngineState.READY:
                self._on_vm_status(self.vm.status)

    async def wait_ready(self, timeout_s: float | None = None) -> EngineEndpoint:
        """The forwarded endpoint once the guest engine is ready; EngineStartError if the VM
        failed, stopped or took longer than `timeout_s`."""
        async def settled() -> EngineEndpoint:
            while True:
                status = self._status
                if status.state is EngineState.READY and status.endpoint is not None:
                    return status.endpoint
                if status.state in (EngineState.CRASHED, EngineState.STOPPED):
                    raise EngineStartError(status.detail)
                self._changed.clear()
                await self._changed.wait()
        try:
            return await asyncio.wait_for(settled(), timeout_s)
        except TimeoutError:
            raise EngineStartError(f"The VM was not ready within {timeout_s:.0f} s "
                                   f"({self._status.detail}).") from None

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Power the VM off (the guest worker drains first, bounded); a card passed to it goes
        back to its driver."""
        await self._tasks.cancel_all()
        if self.vm is not None:
            await self.vm.stop(drain_timeout_s)
        if self._status.state is not EngineState.STOPPED:
            self._publish(EngineStatus(EngineState.STOPPED, "The VM is not running."))

    async def cancel_load(self) -> bool:
        """Stop the VM while it prepares or boots (False when it is not starting)."""
        if self._status.state is not EngineState.LOADING:
            return False
        await self.stop(0)
        return True
