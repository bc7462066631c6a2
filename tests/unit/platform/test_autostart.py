"""Autostart is opt-in, written where the OS looks for it, and removable."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from cocoon_desktop.platform.autostart import (
    LaunchAgentAutostart,
    NullAutostart,
    XdgAutostart,
    launch_command,
)


def test_xdg_autostart_is_off_until_enabled_and_removable(tmp_path: Path) -> None:
    auto = XdgAutostart(config_home=tmp_path)
    assert not auto.is_enabled()
    auto.enable(["/opt/cocoon desktop/cocoon-desktop"])
    assert auto.is_enabled()
    text = auto.entry.read_text()
    assert auto.entry == tmp_path / "autostart" / "org.cocoon.desktop.desktop"
    assert "Exec='/opt/cocoon desktop/cocoon-desktop' --minimized" in text
    assert "Type=Application" in text
    auto.disable()
    assert not auto.is_enabled()
    auto.disable()  # removing twice is harmless


def test_launch_agent_plist_runs_at_load(tmp_path: Path) -> None:
    auto = LaunchAgentAutostart(home=tmp_path)
    auto.enable(["/Applications/Cocoon Desktop.app/Contents/MacOS/cocoon-desktop"])
    body = plistlib.loads(auto.plist.read_bytes())
    assert body["RunAtLoad"] is True
    assert body["ProgramArguments"][-1] == "--minimized"
    auto.disable()
    assert not auto.is_enabled()


def test_null_autostart_explains_and_refuses() -> None:
    auto = NullAutostart("no launcher in a source checkout")
    assert not auto.available
    assert "source checkout" in auto.detail
    with pytest.raises(RuntimeError, match="not available"):
        auto.enable(["x"])


def test_launch_command_from_source_runs_the_module() -> None:
    assert launch_command()[1:] == ["-m", "cocoon_desktop", "gui"]
