"""`cocoon-desktop` (the `gui` command): the desktop app's entry point and its one event loop.

The Qt application, the qasync event loop, the single-instance guard and the error reporter
are set up here and nowhere else; `AppShell` builds everything the user sees.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time

from cocoon_desktop.core.logs import setup_logging
from cocoon_desktop.core.paths import app_paths

log = logging.getLogger(__name__)
APP_ID = "org.cocoon.desktop"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Start the Cocoon Desktop app."
    parser.add_argument("--minimized", action="store_true",
                        help="start in the tray (used when starting at login)")
    parser.add_argument("--report-first-window", action="store_true",
                        help=argparse.SUPPRESS)  # bench/app.py: print when the window shows


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    paths = app_paths().ensure()
    log_file = setup_logging(paths.log_dir)
    # Qt is imported here only, so the CLI's other commands never load it.
    import qasync
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from cocoon_desktop.core import tasks
    from cocoon_desktop.resources import resource_path
    from cocoon_desktop.ui.errors import ErrorReporter
    from cocoon_desktop.ui.shell import AppShell
    from cocoon_desktop.ui.single_instance import (
        SingleInstance,
        notify_running_instance,
        server_name,
    )

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Cocoon Desktop")
    app.setOrganizationName("Cocoon")
    app.setDesktopFileName(APP_ID)
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(QIcon(str(resource_path("app.svg"))))
    name = server_name(str(paths.data_dir))
    if notify_running_instance(name):
        log.info("Cocoon Desktop is already running: its window was raised")
        return 0
    instance = SingleInstance(name)
    instance.listen()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = ErrorReporter()
    reporter.install()
    reporter.install_on_loop(loop)
    shell = AppShell(app, paths, log_file=log_file)
    instance.activation_requested.connect(shell.windows.show_main)
    signal.signal(signal.SIGINT, lambda *_: shell.request_quit())
    signal.signal(signal.SIGTERM, lambda *_: shell.request_quit())
    if args.report_first_window:
        _report_first_window(shell, started)
    try:
        with loop:
            loop.run_until_complete(shell.run_until_quit(minimized=args.minimized))
            loop.run_until_complete(tasks.APP_TASKS.cancel_all(timeout_s=5.0))
    finally:
        instance.close()
        tasks.shutdown_pool()
    return 0


def _report_first_window(shell: object, started: float) -> None:
    """Print the time from launch to the first painted window, then to the dashboard's charts
    drawn (they are built just after the first paint), for bench/app.py."""
    from PySide6.QtCore import QTimer

    from cocoon_desktop.ui.charts import after_first_paint

    chart = shell.windows.dashboard.machine.cpu  # type: ignore[attr-defined]

    def report() -> None:
        print(f"first-window-s {time.perf_counter() - started:.3f}", flush=True)
        report_charts()

    def report_charts() -> None:
        if chart.is_drawn:
            print(f"charts-drawn-s {time.perf_counter() - started:.3f}", flush=True)
        else:
            QTimer.singleShot(10, report_charts)

    after_first_paint(shell.windows.main, report)  # type: ignore[attr-defined]
