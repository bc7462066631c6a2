"""SettingsController: the app settings as signals; saving validated copies off the GUI thread."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.platform.autostart import Autostart, launch_command
from cocoon_desktop.settings import AppSettings, SettingsError, load_settings, save_settings

log = logging.getLogger(__name__)


class SettingsController(QObject):
    settings_changed = Signal(object)  # AppSettings
    save_failed = Signal(str)

    def __init__(self, path: Path, autostart: Autostart, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.autostart = autostart
        loaded = load_settings(path)
        self.settings: AppSettings = loaded.settings
        self.load_warnings = loaded.warnings
        for warning in loaded.warnings:
            log.warning("%s", warning)

    async def update(self, **changes: Any) -> AppSettings:
        """Validate and save `changes`; raise SettingsError (nothing saved) when invalid."""
        new = self.settings.with_changes(**changes)
        try:
            if "autostart" in changes and new.autostart != self.settings.autostart:
                await run_blocking(self._apply_autostart, new.autostart)
            await run_blocking(save_settings, self.path, new)
        except OSError as exc:
            message = (f"Could not save settings to {self.path} ({exc.strerror or exc}). Check "
                       "that the folder is writable and the disk is not full.")
            self.save_failed.emit(message)
            raise SettingsError({"file": message}) from exc
        except RuntimeError as exc:  # autostart not available here
            self.save_failed.emit(str(exc))
            raise SettingsError({"autostart": str(exc)}) from exc
        self.settings = new
        self.settings_changed.emit(new)
        return new

    def _apply_autostart(self, enabled: bool) -> None:
        if enabled:
            self.autostart.enable(launch_command())
        else:
            self.autostart.disable()
