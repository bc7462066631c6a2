"""`cocoon-desktop serve` with a rig file that serves from the VM (TCG here, as on any machine
without usable KVM): the node boots the measured image, the worker inside serves a devnet job,
its tokens land in the host's ledger, /nodestatus, /jsonstats and /metrics show the VM and its
mode, the prompt is in no host log and not on the guest's console, and SIGTERM drains the
worker, powers the VM off cleanly and exits 0 with no QEMU left behind."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import psutil
import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.vm.guest_config import ModelDiskInfo
from cocoon_desktop.vm.image import ImageManifest
from tests.integration.node.node_harness import COUNTING, Served, complete, served_ok, stats

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.timeout(1500)]
BOOT_TIMEOUT_S = 900  # image check, model disk, TCG boot and model load on a busy 2-core box
VM_RIG = """home = "{home}"
[worker]
max_active_requests = 2
[model]
context_tokens = 1024
[engine]
serve_from = "vm"
[vm]
mode = "tcg"
[stats]
port = 0
"""


async def metrics_text(run: dict[str, str]) -> str:
    headers = {"Authorization": f"Bearer {run['stats_token']}"}
    async with aiohttp.ClientSession() as session, session.get(
            run["stats_url"] + "/metrics", headers=headers) as response:
        return await response.text()


def qemu_processes_of(folder: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if "qemu-system" in cmdline and str(folder) in cmdline:
            found.append(process)
    return found


async def test_a_rig_serves_a_devnet_job_through_the_vm_and_stops_it_cleanly(
        vm_image: ImageManifest, model_disk: tuple[Path, ModelDiskInfo],
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    rig = tmp_path / "rig.toml"
    rig.write_text(VM_RIG.format(home=home))
    served = Served(rig, None, home)
    try:
        run = await served.serving(BOOT_TIMEOUT_S)
        assert qemu_processes_of(home), "the VM runs under QEMU"
        node = await stats(run, "/nodestatus")
        vm = node["vm"]
        assert (vm["state"], vm["mode"], vm["worker_inside"]) == ("ready", "tcg", True)
        assert "emulated, slow" in vm["mode_label"]
        assert vm["image_sha256"] == vm_image.image_sha256
        assert "software record (not hardware: test networks only)" in vm["measurement"]
        assert "Emulated virtual machine (TCG)" in node["engine_detail"] or \
            node["engine_state"] == "ready"
        upstream = await stats(run, "/jsonstats")
        assert upstream["vm"]["mode"] == "tcg" and upstream["status"]["connected_proxies"] == 1
        metrics = await metrics_text(run)
        assert 'cocoon_node_vm_state{node_instance="0",state="ready"} 1' in metrics
        assert 'cocoon_node_vm_info{node_instance="0",mode="tcg"' in metrics
        assert 'cocoon_node_vm_attested{node_instance="0"} 0' in metrics

        prompt = f"Marker {uuid.uuid4().hex}: {COUNTING}"
        answer = await complete(run["devnet_client_url"], run["devnet_client_token"],
                                upstream["localconfig"]["model"], prompt, max_tokens=6)
        assert served_ok(answer), answer
    finally:
        code = served.stop()
    assert code == 0, served.log[-3000:]
    assert qemu_processes_of(home) == []
    with Ledger.open(home / "data" / "ledger-devnet.sqlite3") as ledger:
        [request] = ledger.requests()
    assert request.succeeded and request.tokens.completion_tokens == 6
    assert request.earned_nanoton > 0

    console = (home / "data" / "vm" / "console.log").read_text()
    assert "cocoon-boot: stopped cleanly" in console and "reboot: Power down" in console
    assert "VM stopped cleanly" in served.log or "stopped cleanly" in served.log
    host_logs = served.log + "".join(p.read_text(errors="replace")
                                     for p in (home / "logs").glob("*.log"))
    assert "cocoon-boot: config measured (tcg, network devnet)" in host_logs  # the console
    marker = prompt.split(":")[0]
    assert marker not in host_logs and marker not in console
