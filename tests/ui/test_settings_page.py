"""The Settings page: every field round-trips, problems show beside their field, nothing
invalid is saved."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
)

from cocoon_desktop.platform.autostart import XdgAutostart
from cocoon_desktop.settings import AppSettings, Theme, load_settings, save_settings
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.settings_page import SettingsPage


def make_page(qtbot: Any, paths: Any) -> SettingsPage:
    controller = SettingsController(paths.settings_file, XdgAutostart(paths.config_dir))
    page = SettingsPage(controller)
    qtbot.addWidget(page)
    return page


def test_apply_saves_every_kind_of_field(qtbot: Any, paths: Any, run_async: Any) -> None:
    page = make_page(qtbot, paths)
    editors = page.editors
    assert isinstance(editors["theme"], QComboBox)
    editors["theme"].setCurrentText("Dark")
    assert isinstance(editors["pause_temperature_c"], QSpinBox)
    editors["pause_temperature_c"].setValue(80)
    assert isinstance(editors["game_mode_processes"], QPlainTextEdit)
    editors["game_mode_processes"].setPlainText("steam\n\n cyberpunk2077.exe \n")
    assert isinstance(editors["tariff_currency"], QLineEdit)
    editors["tariff_currency"].setText("EUR")
    assert isinstance(editors["autostart"], QCheckBox)
    editors["autostart"].setChecked(True)
    assert run_async(page.apply()) is True
    saved = json.loads(paths.settings_file.read_text())
    assert saved["theme"] == "dark" and saved["pause_temperature_c"] == 80
    assert saved["game_mode_processes"] == ["steam", "cyberpunk2077.exe"]
    assert saved["tariff_currency"] == "EUR" and saved["autostart"] is True
    assert (paths.config_dir / "autostart" / "org.cocoon.desktop.desktop").is_file()
    assert page.status.text() == "Settings saved."


def test_invalid_values_are_explained_and_not_saved(qtbot: Any, paths: Any,
                                                    run_async: Any) -> None:
    save_settings(paths.settings_file, AppSettings(theme=Theme.LIGHT))
    page = make_page(qtbot, paths)
    page.editors["pause_temperature_c"].setValue(70)
    page.editors["resume_temperature_c"].setValue(75)
    page.editors["tariff_currency"].setText("euros")
    page.editors["theme"].setCurrentText("Dark")
    assert run_async(page.apply()) is False
    assert "below the pause temperature" in page.errors["resume_temperature_c"].text()
    assert not page.errors["resume_temperature_c"].isHidden()
    assert "three-letter" in page.errors["tariff_currency"].text()
    assert page.errors["theme"].isHidden()
    assert "nothing was saved" in page.status.text()
    assert load_settings(paths.settings_file).settings.theme is Theme.LIGHT
    page.revert_button.click()
    assert page.editors["tariff_currency"].text() == "USD"
    assert page.errors["tariff_currency"].isHidden()


def test_a_damaged_settings_file_is_reported_on_the_page(qtbot: Any, paths: Any) -> None:
    paths.settings_file.write_text("{oops")
    page = make_page(qtbot, paths)
    banners = [w.text() for w in page.findChildren(type(page.status).__mro__[1])
               if w.objectName() == "banner"]
    assert banners and "could not be read" in banners[0]


def test_values_read_as_people_say_them(qtbot: Any, paths: Any, run_async: Any) -> None:
    """Issue 15: the page showed raw values ("devnet", "1000 = 1.0x")."""
    page = make_page(qtbot, paths)
    network, coefficient = page.editors["network"], page.editors["coefficient"]
    assert isinstance(network, QComboBox)
    assert network.currentText() == "Local devnet (on this computer)"
    assert page.editors["theme"].currentText() == "Follow the desktop"
    assert isinstance(coefficient, QDoubleSpinBox)
    assert coefficient.text() == "1.000 × the network price"
    assert page.editors["gpu_layers"].text() == "All that fit"  # -1
    shown = " ".join(w.text() for w in page.findChildren(QLabel))
    assert "1000 = 1.0x" not in shown and "devnet" not in [network.currentText()]
    coefficient.setValue(1.25)
    network.setCurrentText("Cocoon test network")
    assert run_async(page.apply()) is True
    saved = json.loads(paths.settings_file.read_text())
    assert saved["coefficient"] == 1250 and saved["network"] == "testnet"


def test_the_wheel_scrolls_the_page_and_changes_no_value(qtbot: Any, paths: Any) -> None:
    """Issue 15: scrolling the page over the electricity price turned 0.00 into 0.01."""
    page = make_page(qtbot, paths)
    page.resize(900, 500)
    page.show()
    qtbot.waitExposed(page)
    price = page.editors["tariff_per_kwh"]
    page.scroll.ensureWidgetVisible(price)
    for editor in (price, page.editors["network"], page.editors["pause_temperature_c"]):
        value = editor.currentText() if isinstance(editor, QComboBox) else editor.value()
        # Declined (not accepted): Qt hands a real wheel event on to the scroll area.
        assert not wheel(editor, 120)
        assert (editor.currentText() if isinstance(editor, QComboBox) else editor.value()) \
            == value
    price.setFocus()  # clicked into: now the wheel is the user's way to change it
    qtbot.waitUntil(price.hasFocus)
    assert wheel(price, 120)
    assert price.value() > 0


def wheel(widget: Any, delta: int) -> bool:
    """Turn the wheel over `widget`; whether it took the event."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_label_columns_line_up_across_sections(qtbot: Any, paths: Any) -> None:
    page = make_page(qtbot, paths)
    page.resize(1000, 700)
    page.show()
    qtbot.waitExposed(page)
    lefts = {name: editor.mapTo(page, QPoint(0, 0)).x() for name, editor in page.editors.items()}
    assert len(set(lefts.values())) == 1, lefts  # one column for every section


def test_speculative_decoding_and_a_draft_model_are_chosen_in_the_model_settings(
        qtbot: Any, paths: Any, run_async: Any) -> None:
    page = make_page(qtbot, paths)
    speculative, draft = page.editors["speculative_decoding"], page.editors["draft_model_path"]
    assert isinstance(speculative, QCheckBox) and speculative.isChecked()  # on by default
    assert isinstance(draft, QLineEdit) and draft.text() == ""
    draft.setText("/models/smollm2-135m.txt")
    assert run_async(page.apply()) is False
    assert "gguf" in page.errors["draft_model_path"].text()
    # nothing invalid is saved
    assert load_settings(paths.settings_file).settings.draft_model_path == ""
    draft.setText("/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    speculative.setChecked(False)
    assert run_async(page.apply()) is True
    saved = load_settings(paths.settings_file).settings
    assert saved.draft_model_path == "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert saved.speculative_decoding is False
