"""`cocoon-desktop-cli devnet` as a user runs it: banner, root config, endpoint, clean Ctrl+C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cocoon_desktop.network.root_config import from_fake_ton_json


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_devnet_command_says_it_is_a_test_network_and_stops_cleanly(tmp_path: Path) -> None:
    root_file = tmp_path / "root.json"
    ports = [str(free_port()) for _ in range(3)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cocoon_desktop", "devnet", "--workers-port", ports[0],
         "--clients-port", ports[1], "--http-port", ports[2], "--root-config-out",
         str(root_file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if "stop with Ctrl+C" in line or not line:
                break
        text = "".join(lines)
        assert "TEST network" in text and "no real TON moves" in text
        assert f"127.0.0.1:{ports[2]}/v1/chat/completions" in text
        root = from_fake_ton_json(json.loads(root_file.read_text()))
        assert root.is_test and str(root.registered_proxies[0].for_workers).endswith(ports[0])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(30) == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the devnet did not stop on Ctrl+C")


def test_a_bad_policy_is_refused_with_a_clear_message() -> None:
    out = subprocess.run([sys.executable, "-m", "cocoon_desktop", "devnet", "--worker-policy",
                          "sgx"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown attestation policy 'sgx'" in out.stderr


def test_an_unwritable_root_config_path_is_refused_with_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "root.json"
    out = subprocess.run([sys.executable, "-m", "cocoon_desktop", "devnet", "--workers-port", "0",
                          "--clients-port", "0", "--http-port", "0", "--root-config-out",
                          str(missing)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"cannot write the root config to {missing}" in out.stderr
    assert "Choose a writable path with --root-config-out" in out.stderr
    assert "Traceback" not in out.stderr
