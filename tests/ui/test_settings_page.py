"""The Settings page: every field round-trips, problems show beside their field, nothing
invalid is saved."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit, QSpinBox

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
    editors["theme"].setCurrentText("dark")
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
    page.editors["theme"].setCurrentText("dark")
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
