"""The real `cocoon-desktop gui` process: starts, a second launch raises it and exits, SIGTERM
quits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cocoon_desktop.core.paths import app_paths
from cocoon_desktop.settings import AppSettings, save_settings

ROOT = Path(__file__).resolve().parents[2]


def gui(home: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COCOON_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "cocoon_desktop", "gui", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_launch_hands_over_and_sigterm_quits(tmp_path: Path) -> None:
    save_settings(app_paths(tmp_path).settings_file, AppSettings(wizard_completed=True))
    first = gui(tmp_path, "--report-first-window")
    try:
        assert first.stdout is not None
        line = first.stdout.readline()
        assert line.startswith("first-window-s"), first.stderr.read() if first.stderr else ""
        started = time.monotonic()
        second = gui(tmp_path)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 0
        assert time.monotonic() - started < 60
        assert "already running" in err
        assert first.poll() is None  # the first one keeps running
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    assert first.returncode == 0, first.stderr.read() if first.stderr else ""
    log = (app_paths(tmp_path).log_dir / "app.log").read_text()
    assert "already running" in log
