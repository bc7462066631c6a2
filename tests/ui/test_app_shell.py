"""The whole app shell on temporary folders: start, monitor, pages, tray facts, quit."""

from __future__ import annotations

from typing import Any

from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.gpu.nvml import Nvml
from cocoon_desktop.settings import AppSettings, save_settings
from cocoon_desktop.ui.dashboard.gpu_card import GpuCard
from cocoon_desktop.ui.dashboard.host_card import NoGpuCard


def completed_settings(paths: Any, **changes: Any) -> None:
    save_settings(paths.settings_file, AppSettings(wizard_completed=True, **changes))


def test_shell_starts_monitors_a_gpu_and_quits(qtbot: Any, run_async: Any, paths: Any,
                                               fake_gpu: Any, shell_factory: Any) -> None:
    completed_settings(paths)
    shell = shell_factory(monitor=open_gpu_monitor(Nvml()))
    run_async(shell.start(), 30_000)
    main = shell.windows.main
    assert main.isVisible()
    assert list(main.pages) == ["Dashboard", "Earnings", "Wallet", "Logs", "Settings"]
    dashboard = shell.windows.dashboard
    qtbot.waitUntil(lambda: 0 in dashboard.gpu_cards, timeout=10_000)
    card: GpuCard = dashboard.gpu_cards[0]
    assert "RTX 4090" in card.title.text()
    qtbot.waitUntil(lambda: len(card.temperature.values) >= 2, timeout=10_000)
    assert card.temperature.values[-1] == 61 and card.load.values[-1] == 87
    assert "of" in card.values["VRAM"].text()
    fake_gpu.gpus[0].temperature_c = 70
    qtbot.waitUntil(lambda: card.temperature.values[-1] == 70, timeout=10_000)
    qtbot.waitUntil(lambda: shell.glance.facts.gpu_temperature_c == 70, timeout=10_000)
    assert "GPU: 70 °C" in shell.tray.icon.toolTip()
    # Offscreen there is no tray: closing the window quits, after a clean shutdown.
    assert not shell.tray.available
    with qtbot.waitSignal(shell.quit_finished, timeout=60_000):
        main.close()
    assert not main.isVisible()


def test_without_nvidia_the_dashboard_says_why(qtbot: Any, run_async: Any, paths: Any,
                                               shell_factory: Any) -> None:
    completed_settings(paths)
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    dashboard = shell.windows.dashboard
    assert dashboard.no_gpu is not None and isinstance(dashboard.no_gpu, NoGpuCard)
    assert dashboard.no_gpu.summary.text().startswith("GPU monitoring not available:")
    qtbot.waitUntil(lambda: dashboard.host.values["CPU"].text() != "—", timeout=10_000)
    assert "cores" in dashboard.host.values["CPU"].text()
