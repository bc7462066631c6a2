"""Issue 15 (the first hour), the parts that need no engine: what the tray says at a fresh start,
one word for one action, the close-to-tray notice, no "Thinking…" under streaming text, the
wizard's address error beside the field, the node wallet page on the devnet, the model dialog in
the dark theme, charts with values under the pointer and a time range."""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from cocoon_desktop.node.wallet_host import open_wallet
from cocoon_desktop.settings import AppSettings, NetworkKind, Theme, save_settings
from cocoon_desktop.ui.charts import LiveChart, RangePicker
from cocoon_desktop.ui.chat.message_widget import MessageWidget
from cocoon_desktop.ui.controllers.doctor import DoctorController
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.theme import DARK
from cocoon_desktop.ui.wizard.base import WizardServices
from cocoon_desktop.ui.wizard.wizard_window import WizardWindow
from cocoon_desktop.ui_logic.chat import GenerationStats
from cocoon_desktop.ui_logic.wizard import EligibilityView, Step, WalletMode, WizardMachine
from cocoon_desktop.wallet.address import canonical_owner_address
from cocoon_desktop.wallet.mnemonic import check_mnemonic, normalize_words

TEST_NETWORKS = EligibilityView("This machine can serve Cocoon test networks", (), False, True)


def test_streaming_text_has_no_thinking_line_under_it(qtbot: Any) -> None:
    answer = MessageWidget("assistant")
    qtbot.addWidget(answer)
    assert answer.stats.text() == "Thinking…"  # nothing yet: the model is thinking
    answer.append("Paris")
    assert answer.stats.text() == ""  # text streams: it is not thinking any more
    answer.append(" is the capital.")
    assert answer.stats.text() == ""
    answer.finish(GenerationStats(10, 5, 0, 0.1, 50.0, "stop"))
    assert "50.0 tok/s" in answer.stats.text()


def test_a_fresh_start_says_not_serving_with_one_word_for_the_action(
        qtbot: Any, run_async: Any, paths: Any, shell_factory: Any) -> None:
    save_settings(paths.settings_file, AppSettings(wizard_completed=True))
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    status_line = shell.tray.info_actions[0].text()
    assert status_line == "Not serving" and "paused" not in shell.tray.icon.toolTip().lower()
    panel = shell.windows.dashboard.engine_panel
    assert panel.serve_button.text() == shell.tray.serve_action.text() == "Start serving"
    texts = [a.text() for a in shell.tray.menu.actions()]
    assert not any("Pause" in t or "Resume" in t for t in texts)
    assert panel.values["Network jobs"].text() == "Not serving"


def test_the_close_to_tray_notice_tells_the_truth(qtbot: Any, run_async: Any, paths: Any,
                                                   shell_factory: Any,
                                                   monkeypatch: Any) -> None:
    save_settings(paths.settings_file, AppSettings(wizard_completed=True))
    shell = shell_factory()
    run_async(shell.start(), 30_000)
    told: list[tuple[str, str]] = []
    monkeypatch.setattr(shell.tray, "available", True)  # offscreen has no tray: as if it had
    monkeypatch.setattr(shell.tray.icon, "isVisible", lambda: True)
    monkeypatch.setattr(shell.tray, "notify", lambda title, text, critical=False:
                        told.append((title, text)))
    shell.windows.main.close()
    assert not shell.windows.main.isVisible() and len(told) == 1
    title, text = told[0]
    assert "keeps serving" not in f"{title} {text}".lower() and "not serving" in text


def link_address_window(qtbot: Any, paths: Any, model_controller: Any) -> WizardWindow:
    machine = WizardMachine(canonical_owner_address, check_mnemonic, split=normalize_words)
    machine.eligibility_ready(TEST_NETWORKS)
    machine.next()
    machine.choose_network(NetworkKind.TESTNET)
    machine.next()
    machine.choose_wallet_mode(WalletMode.LINK)
    services = WizardServices(DoctorController(), WalletController(None, NetworkKind.TESTNET),
                              model_controller, None, False, 1024)
    window = WizardWindow(machine, services)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_wizard_address_error_sits_beside_the_field(qtbot: Any, paths: Any,
                                                         run_async: Any,
                                                         model_controller: Any) -> None:
    window = link_address_window(qtbot, paths, model_controller)
    page = window.pages[Step.LINK_ADDRESS]
    page.address.setText("UQBl-not-an-address")
    assert not run_async(page.submit())
    assert page.error.text() and page.error.isVisible()
    qtbot.wait(50)  # laid out
    field_bottom = page.address.mapTo(page, QPoint(0, page.address.height())).y()
    error_top = page.error.mapTo(page, QPoint(0, 0)).y()
    assert 0 <= error_top - field_bottom < 40, (field_bottom, error_top)  # was ~450 px below


def test_the_devnet_node_wallet_page_asks_for_no_funding(
        qtbot: Any, paths: Any, keyring_store: Any, run_async: Any,
        model_controller: Any) -> None:
    machine = WizardMachine(canonical_owner_address, check_mnemonic, split=normalize_words)
    machine.eligibility_ready(TEST_NETWORKS)
    machine.next()
    machine.choose_network(NetworkKind.DEVNET)
    machine.next()
    machine.choose_wallet_mode(WalletMode.SKIP)
    wallet = WalletController(open_wallet(paths, keyring_store, NetworkKind.DEVNET, None),
                              NetworkKind.DEVNET)
    services = WizardServices(DoctorController(), wallet, model_controller, None, False, 1024)
    window = WizardWindow(machine, services)
    qtbot.addWidget(window)
    page = window.pages[Step.NODE_WALLET]
    qtbot.waitUntil(lambda: machine.can_advance(), timeout=30_000)
    shown = [w.text() for w in page.findChildren(type(page.balance).__mro__[1])
             if w.isVisibleTo(page)]
    assert "No funding needed on the local devnet." in shown
    assert not any("Scan the code" in text or "fills in the amount" in text for text in shown)
    assert not page.qr.isVisibleTo(page)
    assert page.address.copy_button.isEnabled() == bool(machine.node_wallet_address)


def test_the_model_dialog_paints_fully_in_the_dark_theme(qtbot: Any, run_async: Any,
                                                         paths: Any,
                                                         shell_factory: Any) -> None:
    save_settings(paths.settings_file, AppSettings(wizard_completed=True, theme=Theme.DARK))
    shell = shell_factory()
    dialog = shell.windows.show_model_dialog()
    qtbot.waitUntil(lambda: dialog.choice.count() >= 1, timeout=10_000)
    qtbot.wait(100)
    assert dialog.height() <= dialog.sizeHint().height() + 8  # sized to its content
    image = dialog.grab().toImage()
    window = QColor(DARK.window)
    for y in range(0, image.height(), 4):  # every band of the dialog has its own background
        row = [image.pixelColor(x, y) for x in range(0, image.width(), 8)]
        assert any(c == window for c in row), f"row {y} of {image.height()} is not painted"


def test_a_live_chart_has_values_on_its_axes_and_under_the_pointer(qtbot: Any) -> None:
    chart = LiveChart("Temperature", "°C", (20, 100), digits=0)
    qtbot.addWidget(chart)
    chart.resize(400, 200)
    chart.show()
    qtbot.waitExposed(chart)
    now = time.time()
    times = [now - 60 + i for i in range(61)]
    chart.set_points(times, [30.0 + i for i in range(61)], limit=83, now=now)
    assert chart.header.text() == "Temperature · 90 °C"  # the latest
    left = chart.plot.getAxis("left")
    ticks = [text for _, values in left.tickValues(20, 100, 150) for text in
             left.tickStrings(values, 1, values[1] - values[0] if len(values) > 1 else 1)]
    assert "40" in ticks and "80" in ticks
    assert chart.hover_at(-30.0).endswith("· 60 °C")  # 30 s ago
    chart.hover_at(None)
    box = chart.plot.getPlotItem().vb
    under_pointer = chart.plot.mapFromScene(box.mapViewToScene(QPointF(-30.0, 60.0)))
    QTest.mouseMove(chart.plot.viewport(), under_pointer)  # a real pointer over the plot
    qtbot.waitUntil(lambda: chart.readout.text().endswith("· 60 °C"), timeout=2000)
    assert chart.cursor.isVisible()
    chart.hover_at(None)
    assert chart.readout.text() == "" and not chart.cursor.isVisible()


def test_a_time_range_to_pick(qtbot: Any) -> None:
    picker = RangePicker()
    qtbot.addWidget(picker)
    chart = LiveChart("CPU", "%", (0, 100))
    qtbot.addWidget(chart)
    picker.window_changed.connect(chart.set_window)
    with qtbot.waitSignal(picker.window_changed) as picked:
        picker.buttons["1 h"].click()
    assert picked.args == [3600.0] and chart.window_s == 3600.0
    low, high = chart.plot.getPlotItem().vb.viewRange()[0]
    assert math.isclose(low, -3600, abs_tol=1) and math.isclose(high, 0, abs_tol=1)
    bottom = chart.plot.getAxis("bottom")
    labels = bottom.tickStrings([-3600, -1800, 0], 1, 1800)
    assert labels == ["−60 min", "−30 min", "now"]
