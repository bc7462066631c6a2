"""The desktop app serving from the confidential VM (TCG here), end to end: "Serve from: a
confidential VM" chosen on the Settings page, the Serve toggle boots the measured image, the
dashboard's Isolation row and attestation line say what the VM is (emulated, not attested),
the guest's boot reaches the Logs page, a devnet job served inside lands in the ledger and on
the earnings page, and Quit drains the worker and powers the VM off cleanly."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import psutil
import pytest

from cocoon_desktop.node.status import NodeState
from cocoon_desktop.settings import AppSettings, ServeFrom, save_settings
from cocoon_desktop.vm.build import ensure_image
from tests.helpers.vm_image import vm_tools_or_skip
from tests.ui.test_serving_dashboard import devnet_chat

BOOT_MS = 900_000  # a TCG boot and the model's load on a busy 2-core machine


def qemu_running_under(folder: Any) -> bool:
    return any("qemu-system" in " ".join(p.info["cmdline"] or ())
               and str(folder) in " ".join(p.info["cmdline"] or ())
               for p in psutil.process_iter(["cmdline"]))


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_serve_from_the_vm_and_quit(qtbot: Any, paths: Any, shell_factory: Any,
                                    run_async: Any, loop: Any,
                                    caplog: pytest.LogCaptureFixture) -> None:
    vm_tools_or_skip()
    caplog.set_level(logging.INFO)  # the app's own level (core.logs.setup_logging)
    ensure_image(offline=True)  # the image the node finds in the cache (built once per inputs)
    save_settings(paths.settings_file, AppSettings(
        wizard_completed=True, context_tokens=1024, max_active_requests=2))
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    settings = shell.windows.settings
    settings.editors["serve_from"].setCurrentText("A confidential VM")
    assert run_async(settings.apply()) is True
    qtbot.waitUntil(lambda: shell.node.status.vm is not None, timeout=10_000)
    panel = shell.windows.dashboard.engine_panel
    assert panel.load_bar.format() == "Starting the VM: %p %"
    panel.serve_button.click()
    qtbot.waitUntil(lambda: shell.node.status.state in (NodeState.SERVING, NodeState.FAILED),
                    timeout=BOOT_MS)
    status = shell.node.status
    assert status.state is NodeState.SERVING, status.headline + " " + status.what_to_do
    assert shell.settings.settings.serve_from is ServeFrom.VM
    vm = status.vm
    assert vm is not None and (vm.state, vm.mode, vm.worker_inside) == ("ready", "tcg", True)
    assert "Emulated virtual machine (TCG)" in panel.values["Isolation"].text()
    assert panel.attestation.text().startswith("Emulated VM (TCG), not attested")
    assert vm.image_sha256 in panel.attestation.toolTip()
    qtbot.waitUntil(lambda: "cocoon-boot: root verified" in
                    shell.windows.logs.view.toPlainText(), timeout=10_000)
    workdir = shell.node._node.vm.workdir
    assert qemu_running_under(workdir)

    marker = f"Marker {uuid.uuid4().hex}"
    task = loop.create_task(devnet_chat(shell, f"{marker}: say hello.", 6))
    qtbot.waitUntil(task.done, timeout=300_000)
    code, data = task.result()
    assert code == 200 and data[-1] == "[DONE]"
    earnings = shell.windows.earnings
    qtbot.waitUntil(lambda: earnings.table.rowCount() == 1, timeout=60_000)
    assert shell.earnings.view.recent[0].adjusted_tokens > 0

    with qtbot.waitSignal(shell.quit_finished, timeout=300_000):
        shell.request_quit()
    console = (workdir / "console.log").read_text()
    assert "cocoon-boot: stopped cleanly" in console and "reboot: Power down" in console
    assert not qemu_running_under(workdir)
    assert marker not in console
    assert marker not in "\n".join(e.line() for e in shell.logs.entries)
    assert marker not in caplog.text
