"""The health tick samples the engine on its own thread while the event loop follows a new
engine process: the tick must use what it saw, never fail (it used to raise AssertionError,
whose traceback landed in the user's Logs page)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from cocoon_desktop.hardware.system import SystemSampler


def test_the_engine_changing_in_the_middle_of_a_tick_is_no_error(tmp_path: Path) -> None:
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        sampler = SystemSampler(tmp_path, engine_pid=engine.pid, children_refresh_s=0.0)
        real = sampler._engine
        assert real is not None
        seen_running = real.is_running

        def engine_stops_meanwhile() -> bool:  # the event loop's call, at the worst moment
            sampler.set_engine_pid(None)
            return seen_running()

        real.is_running = engine_stops_meanwhile  # type: ignore[method-assign]
        sample = sampler.sample_engine()
        assert sample is not None and sample.pid == engine.pid and sample.running
        assert sampler.sample_engine() is None  # the next tick sees no engine
        assert sampler.engine_pids() == frozenset()
    finally:
        engine.kill()
        engine.wait()


def test_ticks_and_engine_changes_on_two_threads_never_fail(tmp_path: Path) -> None:
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    sampler = SystemSampler(tmp_path, children_refresh_s=0.0)
    stop = threading.Event()

    def follow() -> None:
        while not stop.is_set():
            sampler.set_engine_pid(engine.pid)
            sampler.set_engine_pid(None)

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    follower = threading.Thread(target=follow)
    follower.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            sampler.sample_engine()
    finally:
        stop.set()
        follower.join()
        sys.setswitchinterval(switching)
        engine.kill()
        engine.wait()
