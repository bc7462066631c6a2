"""The guest worker's events reach the ledger before the guest may forget them: an event is
acknowledged only once the recorder follows the VM's events and wrote it; the recorder,
attached late, gets the events it missed; events sent while the VM stops are stored before
the power-off; what no recorder took is named in the log at the stop.

A stand-in guest (the real control channel's guest end on loopback, answering `stop` as the
agent does) and a stand-in QEMU (a script that powers off when the guest is done); the ledger
and its recorder are real."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.network.worker.types import RequestFinished
from cocoon_desktop.protocol.pricing import AdjustedTokens, TokenCounts
from cocoon_desktop.vm import measurement
from cocoon_desktop.vm.events import encode_event
from cocoon_desktop.vm.guest.control_server import ControlServer
from cocoon_desktop.vm.guest_worker import GuestWorker
from cocoon_desktop.vm.machine import VirtualMachine
from cocoon_desktop.vm.modes import VmMode
from cocoon_desktop.vm.qemu import VmPorts
from tests.helpers.devnet_harness import wait_until
from tests.helpers.vm_config import guest_config, worker_config
from tests.helpers.vm_image import fake_manifest, fake_qemu

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def finished(request_id: str) -> RequestFinished:
    return RequestFinished(request_id, "ab" * 32, "smollm2-135m", False, "cut off at stop",
                           TokenCounts(35, 0, 8, 0), AdjustedTokens(35, 0, 8, 0), 1000, 10,
                           NOW, NOW)


class StandInGuest:
    """The guest's end of the channel; on `stop` it sends `at_stop`, then `stopped`, waits
    (bounded) for the host's acknowledgements and lets the stand-in QEMU power off."""

    def __init__(self, workdir: Path, at_stop: list[RequestFinished]) -> None:
        self.exit_file = workdir / "power-off"
        self.at_stop = at_stop
        self.acknowledged_at_power_off: bool | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        config = guest_config()
        rtmr3 = measurement.Rtmr3(hardware=False)
        rtmr3.extend(measurement.config_event(config.sha256_hex))
        self.record = rtmr3.record("tcg", "console=ttyS0")
        self.server = ControlServer("a-channel-token", lambda: {
            "measurement": self.record.to_json()}, self._on_command)

    def publish(self, event: RequestFinished) -> None:
        message = encode_event(event)
        self.server.publish(message.pop("event"), **message)

    async def _on_command(self, message: dict[str, Any]) -> None:
        if message.get("command") == "stop":  # like the agent: shut down beside the reader
            task = asyncio.create_task(self._shut_down())
            self._tasks.add(task)

    async def _shut_down(self) -> None:
        for event in self.at_stop:
            self.publish(event)
        self.server.publish("stopped")
        self.acknowledged_at_power_off = await self.server.wait_acknowledged(3)
        self.exit_file.write_text("")


@dataclass
class Rig:
    vm: VirtualMachine
    guest: StandInGuest
    ledger: Ledger
    recorder: EarningsRecorder


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    at_stop: list[RequestFinished] = []
    guest = StandInGuest(tmp_path, at_stop)
    await guest.server.start("127.0.0.1", 0)
    assert guest.server._server is not None
    port = guest.server._server.sockets[0].getsockname()[1]
    qemu = fake_qemu(tmp_path, "cocoon-boot: initrd started",
                     f"while [ ! -e {guest.exit_file} ]; do sleep 0.05; done\n"
                     "echo 'cocoon-boot: stopped cleanly'")
    monkeypatch.setattr("secrets.token_urlsafe", lambda _n: "a-channel-token")
    ledger = Ledger.open(tmp_path / "ledger.sqlite3")
    recorder = EarningsRecorder(ledger)
    vm = VirtualMachine(fake_manifest(tmp_path), VmMode.TCG, guest_config(),
                        tmp_path / "model.img", tmp_path / "vm", ports=VmPorts(port, port + 1),
                        event_store=lambda: recorder, qemu_binary=qemu)
    await vm.start()
    try:
        await wait_until(lambda: vm.status.measurement is not None, 30)
        yield Rig(vm, guest, ledger, recorder)
    finally:
        await vm.stop(0)
        await guest.server.stop()
        recorder.close()
        ledger.close()


def stored_requests(rig: Rig) -> list[str]:
    rig.recorder.flush()
    return [r.request_id for r in rig.ledger.requests()]


async def test_an_event_before_the_recorder_is_attached_waits_for_it(rig: Rig) -> None:
    early = finished("e1" * 32)
    rig.guest.publish(early)
    await wait_until(lambda: rig.vm.events.unstored == 1, 10)
    assert not await rig.guest.server.wait_acknowledged(0.5)  # nothing stored it
    assert stored_requests(rig) == []
    worker = GuestWorker(rig.vm, worker_config())
    worker.add_listener(rig.recorder.on_worker_event)  # attached once serving is up
    assert await rig.guest.server.wait_acknowledged(10)
    assert stored_requests(rig) == [early.request_id]
    later = finished("e2" * 32)
    rig.guest.publish(later)  # attached: stored, then acknowledged
    assert await rig.guest.server.wait_acknowledged(10)
    assert stored_requests(rig) == [early.request_id, later.request_id]


async def test_events_sent_while_the_vm_stops_are_stored_before_the_power_off(
        rig: Rig) -> None:
    GuestWorker(rig.vm, worker_config()).add_listener(rig.recorder.on_worker_event)
    cut_off = finished("c1" * 32)
    rig.guest.at_stop.append(cut_off)
    assert await rig.vm.stop(5) is True
    assert rig.guest.acknowledged_at_power_off is True
    assert stored_requests(rig) == [cut_off.request_id]


async def test_what_no_recorder_took_is_named_at_the_stop(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    rig.guest.at_stop.append(finished("d1" * 32))
    assert await rig.vm.stop(5) is False  # not clean: the ledger misses an event
    assert rig.guest.acknowledged_at_power_off is False
    assert stored_requests(rig) == []
    assert "1 event(s) of the guest worker were not stored" in caplog.text
    assert f"RequestFinished {'d1' * 8}" in caplog.text
