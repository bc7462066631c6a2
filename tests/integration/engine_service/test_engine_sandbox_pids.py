"""The engine's sandbox, for real (bubblewrap and unshare on this machine): the engine cannot
see or signal the host's processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cocoon_desktop.engine.host.sandbox import (
    SandboxPlan,
    _probe_bwrap,
    _probe_unshare,
    runtime_read_only_paths,
)
from cocoon_desktop.engine.process.isolation import observed_sandbox

PROBE = """
import json, os, signal, sys
from cocoon_desktop.engine.process.isolation import _visible_processes
try:
    os.kill(int(sys.argv[1]), signal.SIGTERM)
    signalled = True
except (ProcessLookupError, PermissionError):
    signalled = False
print(json.dumps({"processes": _visible_processes(), "signalled": signalled,
                  "home": os.listdir(os.path.expanduser("~")) if os.path.isdir(
                      os.path.expanduser("~")) else []}))
"""


def run_inside(kind: str, victim: int, tmp_path: Path) -> dict:
    plan = SandboxPlan(kind, "test")  # type: ignore[arg-type]
    argv = plan.wrap([sys.executable, "-c", PROBE, str(victim)],
                     read_only_paths=runtime_read_only_paths(tmp_path / "model.gguf"),
                     home=os.path.expanduser("~"))
    env = {"PATH": os.defpath, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["bwrap", "unshare"])
def test_the_engine_cannot_see_or_signal_host_processes(kind: str, tmp_path: Path) -> None:
    if (kind == "bwrap" and _probe_bwrap()) or (kind == "unshare" and _probe_unshare()):
        pytest.skip(f"{kind} cannot run here: {_probe_bwrap() or _probe_unshare()}")
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        seen = run_inside(kind, victim.pid, tmp_path)
        assert seen["processes"] <= 4, seen  # its own init, itself
        assert seen["signalled"] is False and victim.poll() is None  # the host's still runs
    finally:
        victim.kill()
        victim.wait()
    host = sum(1 for p in os.listdir("/proc") if p.isdigit())
    assert host > seen["processes"]


def test_without_a_pid_namespace_the_engine_withdraws_the_claim() -> None:
    claimed = SandboxPlan("bwrap", "x").status
    assert observed_sandbox(claimed).pids_isolated is False  # this process is not sandboxed
