"""`cocoon-desktop serve` refuses bad input with exit code 2 and names each problem; `--check`
shows what would run (each case a real process, as systemd would start it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def serve(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COCOON_HOME": str(home)}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.run([sys.executable, "-m", "cocoon_desktop", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)


def test_a_bad_rig_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text("[worker]\ncoefficent = 1500\n")
    result = serve("serve", "--config", str(rig), home=tmp_path)
    assert result.returncode == 2
    assert "`worker.coefficent` is not a rig setting (did you mean `worker.coefficient`?)" \
        in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was started or written


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert serve("serve", "--instance", "1000", home=tmp_path).returncode == 2
    missing = serve("serve", "--import-worker-conf", str(tmp_path / "nope.conf"), home=tmp_path)
    assert missing.returncode == 2 and "cannot be read" in missing.stderr


def test_check_shows_the_instance_without_starting_it(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text('home = "h-{instance}"\n[stats]\nlisten = "127.0.0.1"\n')
    result = serve("--headless", "--config", str(rig), "--instance", "2", "--check",
                   home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "instance 2 on devnet" in result.stdout
    assert f"data folder:   {tmp_path / 'h-2' / 'data'}" in result.stdout
    assert "stats:         127.0.0.1:12020" in result.stdout
    assert not (tmp_path / "h-2" / "data" / "node.lock").exists()


def test_without_a_rig_file_the_desktop_settings_are_served(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text('{"coefficient": 1700, '
                                                       '"network": "devnet"}')
    result = serve("serve", "--check", home=tmp_path)
    assert result.returncode == 0 and f"data folder:   {tmp_path / 'data'}" in result.stdout
    (tmp_path / "config" / "rig.toml").write_text("instance = 0\n[stats]\nport = 12999\n")
    assert "127.0.0.1:12999" in serve("serve", "--check", home=tmp_path).stdout
