"""Where the app keeps its files: one place to ask, so tests and rigs can move it all at once.

`COCOON_HOME` (used by tests and by several headless workers on one machine) puts every folder
under one directory; otherwise the platform's usual locations are used (XDG on Linux).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "cocoon-desktop"


@dataclass(frozen=True)
class AppPaths:
    """The app's folders. None of them ever holds a secret: secrets live in the OS keyring."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def ledger_file(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def ensure(self) -> AppPaths:
        """Create every folder (private to the user) and return self."""
        for folder in (self.config_dir, self.data_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def app_paths(home: Path | None = None) -> AppPaths:
    """The folders for this user, or all under `home` (or `$COCOON_HOME`) when given."""
    root = home or (Path(os.environ["COCOON_HOME"]) if os.environ.get("COCOON_HOME") else None)
    if root is not None:
        return AppPaths(root / "config", root / "data", root / "cache", root / "logs")
    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME)),
        Path(platformdirs.user_data_dir(APP_NAME)),
        Path(platformdirs.user_cache_dir(APP_NAME)),
        Path(platformdirs.user_log_dir(APP_NAME)),
    )
