"""One node per folder (a real second process is refused), the private run file, the token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cocoon_desktop.node.runtime import HomeInUse, HomeLock, read_run_file, write_run_file
from cocoon_desktop.node.stats_surface import StatsTokenError, load_stats_token

TRY_LOCK = """
import sys
from pathlib import Path
from cocoon_desktop.node.runtime import HomeInUse, HomeLock
try:
    HomeLock(Path(sys.argv[1])).acquire()
except HomeInUse as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_second_process_cannot_take_the_folder(tmp_path: Path) -> None:
    lock = HomeLock(tmp_path / "data" / "node.lock")
    lock.acquire()
    other = subprocess.run([sys.executable, "-c", TRY_LOCK, str(lock.path)],
                           capture_output=True, text=True, cwd=Path(__file__).parents[3])
    assert other.returncode == 3
    assert f"Another node (pid {__import__('os').getpid()})" in other.stdout
    lock.release()
    again = subprocess.run([sys.executable, "-c", TRY_LOCK, str(lock.path)],
                           capture_output=True, text=True, cwd=Path(__file__).parents[3])
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_lock_is_not_taken_twice_in_one_process(tmp_path: Path) -> None:
    first = HomeLock(tmp_path / "node.lock")
    first.acquire()
    with pytest.raises(HomeInUse):
        HomeLock(tmp_path / "node.lock").acquire()
    first.release()


def test_the_run_file_is_private_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "data" / "node-run.json"
    write_run_file(path, {"stats_url": "http://127.0.0.1:12000", "stats_token": "t" * 20})
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_run_file(path) == json.loads(path.read_text())
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    path.write_text("[1, 2]")
    assert read_run_file(path) is None and read_run_file(tmp_path / "none.json") is None


def test_stats_tokens(tmp_path: Path) -> None:
    assert len(load_stats_token(None)) >= 32 and load_stats_token(None) != load_stats_token(None)
    file = tmp_path / "token"
    file.write_text("  " + "a1" * 16 + "\n")
    assert load_stats_token(file) == "a1" * 16
    file.write_text("short")
    with pytest.raises(StatsTokenError, match="too short"):
        load_stats_token(file)
    with pytest.raises(StatsTokenError, match="cannot be read"):
        load_stats_token(tmp_path / "missing")


KILLED_HOLDER = """
import os, signal, sys
from pathlib import Path
from cocoon_desktop.node.runtime import HomeLock, write_run_file
run = Path(sys.argv[1]).with_name("node-run.json")
HomeLock(Path(sys.argv[1]), leftovers=(run,)).acquire()
write_run_file(run, {"pid": os.getpid(), "stats_token": "t" * 20})
run.with_name(".node-run.json.999.tmp").write_text("{")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_run_file_left_by_a_killed_node_is_cleared_at_the_next_start(tmp_path: Path) -> None:
    lock_path = tmp_path / "data" / "node.lock"
    run = lock_path.with_name("node-run.json")
    killed = subprocess.run([sys.executable, "-c", KILLED_HOLDER, str(lock_path)],
                            capture_output=True, text=True, cwd=Path(__file__).parents[3])
    assert killed.returncode == -9 and run.exists()  # SIGKILL: no chance to clean up
    lock = HomeLock(lock_path, leftovers=(run,))
    lock.acquire()
    assert not run.exists() and list(run.parent.glob(".node-run.json.*")) == []
    lock.release()
