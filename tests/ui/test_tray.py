"""The tray: icon state, tooltip and menu from the facts; and a real tray on an X display."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.tray import Tray, tray_icon
from cocoon_desktop.ui_logic.glance import GlanceFacts, TrayState

ROOT = Path(__file__).resolve().parents[2]


def test_icon_menu_and_actions_follow_the_facts(qtbot: Any) -> None:
    tray = Tray()
    stops: list[bool] = []
    tray.stop_requested.connect(lambda: stops.append(True))
    starts: list[bool] = []
    tray.start_requested.connect(lambda: starts.append(True))
    assert tray.state is TrayState.PAUSED and tray.serve_action.text() == "Start serving"
    tray.serve_action.trigger()
    assert starts == [True]
    tray.update_facts(GlanceFacts(serving=True, wanted=True, earned_today_nanoton=2_000_000_000,
                                  node_balance_nanoton=2_100_000_000, active_jobs=1))
    assert tray.state is TrayState.SERVING
    assert tray.icon.icon().cacheKey() != tray_icon(TrayState.PAUSED).cacheKey()
    assert tray.serve_action.text() == "Stop serving"
    texts = [a.text() for a in tray.info_actions]
    assert texts[0] == "Serving" and "Earned today: 2.00 TON" in texts
    assert "Node wallet: 2.10 TON" in texts and "Earnings: not read yet" in texts
    tray.update_facts(GlanceFacts(serving=True, wanted=True,
                                  earnings_network=NetworkKind.DEVNET,
                                  earned_today_nanoton=3_080))
    texts = [a.text() for a in tray.info_actions]
    assert texts[1] == "Devnet: test tokens, not real TON"
    assert "Earned today: 0.00000308 TON" in texts
    assert "Devnet: test tokens, not real TON" in tray.icon.toolTip()
    tray.serve_action.trigger()
    assert stops == [True]
    tray.update_facts(GlanceFacts(serving=True, attention="The engine crashed 5 times"))
    assert tray.state is TrayState.ATTENTION
    assert tray.info_actions[0].text() == "Needs attention: The engine crashed 5 times"
    assert "Needs attention" in tray.icon.toolTip()
    for state in TrayState:
        assert not tray_icon(state).pixmap(32, 32).isNull()


@pytest.mark.skipif(not os.environ.get("DISPLAY") or not shutil.which("trayer"),
                    reason="needs an X display and the trayer tray host (scripts/test.sh)")
def test_real_tray_on_an_x_display() -> None:
    host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--width", "10"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # trayer takes the system-tray selection
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "tray_probe.py")],
                              capture_output=True, text=True, env=env, timeout=120)
    finally:
        host.terminate()
        host.wait(10)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["available"] and seen["visible"]
    assert seen["geometry"][2] > 0 and seen["geometry"][3] > 0  # the tray host placed it
    assert seen["state"] == "serving" and "Earned today: 1.25 TON" in seen["tooltip"]
    assert seen["fired"] == ["stop", "quit"]


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two "#rrggbb" colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.skipif(not os.environ.get("DISPLAY") or not shutil.which("trayer"),
                    reason="needs an X display and the trayer tray host (scripts/test.sh)")
def test_the_tray_balloon_is_readable_in_the_dark_theme() -> None:
    """Issue 15: the close-to-tray balloon was light grey on pale yellow in the dark theme."""
    host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--width", "10"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, str(ROOT / "tests" / "ui" / "balloon_probe.py")],
                              capture_output=True, text=True, env=env, timeout=120)
    finally:
        host.terminate()
        host.wait(10)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["shown"], "the balloon did not show"
    assert any("not serving" in text for text in seen["texts"])
    for colour in seen["text_colours"]:
        assert contrast(colour, seen["background"]) >= 4.5, (colour, seen["background"])
