"""Serving from the dashboard, end to end on loopback: the Serve toggle starts the real engine
and the in-app devnet; requests from the devnet client are served, recorded in the ledger with
their energy, and shown on the earnings page and in the tray; GPU protection pauses and resumes
serving; Quit lets a running job finish before the engine stops."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.gpu.nvml import Nvml
from cocoon_desktop.node.status import NodeState
from cocoon_desktop.settings import AppSettings, save_settings
from cocoon_desktop.ui_logic.glance import TrayState
from tests.integration.node.node_harness import client_of

SLOW_MS = 240_000


async def devnet_chat(shell: Any, text: str, max_tokens: int) -> tuple[int, list[Any]]:
    """A chat through the in-app devnet's client endpoint (named in the node's run file)."""
    url, token = client_of(shell.paths.data_dir / "node-run.json")
    model = shell.engine.status.stats.model_name.split("@", 1)[0]
    body = {"model": model, "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": text}]}
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/v1/chat/completions", json=body, headers=headers) as response:
        lines = (await response.read()).decode().splitlines()
    data = [line[5:].strip() for line in lines if line.startswith("data:")]
    return response.status, data


@pytest.mark.engine
def test_serve_earn_protect_and_quit(qtbot: Any, paths: Any, fake_gpu: Any,
                                     shell_factory: Any, run_async: Any, loop: Any) -> None:
    save_settings(paths.settings_file, AppSettings(
        wizard_completed=True, monitoring_interval_s=0.2, context_tokens=1024,
        max_active_requests=2, tariff_per_kwh=0.25, tariff_currency="EUR"))
    shell = shell_factory(monitor=open_gpu_monitor(Nvml()))
    run_async(shell.start(), 30_000)
    panel = shell.windows.dashboard.engine_panel
    panel.serve_button.click()
    qtbot.waitUntil(lambda: shell.node.status.state is NodeState.SERVING, timeout=SLOW_MS)
    assert shell.node.status.accepting
    assert shell.engine.status.state is EngineState.READY
    assert "Serving on the local devnet" in panel.serving_state.text()
    assert "as set (2 network jobs and the chat)" in panel.values["Capacity"].text()
    assert panel.values["Network jobs"].text() == "0 of 2 running · 1 proxy connected"
    assert "(of 3 at once)" in panel.values["Engine load"].text()
    assert panel.values["Speculation"].text().startswith("Prompt lookup")
    qtbot.waitUntil(lambda: shell.tray.state is TrayState.SERVING, timeout=10_000)

    # Two served requests: ledger rows with energy, figures, table, tray.
    gpu = fake_gpu.gpus[0]
    for i in range(2):
        task = loop.create_task(devnet_chat(shell, f"Say hello number {i}.", 12))
        gpu.draw(300, 1.0)  # the card works while the request runs
        qtbot.waitUntil(task.done, timeout=SLOW_MS)
        status, data = task.result()
        assert status == 200 and data[-1] == "[DONE]"
    earnings = shell.windows.earnings
    qtbot.waitUntil(lambda: earnings.table.rowCount() == 2, timeout=30_000)
    recent = shell.earnings.view.recent
    assert all(r.earned_nanoton > 0 and r.adjusted_tokens > 0 for r in recent)
    assert earnings.figures["Today"].value.text().endswith(" TON")
    assert earnings.figures["Today"].value.text() not in ("0.00 TON", "—")
    assert earnings.network_note.text() == "Devnet: test tokens, not real TON"
    assert shell.windows.dashboard.glance.network_note.text() == earnings.network_note.text()
    assert "Devnet: test tokens, not real TON" in shell.tray.icon.toolTip()
    # The tray's figures follow the node's summary, refreshed a moment after each request.
    qtbot.waitUntil(lambda: shell.glance.facts.earned_today_nanoton
                    == sum(r.earned_nanoton for r in recent), timeout=30_000)
    assert "Earned today:" in shell.tray.icon.toolTip()

    # GPU protection: too hot pauses serving (drain), cool enough resumes it.
    gpu.temperature_c = 88
    qtbot.waitUntil(lambda: not shell.node.status.accepting, timeout=30_000)
    assert shell.node.status.paused_reasons and "Paused" in panel.serving_state.text()
    assert shell.tray.state is TrayState.PAUSED
    gpu.temperature_c = 70
    qtbot.waitUntil(lambda: shell.node.status.state is NodeState.SERVING, timeout=30_000)

    quit_while_a_job_runs(qtbot, shell, loop)


def quit_while_a_job_runs(qtbot: Any, shell: Any, loop: Any) -> None:
    """Quit while a job runs: it finishes in full, then the engine stops."""
    long_job = loop.create_task(devnet_chat(shell, "Count from one to forty.", 120))
    qtbot.waitUntil(lambda: shell.node.status.worker is not None
                    and shell.node.status.worker.active_requests == 1, timeout=SLOW_MS)
    with qtbot.waitSignal(shell.quit_finished, timeout=SLOW_MS):
        shell.request_quit()
    qtbot.waitUntil(long_job.done, timeout=SLOW_MS)
    status, data = long_job.result()
    assert status == 200 and data[-1] == "[DONE]"
    assert any(json.loads(d).get("usage") for d in data[:-1])  # complete, with its usage
    assert shell.engine.status.state is EngineState.STOPPED
    assert not shell.windows.main.isVisible()
