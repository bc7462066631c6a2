#!/usr/bin/env python3
"""Render every screen of the app to PNG (for the README and for review).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--no-engine]

Runs the real app shell on a throwaway data folder, under the X display when there is one
(Xvfb in tests) or offscreen otherwise. This machine has no NVIDIA GPU: the GPU card is fed by
the fake NVML from tests/helpers (an RTX 4090 under load). Everything else is real: the engine
with the bundled model answers the chat, "Send test jobs" sends prompts through the in-app
devnet's client while the dashboard is grabbed (jobs moving), and the earnings come from the
ledger those jobs filled. The chat keeps two conversations (the list); the wizard echoes a
pasted mainnet address on the devnet. Needs the keyring for the wallet (scripts/test.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZES = {"main": (1280, 820), "chat": (1100, 700), "wizard": (760, 600)}
SHOTS = ("dashboard", "dashboard-loading", "dashboard-dark", "earnings", "wallet", "logs",
         "settings", "chat", "chat-dark", "wizard-eligibility", "wizard-address", "wizard-model",
         "wizard-finish", "tray-menu")
PASTED_ADDRESS = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"  # a mainnet form


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--no-engine", action="store_true",
                        help="skip the engine (no chat answer, no served requests)")
    return parser.parse_args()


async def wait_for(predicate: Any, timeout_s: float) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout_s)


def step(text: str) -> None:
    print(f"[screenshots {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def save(widget: Any, out: Path, name: str, size: tuple[int, int]) -> Path:
    widget.resize(*size)
    # Let Qt lay out and paint on its own loop: no nested processEvents() inside a coroutine
    # (re-entering the event loop from an asyncio callback stalls qasync's timers).
    await asyncio.sleep(0.3)
    path = out / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


class LoadShot:
    """The dashboard while the engine loads the model: grabbed from the engine's own status
    signal (the load of the bundled model takes about a second, too short to wait for), the
    frame nearest to half loaded, else the busy bar before the weights start."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.best: tuple[float, Any] | None = None

    def on_engine_status(self, status: Any) -> None:
        from cocoon_desktop.engine.types import EngineState

        if status.state is not EngineState.LOADING:
            return
        fraction = status.load_fraction
        score = -1.0 if fraction is None else 1.0 - abs(fraction - 0.5)
        if self.best is None or score > self.best[0]:
            self.best = (score, self.window.grab())  # paints now, without a nested loop

    def save(self, out: Path) -> Path:
        if self.best is None:
            raise RuntimeError("the engine published no loading status to capture")
        path = out / "dashboard-loading.png"
        if not self.best[1].save(str(path)):
            raise OSError(f"could not write {path}")
        return path


async def serve_and_chat(shell: Any, out: Path) -> Path:
    from cocoon_desktop.engine.types import EngineState

    w = shell.windows
    w.main.show_page("Dashboard")
    w.main.resize(*SIZES["main"])
    await asyncio.sleep(0.3)  # laid out before the load starts
    loading = LoadShot(w.main)
    shell.engine.status_changed.connect(loading.on_engine_status)
    step("serving on the devnet")
    await shell.node.start_serving()
    await wait_for(lambda: shell.node.status.state.value == "serving", 120)
    shell.engine.status_changed.disconnect(loading.on_engine_status)
    step("chatting (two conversations for the list)")
    shell.windows.show_chat()
    shell.chat.set_params(shell.chat.params.__class__(0.0, 1.0, 40))
    for question in ("Name three colours of the rainbow.",
                     "Explain in two sentences what a GPU does."):
        shell.chat.clear()  # a new conversation; the previous one stays in the list
        shell.chat.send(question)
        await shell.chat.wait_idle()
    await wait_for(lambda: shell.windows.chat.chats.list.count() == 2, 30)
    assert shell.engine.status.state is EngineState.READY
    step("sending test jobs through the devnet")
    shell.devnet.start()
    await wait_for(lambda: shell.devnet.counts.answered >= 12, 180)
    await wait_for(lambda: shell.earnings.view is not None
                   and shell.earnings.view.summary.last_hour.requests >= 12, 60)
    return loading.save(out)


async def take(shell: Any, out: Path, engine: bool) -> list[Path]:
    from cocoon_desktop.settings import Theme

    w = shell.windows
    from cocoon_desktop.wallet.errors import WalletError

    await shell.start()
    from cocoon_desktop.network.devnet.network import DEVNET_WORKER_OWNER
    from cocoon_desktop.network.root_config import friendly

    try:
        await shell.wallet.link_owner(friendly(DEVNET_WORKER_OWNER))  # the devnet's demo owner
        await shell.wallet.ensure_node_wallet()
    except WalletError as exc:  # no keyring here: the wallet page shows why
        print(f"note: {exc}", file=sys.stderr)
    shots = [await serve_and_chat(shell, out)] if engine else []
    await asyncio.sleep(3)  # a few monitoring ticks for the charts
    await shell.earnings.refresh()
    step("main window pages (test jobs moving)")
    w.earnings.show_period("day")
    for card in (*w.dashboard.gpu_cards.values(), w.dashboard.machine):
        card.range.pick("1 min")  # the app has run for a minute: its charts are full
    for page in ("Dashboard", "Earnings", "Wallet", "Logs", "Settings"):
        w.main.show_page(page)
        shots.append(await save(w.main, out, page.lower(), SIZES["main"]))
    menu = shell.tray.menu
    menu.adjustSize()
    shots.append(await save(menu, out, "tray-menu", (menu.sizeHint().width(),
                                                menu.sizeHint().height())))
    shell.theme.apply(Theme.DARK)
    w.main.show_page("Dashboard")
    shots.append(await save(w.main, out, "dashboard-dark", SIZES["main"]))
    shots.append(await save(w.chat, out, "chat-dark", SIZES["chat"]))
    shell.theme.apply(Theme.LIGHT)
    shots.append(await save(w.chat, out, "chat", SIZES["chat"]))
    await shell.devnet.stop()
    shots += await wizard_shots(w, out)
    step("shutting down")
    await shell.shutdown(10)
    step("done")
    return shots


async def wizard_shots(w: Any, out: Path) -> list[Path]:
    """Eligibility; a mainnet address pasted on the devnet and echoed as given; the model; the
    summary (the address as given, with the devnet's form of it in words)."""
    from cocoon_desktop.settings import NetworkKind
    from cocoon_desktop.ui_logic.wizard import Step, WalletMode

    step("wizard")
    wizard = w.show_wizard()
    m = wizard.machine
    await wait_for(lambda: m.eligibility is not None, 120)
    shots = [await save(wizard, out, "wizard-eligibility", SIZES["wizard"])]
    m.next()
    wizard.sync()
    m.choose_network(NetworkKind.DEVNET)
    m.next()
    wizard.sync()
    m.choose_wallet_mode(WalletMode.LINK)
    wizard.sync()
    page = wizard.pages[Step.LINK_ADDRESS]
    page.address.setText(PASTED_ADDRESS)
    if not await page.submit():
        raise RuntimeError(f"the wizard refused the address: {page.error.text()}")
    await wait_for(lambda: m.step is Step.NODE_WALLET and m.can_advance(), 60)
    shots.append(await save(wizard, out, "wizard-address", SIZES["wizard"]))
    m.next()
    wizard.sync()
    await wait_for(lambda: m.step is Step.MODEL and m.can_advance(), 120)
    shots.append(await save(wizard, out, "wizard-model", SIZES["wizard"]))
    m.next()
    wizard.sync()
    shots.append(await save(wizard, out, "wizard-finish", SIZES["wizard"]))
    wizard.reject()
    return shots


def main() -> int:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="cocoon-shots-"))
    os.environ["COCOON_HOME"] = str(home)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pytest
    import qasync
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from cocoon_desktop.core.logs import setup_logging
    from cocoon_desktop.core.paths import app_paths
    from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
    from cocoon_desktop.hardware.gpu.nvml import Nvml
    from cocoon_desktop.resources import resource_path
    from cocoon_desktop.settings import AppSettings, save_settings
    from cocoon_desktop.ui.shell import AppShell
    from tests.helpers.fake_nvml import FakeGpu, FakeNvml

    paths = app_paths().ensure()
    log_file = setup_logging(paths.log_dir)  # the Logs page shows the app's own log
    save_settings(paths.settings_file, AppSettings(
        wizard_completed=True, monitoring_interval_s=0.2, context_tokens=1024,
        max_active_requests=2, tariff_per_kwh=0.30, tariff_currency="EUR"))
    app = QApplication(sys.argv[:1])
    app.setWindowIcon(QIcon(str(resource_path("app.svg"))))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with pytest.MonkeyPatch.context() as patch:
        FakeNvml([FakeGpu.rtx_4090(temperature_c=64, utilization_gpu_percent=92,
                                   power_mw=318_000)]).install(patch)
        shell = AppShell(app, paths, log_file=log_file, monitor=open_gpu_monitor(Nvml()))
        with loop:
            shots = loop.run_until_complete(take(shell, args.out, not args.no_engine))
    print(json.dumps({"screenshots": [str(p) for p in shots]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
