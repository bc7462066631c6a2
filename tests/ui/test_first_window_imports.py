"""The real `cocoon-desktop gui` process shows its first window without importing the heavy
libraries (the chain's lite client, the TVM, llama.cpp's bindings, pyqtgraph and numpy, the GGUF
reader, Intel DCAP, the network stack: aiohttp, cryptography, pyOpenSSL, Cocoon's TL schema, and
the VM's code): they load when first used (the network stack when serving, a chat or a test job
starts; the VM's code when the node serves from it). The live charts still
come, just after the window, so pyqtgraph is imported then. Launch time itself is measured in
bench/app.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cocoon_desktop.core.paths import app_paths
from cocoon_desktop.settings import AppSettings, save_settings

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pytoniq", "pytvm", "llama_cpp", "pyqtgraph", "numpy", "gguf", "dcap_qvl",
         "aiohttp", "cryptography", "OpenSSL",  # the network stack loads when serving starts
         # Cocoon's TL schema and transport, and the VM's own code (QEMU, the guest's channel):
         # when serving, or the VM, is first used (they came with the node's VM part).
         "cocoon_desktop.network.tl", "cocoon_desktop.network.transport",
         "cocoon_desktop.network.worker", "cocoon_desktop.vm.machine", "cocoon_desktop.vm.host",
         "cocoon_desktop.vm.qemu", "cocoon_desktop.vm.vm_engine")

# Runs the real entry point; at the moment the benchmark takes as the first window (just after
# its first paint) it reports which heavy modules are loaded, and again once the charts are built.
DRIVER = """
import json, os, sys, time
from PySide6.QtCore import QTimer
from cocoon_desktop.cli import main
from cocoon_desktop.ui import app as gui
from cocoon_desktop.ui.charts import after_first_paint

HEAVY = %r

def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)

def report(shell, started):
    machine = shell.windows.dashboard.machine
    deadline = time.monotonic() + 120

    def at_first_window():
        print("first-window " + json.dumps(loaded()), flush=True)
        after_charts()

    def after_charts():
        if not getattr(machine.cpu, "is_drawn", False) and time.monotonic() < deadline:
            QTimer.singleShot(50, after_charts)
            return
        print("charts-built " + json.dumps(loaded()), flush=True)
        os._exit(0)  # what was to be seen is seen; the node may still be opening

    after_first_paint(shell.windows.main, at_first_window)

gui._report_first_window = report
sys.exit(main(["gui", "--report-first-window"]))
"""


def test_the_first_window_imports_no_heavy_library(tmp_path: Path) -> None:
    save_settings(app_paths(tmp_path).settings_file, AppSettings(wizard_completed=True))
    env = {**os.environ, "COCOON_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", DRIVER % (HEAVY,)], env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = dict(line.split(" ", 1) for line in done.stdout.splitlines()
                   if line.startswith(("first-window ", "charts-built ")))
    assert json.loads(reports["first-window"]) == []
    assert "pyqtgraph" in json.loads(reports["charts-built"])  # the charts came after
