"""The host's view of the guest worker: the agent's status report becomes the worker's status,
counters and accounts (upstream's /jsonstats and /metrics read them as they read a local
worker), the guest's events reach the listeners added through it, and a drain the guest
cannot be asked for is reported as not finished."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.http_stats import json_stats, prometheus
from cocoon_desktop.network.worker.stats import WorkerStats
from cocoon_desktop.network.worker.types import (
    ProxyStateChanged,
    ProxyStatus,
    WorkerEvent,
    WorkerStatus,
)
from cocoon_desktop.vm.events import encode_event
from cocoon_desktop.vm.forwards import plan_forwards
from cocoon_desktop.vm.guest_state import AccountView, encode_state
from cocoon_desktop.vm.guest_worker import GuestWorker
from cocoon_desktop.vm.machine import VirtualMachine
from cocoon_desktop.vm.modes import VmMode
from tests.helpers.vm_config import guest_config, worker_config
from tests.helpers.vm_image import fake_manifest

PROXY_SC, WORKER_SC = "0:" + "5c" * 32, "0:" + "3c" * 32


class ReportedWorker:
    """What the agent reports from: a status, counters and one proxy's account."""

    def __init__(self) -> None:
        self.stats = WorkerStats()
        self.stats.add("queries", 3)
        self.stats.add("total_adjusted_tokens_used", 120)
        self.accounts = {PROXY_SC: AccountView("ab" * 32, PROXY_SC, WORKER_SC, 100, 110, 120)}

    def status(self) -> WorkerStatus:
        proxy = ProxyStatus("10.0.2.2:5000", "ready", "", "ab" * 32, PROXY_SC, WORKER_SC, 100,
                            120, datetime(2026, 1, 2, tzinfo=UTC))
        return WorkerStatus(True, False, 1500, 1, 2, (proxy,))


def guest_worker(tmp_path: Path) -> GuestWorker:
    vm = VirtualMachine(fake_manifest(tmp_path), VmMode.TCG, guest_config(),
                        tmp_path / "model.img", tmp_path / "vm")
    return GuestWorker(vm, worker_config())


def test_the_agents_report_is_the_workers_status_counters_and_accounts(tmp_path: Path) -> None:
    worker = guest_worker(tmp_path)
    assert worker.status().connected_proxies == 0 and worker.status().max_active_requests == 2
    reported = ReportedWorker()
    message = json.loads(json.dumps({"event": "status", "engine_state": "ready",
                                     **encode_state(reported, None)}))  # type: ignore[arg-type]
    worker.vm.guest_messages.emit(message)
    assert worker.status() == reported.status()
    assert worker.coefficient == 1500 and worker.active_requests == 1
    assert not worker.accepting  # the guest engine is not ready on the host's side yet
    stats = json_stats(worker)
    assert stats["status"]["connected_proxies"] == 1
    assert stats["stats"]["queries"][0] == 3
    assert stats["proxies"][0]["earned_tokens_committed_to_proxy_db"] == 110
    assert stats["localconfig"]["owner_address"] == "UQ-owner"
    assert 'cocoon_worker_requests_total{result="received"} 3' in prometheus(worker)


def test_guest_events_reach_the_listeners_added_through_it(tmp_path: Path) -> None:
    worker = guest_worker(tmp_path)
    seen: list[WorkerEvent] = []
    worker.add_listener(seen.append)
    event = ProxyStateChanged("10.0.2.2:5000", "ready")
    worker.vm.worker_events.emit(event)
    worker.remove_listener(seen.append)
    worker.vm.worker_events.emit(event)
    assert seen == [event]


async def test_a_drain_the_guest_cannot_be_asked_for_did_not_finish(tmp_path: Path) -> None:
    worker = guest_worker(tmp_path)
    assert await worker.drain(1) is False
    await worker.stop()
    worker.disable()  # after stop: nothing is sent, nothing fails


def test_proxy_events_name_the_proxy_not_its_forward(tmp_path: Path) -> None:
    """The guest reaches a proxy at its forward's address; the host's log, status and ledger
    get the proxy's own (an address that is no forward stays as the guest said it)."""
    forwards = plan_forwards([Endpoint.parse("127.0.0.1:5000")])
    vm = VirtualMachine(fake_manifest(tmp_path), VmMode.TCG, guest_config(),
                        tmp_path / "model.img", tmp_path / "vm", forwards=forwards)
    seen: list[WorkerEvent] = []
    vm.worker_events.add(seen.append)
    for event in (ProxyStateChanged("10.0.2.100:5000", "ready"),
                  ProxyStateChanged("10.0.2.2:6000", "disconnected")):
        vm._on_message({"seq": 1, **encode_event(event)})  # as the channel hands it on
    assert [(e.endpoint, e.state) for e in seen if isinstance(e, ProxyStateChanged)] == [
        ("127.0.0.1:5000", "ready"), ("10.0.2.2:6000", "disconnected")]
