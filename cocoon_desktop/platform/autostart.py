"""Start the app at login: opt-in, off by default, removable from the app.

One small interface with one implementation per OS: an XDG autostart `.desktop` file on Linux, the
`Run` registry key on Windows, a LaunchAgent plist on macOS. `NullAutostart` explains why it is not
offered (for example when running from a source checkout with no stable launcher).
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import shlex
import sys
from abc import ABC, abstractmethod
from pathlib import Path

APP_ID = "org.cocoon.desktop"
APP_NAME = "Cocoon Desktop"


class Autostart(ABC):
    """Login-time start of the app for the current user."""

    @property
    @abstractmethod
    def available(self) -> bool: ...

    @property
    @abstractmethod
    def detail(self) -> str:
        """Where the entry lives, or why autostart is unavailable."""

    @abstractmethod
    def is_enabled(self) -> bool: ...

    @abstractmethod
    def enable(self, command: list[str]) -> None: ...

    @abstractmethod
    def disable(self) -> None: ...


class XdgAutostart(Autostart):
    """`~/.config/autostart/org.cocoon.desktop.desktop` (freedesktop autostart spec)."""

    def __init__(self, config_home: Path | None = None) -> None:
        base = config_home or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        self.entry = base / "autostart" / f"{APP_ID}.desktop"

    available = True

    @property
    def detail(self) -> str:
        return f"login entry: {self.entry}"

    def is_enabled(self) -> bool:
        return self.entry.is_file()

    def enable(self, command: list[str]) -> None:
        self.entry.parent.mkdir(parents=True, exist_ok=True)
        text = (
            "[Desktop Entry]\nType=Application\n"
            f"Name={APP_NAME}\nComment=Serve AI inference on the Cocoon network\n"
            f"Exec={shlex.join(command)} --minimized\nIcon=cocoon-desktop\nTerminal=false\n"
            "X-GNOME-Autostart-enabled=true\n"
        )
        tmp = self.entry.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.entry)

    def disable(self) -> None:
        self.entry.unlink(missing_ok=True)


class LaunchAgentAutostart(Autostart):
    """`~/Library/LaunchAgents/org.cocoon.desktop.plist` with RunAtLoad."""

    def __init__(self, home: Path | None = None) -> None:
        self.plist = (home or Path.home()) / "Library" / "LaunchAgents" / f"{APP_ID}.plist"

    available = True

    @property
    def detail(self) -> str:
        return f"launch agent: {self.plist}"

    def is_enabled(self) -> bool:
        return self.plist.is_file()

    def enable(self, command: list[str]) -> None:
        self.plist.parent.mkdir(parents=True, exist_ok=True)
        body = {"Label": APP_ID, "ProgramArguments": [*command, "--minimized"], "RunAtLoad": True}
        self.plist.write_bytes(plistlib.dumps(body))

    def disable(self) -> None:
        self.plist.unlink(missing_ok=True)


class WindowsRunKeyAutostart(Autostart):  # pragma: no cover - needs Windows
    """`HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run` value named after the app."""

    KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
    available = True
    detail = "registry: HKCU\\" + KEY

    def is_enabled(self) -> bool:
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self.KEY) as key:
            try:
                winreg.QueryValueEx(key, APP_NAME)
            except FileNotFoundError:
                return False
            return True

    def enable(self, command: list[str]) -> None:
        import subprocess
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self.KEY, 0, winreg.KEY_SET_VALUE) as key:
            value = subprocess.list2cmdline([*command, "--minimized"])
            winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, value)

    def disable(self) -> None:
        import winreg

        access = winreg.KEY_SET_VALUE
        with (
            winreg.OpenKey(winreg.HKEY_CURRENT_USER, self.KEY, 0, access) as key,
            contextlib.suppress(FileNotFoundError),
        ):
            winreg.DeleteValue(key, APP_NAME)


class NullAutostart(Autostart):
    """Autostart is not offered here; `detail` says why."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    available = False

    @property
    def detail(self) -> str:
        return self._reason

    def is_enabled(self) -> bool:
        return False

    def enable(self, command: list[str]) -> None:
        raise RuntimeError(f"Autostart is not available: {self._reason}")

    def disable(self) -> None:
        """Nothing to remove."""


def launch_command() -> list[str]:
    """How to start this app again: the frozen executable, or this interpreter with the module."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "cocoon_desktop", "gui"]


def system_autostart() -> Autostart:
    """The implementation for this OS."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return XdgAutostart()
    if sys.platform == "darwin":
        return LaunchAgentAutostart()
    if sys.platform == "win32":
        return WindowsRunKeyAutostart()
    return NullAutostart(f"autostart is not supported on {sys.platform}")
