"""Protection end to end with real parts: the fake NVML (no GPU here) feeds the real monitor and
health service (real psutil, real processes), whose ticks drive the real policy and controller,
which act on a recording ServingControl."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cocoon_desktop.hardware.gpu.monitor import open_gpu_monitor
from cocoon_desktop.hardware.history import MetricHistory
from cocoon_desktop.hardware.protection.control import ProtectionController
from cocoon_desktop.hardware.protection.policy import Notification, ProtectionPolicy
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from tests.helpers.fake_nvml import FakeGpu, FakeNvml, GiB
from tests.helpers.serving_control import RecordingControl


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start a real process whose name (what `ps` shows) is `name`."""
    started: list[subprocess.Popen[bytes]] = []
    sleep = shutil.which("sleep")
    assert sleep is not None

    def start(name: str) -> subprocess.Popen[bytes]:
        program = tmp_path / name
        shutil.copy(sleep, program)
        process = subprocess.Popen([str(program), "120"])
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


class Rig:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine_pid: int,
                 games: list[str], **settings: float) -> None:
        self.fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
        self.gpu = self.fake.gpus[0]
        self.gpu.grab_vram(engine_pid, 8 * GiB, kind="compute", sm_percent=95)
        self.control = RecordingControl()
        self.notes: list[Notification] = []
        policy = ProtectionPolicy(ProtectionSettings(**settings))  # type: ignore[arg-type]
        self.service = HealthService(
            open_gpu_monitor(),
            SystemSampler(tmp_path, engine_pid),
            history=MetricHistory(),
            games=ProcessNameWatch(games, interval_s=0),
            protection=ProtectionController(policy, self.control, self.notes.append),
        )

    def step(self) -> None:
        self.service.publish(self.service.tick())


def test_a_card_heating_up_and_cooling_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            spawn: Callable[[str], subprocess.Popen[bytes]]
                                            ) -> None:
    engine = spawn("llama-engine")
    rig = Rig(monkeypatch, tmp_path, engine.pid, [])
    for temperature in (60, 72, 84, 86, 80, 76, 74, 70):
        rig.gpu.temperature_c = temperature
        rig.step()
    assert rig.control.calls == ["pause", "resume"]
    assert "GPU 0 reached 84 °C" in rig.control.reasons[0]
    assert [n.severity for n in rig.notes] == ["warning", "info"]
    latest = rig.service.latest
    assert latest is not None and latest.engine is not None and latest.engine.running
    history = rig.service.history.series("gpu0.temperature_c", 60, latest.wall_time_s + 1)
    assert history.means == (60, 72, 84, 86, 80, 76, 74, 70)


def test_throttling_pauses_and_full_speed_resumes(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  spawn: Callable[[str], subprocess.Popen[bytes]]
                                                  ) -> None:
    rig = Rig(monkeypatch, tmp_path, spawn("llama-engine").pid, [], slowdown_clear_s=0)
    rig.gpu.clocks_event_reasons = 0x4 | 0x20  # power cap + software thermal slowdown
    rig.step()
    rig.gpu.clocks_event_reasons = 0x4  # power cap only: normal under load
    rig.step()
    rig.step()
    assert rig.control.calls == ["pause", "resume"]
    assert "software thermal slowdown" in rig.control.reasons[0]


def test_another_process_grabbing_vram_frees_the_gpu_then_serving_returns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    spawn: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    rig = Rig(monkeypatch, tmp_path, spawn("llama-engine").pid, [], game_end_quiet_s=0)
    rig.step()
    rig.step()
    assert rig.control.calls == []  # our own engine's 8 GiB is not "another program"
    hog = spawn("vramhog")
    rig.gpu.grab_vram(hog.pid, 6 * GiB, kind="graphics")
    rig.step()
    assert rig.control.calls == ["pause", "unload"]
    assert "the most: vramhog, 6.0 GiB" in rig.control.reasons[1]
    rig.gpu.release(hog.pid)
    rig.step()
    assert rig.control.calls == ["pause", "unload", "reload", "resume"]
    assert rig.notes[-1].title == "Serving resumed"


def test_a_listed_game_starting_and_quitting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             spawn: Callable[[str], subprocess.Popen[bytes]]
                                             ) -> None:
    rig = Rig(monkeypatch, tmp_path, spawn("llama-engine").pid, ["CocoonGame.exe"],
              game_end_quiet_s=0)
    rig.step()
    game = spawn("cocoongame")
    rig.step()
    assert rig.control.calls == ["pause", "unload"]
    assert "CocoonGame.exe is running" in rig.control.reasons[0]
    game.kill()
    game.wait()
    rig.step()
    assert rig.control.calls == ["pause", "unload", "reload", "resume"]


def test_a_failing_control_step_does_not_swallow_the_users_notice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    spawn: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    rig = Rig(monkeypatch, tmp_path, spawn("llama-engine").pid, [])

    def broken(reason: str) -> None:
        raise RuntimeError("worker is gone")

    rig.control.pause_network_jobs = broken  # type: ignore[method-assign]
    rig.gpu.temperature_c = 95
    rig.step()
    assert [n.title for n in rig.notes] == ["Serving paused: GPU is hot"]
