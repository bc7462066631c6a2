"""The host's view of the worker inside the VM: a `ServedWorker` like the local `Worker`, so the
node, protection, the earnings recorder and upstream's stats pages treat both alike.

Its events are the guest worker's (over the control channel, acknowledged once the recorder
stored them; a listener added late gets those not stored yet); its status, counters and
accounts are the agent's latest report; its controls are commands: `start` lets the guest
worker connect (with the accounts the ledger restored), `disable`/`enable` pause and resume
it, `drain` waits for the guest's answer, `set_coefficient` passes the new price on. `config`
is what the host gave the guest (the same root config, proxies and owner), for the stats
pages. The VM stops the guest worker (`VirtualMachine.stop`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.network.worker.served import AccountFigures, CounterFigures
from cocoon_desktop.network.worker.types import WorkerConfig, WorkerEvent, WorkerStatus
from cocoon_desktop.protocol.statements import VerifiedStatement
from cocoon_desktop.vm.channel import ChannelError, Message
from cocoon_desktop.vm.events import RestoredAccount, encode_account
from cocoon_desktop.vm.forwards import host_address
from cocoon_desktop.vm.guest_state import CountersView, GuestState, GuestStateError, decode_state
from cocoon_desktop.vm.machine import VirtualMachine, VmError

log = logging.getLogger(__name__)
Listener = Callable[[WorkerEvent], None]


class GuestWorker:
    def __init__(self, vm: VirtualMachine, config: WorkerConfig) -> None:
        self.vm = vm
        self._config = config
        self._state = GuestState(None, CountersView(), {}, None)
        self._drained: asyncio.Future[bool] | None = None
        self._commands = TaskSet("commands to the guest worker")
        self._restored: list[RestoredAccount] = []
        self._unsubscribe = vm.guest_messages.add(self._on_message)

    # -- what the guest reported ----------------------------------------------------------------
    @property
    def config(self) -> WorkerConfig:
        return self._config

    def status(self) -> WorkerStatus:
        reported = self._state.worker
        if reported is not None:
            return reported
        return WorkerStatus(True, False, self._config.coefficient, 0,
                            self._config.max_active_requests, ())

    @property
    def coefficient(self) -> int:
        return self.status().coefficient

    @property
    def active_requests(self) -> int:
        return self.status().active_requests

    @property
    def accepting(self) -> bool:
        status = self.status()
        return status.enabled and not status.draining and self.vm.status.engine is not None

    @property
    def accounts(self) -> Mapping[str, AccountFigures]:
        return self._state.accounts

    @property
    def stats(self) -> CounterFigures:
        return self._state.counters

    def _on_message(self, message: Message) -> None:
        if message.get("event") == "status":
            try:
                self._state = self._as_host_sees_it(decode_state(message))
            except GuestStateError as exc:
                log.error("%s", exc)
        elif message.get("event") == "drained" and self._drained is not None \
                and not self._drained.done():
            self._drained.set_result(bool(message.get("finished")))

    def _as_host_sees_it(self, state: GuestState) -> GuestState:
        """Proxies under their own addresses, not the guest's forwards to them."""
        if state.worker is None:
            return state
        proxies = tuple(replace(p, endpoint=host_address(self.vm.forwards, p.endpoint))
                        for p in state.worker.proxies)
        return replace(state, worker=replace(state.worker, proxies=proxies))

    # -- events -----------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Follow the guest worker's events, starting with those not yet stored (the
        recorder, attached once serving is up, gets the first proxy handshakes too)."""
        unsubscribe = self.vm.worker_events.add(listener)
        self.vm.replay(listener)
        return unsubscribe

    def remove_listener(self, listener: Listener) -> None:
        self.vm.worker_events.remove(listener)

    # -- controls ---------------------------------------------------------------------------------
    def set_engine_ready(self, ready: bool) -> None:
        """The guest worker follows its own engine."""

    def enable(self) -> None:
        self._send("resume")

    def disable(self) -> None:
        self._send("pause")

    def set_coefficient(self, coefficient: int) -> None:
        if not 0 <= coefficient < 1_000_000_000:
            raise ValueError("the coefficient must be between 0 and 999999999 (1000 = 1.0x)")
        self._send("coefficient", coefficient=coefficient)

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking jobs in the guest and wait for its running ones; True if all finished
        in time (False too when the guest cannot be asked)."""
        loop = asyncio.get_running_loop()
        self._drained = loop.create_future()
        try:
            await self.vm.command("drain", timeout_s=timeout_s)
            return await asyncio.wait_for(self._drained, timeout_s + 10)
        except (ChannelError, ConnectionError, VmError, TimeoutError) as exc:
            log.warning("the guest worker could not be drained: %s", exc)
            return False
        finally:
            self._drained = None

    def restore_account(self, statement: VerifiedStatement, proxy_sc: str, db_tokens: int = 0,
                        max_tokens: int = 0) -> None:
        """Seed what a proxy owes from the ledger, before `start` (like `Worker`'s): the
        guest worker gets it with its start and checks the statement's signature itself."""
        self._restored.append(RestoredAccount(statement, proxy_sc, db_tokens, max_tokens))

    async def start(self) -> None:
        """Tell the guest worker to connect to its proxies, with the accounts restored so far
        (it waits for this, so a rolled-back proxy is refused at the first handshake);
        ValueError when the guest cannot be told."""
        try:
            await self.vm.command("start", accounts=[encode_account(a) for a in self._restored])
        except (ChannelError, ConnectionError, VmError) as exc:
            raise ValueError(f"the worker in the VM could not be started: {exc}") from None

    async def stop(self) -> None:
        """Stop following the guest (commands in flight end); the guest worker itself stops
        with the VM (`VirtualMachine.stop`)."""
        self._unsubscribe()
        await self._commands.close()

    def _send(self, command: str, **fields: object) -> None:
        if not self._commands.closed:
            self._commands.spawn(self._command(command, fields), name=f"vm-command {command}")

    async def _command(self, command: str, fields: dict[str, object]) -> None:
        try:
            await self.vm.command(command, **fields)
        except (ChannelError, ConnectionError, VmError) as exc:
            log.warning("the guest worker did not get %r: %s", command, exc)
