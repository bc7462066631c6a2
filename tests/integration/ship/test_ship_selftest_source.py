"""`cocoon-desktop --self-test` from the source tree: real Qt, the real engine with the bundled
model, the test session's real keyring. The frozen bundle runs the same checks
(test_ship_bundle.py)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.integration.ship.conftest import run_selftest

FROM_SOURCE = [sys.executable, "-m", "cocoon_desktop"]
pytestmark = [pytest.mark.slow]


@pytest.mark.engine
@pytest.mark.keyring
def test_every_check_passes_and_the_engine_answers(session_keyring: None) -> None:
    run = run_selftest(FROM_SOURCE)
    assert run.returncode == 0, run.report
    assert run.report["passed"] is True and run.report["frozen"] is False
    assert [c["name"] for c in run.report["checks"]] == ["gui", "model", "engine", "keyring",
                                                         "nvml"]
    assert "'offscreen' platform" in run.check("gui")["summary"]
    assert "main window opened and closed, a chart drawn" in run.check("gui")["summary"]
    assert "SHA-256 matches its package record" in run.check("model")["summary"]
    engine = run.check("engine")
    assert engine["ok"] and "answered" in engine["summary"] and "tokens" in engine["summary"]
    assert run.check("keyring")["ok"]
    assert "SecretService" in run.check("keyring")["summary"]
    nvml = run.check("nvml")  # no NVIDIA driver on this machine: a warning with what to do
    assert not nvml["ok"] and nvml["fix"]


def test_the_desktop_session_display_works_too() -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display (scripts/test.sh starts Xvfb)")
    run = run_selftest(FROM_SOURCE, "--only", "gui", "--qt-platform", "xcb")
    assert run.returncode == 0, run.report
    assert "'xcb' platform" in run.check("gui")["summary"]


def test_a_qt_platform_that_cannot_start_fails_with_qts_reason() -> None:
    run = run_selftest(FROM_SOURCE, "--only", "gui", "--qt-platform", "no-such-platform")
    assert run.returncode == 1 and run.report["passed"] is False
    gui = run.check("gui")
    assert not gui["ok"]
    assert "Qt could not start with the 'no-such-platform' platform" in gui["summary"]
    assert "no-such-platform" in gui["summary"].split(":", 1)[1]  # Qt's own words follow
    assert gui["fix"]


def test_no_display_for_xcb_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = run_selftest(FROM_SOURCE, "--only", "gui", "--qt-platform", "xcb", env=env)
    assert run.returncode == 1
    assert "DISPLAY" in run.check("gui")["fix"]


@pytest.mark.engine
def test_an_engine_that_is_not_ready_in_time_fails_the_self_test() -> None:
    run = run_selftest(FROM_SOURCE, "--only", "engine", "--timeout-s", "0.01")
    assert run.returncode == 1
    engine = run.check("engine")
    assert not engine["ok"] and "0 s" in engine["summary"] and engine["fix"]


def test_without_a_keyring_the_self_test_warns_and_still_passes() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent/bus"
    run = run_selftest(FROM_SOURCE, "--only", "keyring", env=env)
    assert run.returncode == 0 and run.report["passed"] is True
    keyring = run.check("keyring")
    assert not keyring["ok"] and "keyring" in keyring["summary"].lower()
    assert "cannot keep a wallet" in keyring["fix"]
