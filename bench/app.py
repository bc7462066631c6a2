"""The desktop app's own costs, each beside a bare PySide6 window measured in the same run.

    .venv/bin/python bench/app.py [--idle-s 30] [--launches 3] [--settle-s 5]

- launch to first window: process start until the main window is shown (median of launches),
  and until the dashboard's charts are drawn (they are built just after the first paint);
- idle CPU: % of one core the running app uses over `--idle-s` seconds, `--settle-s` seconds
  after its last launch (300: the live charts' 5 minutes full, as in a long-running app),
  monitoring at 1 Hz, no model loaded (the engine is not started while nobody serves or chats);
- memory: resident set size of the idle app, no model loaded;
- event-loop lag: how late a 10 ms timer fires (p99) while the chat window streams an answer
  from the real engine at full speed; the bare window's figure is the same timer, idle.
Targets: launch <= 1.0 s and idle < 0.3 % of a core (issue 17), < 250 MB, p99 < 30 ms (issue 7).
Runs offscreen unless DISPLAY is set. The machine may be shared: figures are as noisy as it is,
so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BARE = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
start = float(sys.argv[1])
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(QLabel("bare PySide6 window"))
window.resize(1280, 820)
window.show()
def report():
    print(f"first-window-s {time.perf_counter() - start:.3f}", flush=True)
QTimer.singleShot(0, report)
app.exec()
"""


def environment(home: Path) -> dict[str, str]:
    env = {**os.environ, "COCOON_HOME": str(home), "PYTHONPATH": str(ROOT)}
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def prepare_home() -> Path:
    from cocoon_desktop.core.paths import app_paths
    from cocoon_desktop.settings import AppSettings, save_settings

    home = Path(tempfile.mkdtemp(prefix="cocoon-bench-"))
    save_settings(app_paths(home).settings_file, AppSettings(wizard_completed=True))
    return home


def launch(command: list[str], env: dict[str, str],
           charts: bool = False) -> tuple[subprocess.Popen[str], float, float, float]:
    """Start a GUI process; return it, the seconds until it reported its first window, (with
    `charts`, the app) until its dashboard's charts were drawn, and the CPU seconds it had used
    at its first window (less sensitive than wall time to a machine shared with other work)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    first = cpu = None
    for line in process.stdout:
        if line.startswith("first-window-s"):
            first = time.perf_counter() - started
            times = psutil.Process(process.pid).cpu_times()
            cpu = times.user + times.system
            if not charts:
                return process, first, first, cpu
        elif line.startswith("charts-drawn-s") and first is not None and cpu is not None:
            return process, first, time.perf_counter() - started, cpu
    raise RuntimeError(f"{command[0]} exited before showing a window")


def idle_figures(process: subprocess.Popen[str], idle_s: float,
                 settle_s: float) -> tuple[float, float]:
    """(% of one core over idle_s, RSS in MB) of a running process, after it settled."""
    proc = psutil.Process(process.pid)
    time.sleep(settle_s)
    before = proc.cpu_times()
    time.sleep(idle_s)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / idle_s, proc.memory_info().rss / 1e6


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def measure_process(which: str, args: argparse.Namespace) -> dict[str, float]:
    home = prepare_home()
    env = environment(home)
    if which == "app":
        command = [sys.executable, "-m", "cocoon_desktop", "gui", "--report-first-window"]
    else:
        command = [sys.executable, "-c", BARE, str(time.perf_counter())]
    launches, drawn, cpu_s = [], [], []
    for i in range(args.launches):
        process, seconds, charts_s, launch_cpu_s = launch(command, env, charts=which == "app")
        launches.append(seconds)
        drawn.append(charts_s)
        cpu_s.append(launch_cpu_s)
        if i < args.launches - 1:
            stop(process)
    cpu, rss = idle_figures(process, args.idle_s, args.settle_s)
    stop(process)
    return {"launch_s": statistics.median(launches), "charts_s": statistics.median(drawn),
            "launch_cpu_s": statistics.median(cpu_s),
            "idle_cpu_percent": cpu, "rss_mb": rss}


def measure_lag(which: str) -> dict[str, float]:
    """Run in a child: the lag probe (and, for the app, a streamed chat answer)."""
    completed = subprocess.run([sys.executable, __file__, "--lag-child", which],
                               env=environment(prepare_home()), capture_output=True, text=True,
                               timeout=900)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def lag_child(which: str) -> int:
    import asyncio

    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    lags: list[float] = []
    interval_s = 0.010
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, now - last[0] - interval_s) * 1000)
        last[0] = now

    timer = QTimer()
    timer.setInterval(int(interval_s * 1000))
    timer.timeout.connect(tick)
    original_start = timer.start

    def start() -> None:  # measure from the moment the probe starts
        last[0] = time.perf_counter()
        original_start()

    timer.start = start  # type: ignore[method-assign]

    async def run() -> dict[str, float]:
        if which == "bare":
            window = QLabel("bare PySide6 window")
            window.show()
            timer.start()
            await asyncio.sleep(10)
            return {"tokens": 0}
        return await stream_in_app(app, timer)

    with loop:
        extra = loop.run_until_complete(run())
    p99 = statistics.quantiles(lags, n=100)[98] if len(lags) >= 100 else max(lags, default=0)
    print(json.dumps({"lag_p99_ms": p99, "lag_max_ms": max(lags, default=0), **extra}))
    return 0


async def stream_in_app(app: Any, timer: Any) -> dict[str, float]:
    from cocoon_desktop.core.paths import app_paths
    from cocoon_desktop.ui.shell import AppShell
    from cocoon_desktop.ui_logic.chat import GenerationParams

    shell = AppShell(app, app_paths().ensure())
    await shell.start()
    await shell.engine.ensure_running()
    shell.windows.show_chat()
    shell.chat.set_params(GenerationParams(0.7, 0.95, 400))
    tokens: list[str] = []
    shell.chat.delta_received.connect(tokens.append)
    timer.start()  # measure only while the answer streams
    started = time.perf_counter()
    shell.chat.send("Write a long story about a lighthouse keeper and a storm.")
    await shell.chat.wait_idle()
    elapsed = time.perf_counter() - started
    timer.stop()
    await shell.shutdown(10)
    return {"tokens": len(tokens), "tokens_per_s": len(tokens) / elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--settle-s", type=float, default=5.0)
    parser.add_argument("--lag-child", choices=("app", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lag_child:
        return lag_child(args.lag_child)
    load_before = os.getloadavg()
    results = {which: measure_process(which, args) for which in ("app", "bare")}
    for which in ("app", "bare"):
        results[which].update(measure_lag(which))
    rows = [
        ("launch to first window (s)", "launch_s", "{:.2f}", "<= 1.0 s"),
        ("launch to charts drawn (s)", "charts_s", "{:.2f}", ""),
        ("CPU used to first window (s)", "launch_cpu_s", "{:.2f}", ""),
        (f"idle CPU {args.idle_s:.0f} s after {args.settle_s:.0f} s (% core)",
         "idle_cpu_percent", "{:.2f}", "< 0.3 %"),
        ("memory, no model (RSS MB)", "rss_mb", "{:.0f}", "< 250 MB"),
        ("event-loop lag p99 (ms)", "lag_p99_ms", "{:.1f}", "< 30 ms"),
    ]
    print(f"{'metric':<40}{'app':>10}{'bare PySide6':>14}   target")
    for label, key, fmt, target in rows:
        app, bare = results["app"][key], results["bare"][key]
        print(f"{label:<40}{fmt.format(app):>10}{fmt.format(bare):>14}   {target}")
    print(f"(lag measured while the chat streamed {results['app']['tokens']:.0f} tokens at "
          f"{results['app'].get('tokens_per_s', 0):.1f} tokens/s; the bare window idles)")
    print(f"load average (1 min) {load_before[0]:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end; {os.cpu_count()} CPUs; "
          f"{'display ' + os.environ['DISPLAY'] if os.environ.get('DISPLAY') else 'offscreen'}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
