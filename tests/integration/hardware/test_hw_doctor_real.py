"""The doctor and the GPU report on this real machine: real llama.cpp, real keyring, real
sockets on loopback, the real commands in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cocoon_desktop.doctor.probes import (
    Endpoint,
    probe_endpoints,
    probe_keyring,
    probe_llama_offload,
)

ROOT = Path(__file__).resolve().parents[3]
REAL_KEYRING = bool(os.environ.get("COCOON_TEST_KEYRING_PASSWORD"))  # set by scripts/test.sh


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_llama_build_is_probed_for_offload() -> None:
    supported, detail = probe_llama_offload()
    assert isinstance(supported, bool)
    assert "llama-cpp-python 0.3.36" in detail
    assert ("GPU offload" in detail) is supported


def test_endpoints_are_tried_at_once(listening_port: int, closed_port: int) -> None:
    open_one = Endpoint("proxy", "127.0.0.1", listening_port)
    closed_one = Endpoint("liteserver", "127.0.0.1", closed_port)
    reachable, refused = probe_endpoints((open_one, closed_one), timeout_s=2)
    assert reachable.reachable and reachable.latency_ms is not None
    assert not refused.reachable and "refused" in (refused.error or "").lower()


@pytest.mark.skipif(not REAL_KEYRING, reason="needs scripts/test.sh's unlocked gnome-keyring")
@pytest.mark.keyring
def test_the_real_secret_service_is_usable() -> None:
    facts = probe_keyring()
    assert facts.usable, facts.detail
    assert "SecretService" in facts.backend


def run_cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COCOON_HOME": str(home)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_doctor_command_json_and_bundle(tmp_path: Path, listening_port: int) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text(
        "INFO worker: payout to UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m\n")
    result = run_cli(["-m", "cocoon_desktop", "doctor", "--json", "--timeout", "2",
                      "--proxy", f"127.0.0.1:{listening_port}",
                      "--bundle", str(tmp_path / "bundle.zip")], tmp_path)
    report = json.loads(result.stdout)
    problems = [c for c in report["checks"] if c["status"] == "problem"]
    assert result.returncode == (1 if problems else 0), result.stderr
    keyring_usable = report["facts"]["keyring"]["usable"]
    expected = {"test-networks", "cocoon-mainnet"} if keyring_usable else {"local-chat-only"}
    assert report["verdict"]["tier"] in expected
    proxy = report["facts"]["endpoints"][0]
    assert proxy["reachable"] and proxy["endpoint"]["port"] == listening_port
    assert "Support bundle saved" in result.stderr
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        log = bundle.read("logs/app.log").decode()
    assert "UQAuz1…3B-m" in log and "HealMIVeFq0" not in log


def test_doctor_command_rejects_bad_input(tmp_path: Path) -> None:
    bad_address = run_cli(["-m", "cocoon_desktop", "doctor", "--proxy", "nowhere"], tmp_path)
    assert bad_address.returncode == 2 and "HOST:PORT" in bad_address.stderr
    missing = run_cli(["-m", "cocoon_desktop", "doctor", "--ton-config",
                       str(tmp_path / "none.json")], tmp_path)
    assert missing.returncode == 2 and "TON global config" in missing.stderr


def test_gpu_report_command(tmp_path: Path) -> None:
    result = run_cli(["-m", "cocoon_desktop.hardware.gpu.report", "--samples", "2",
                      "--interval", "0.1", "--require-gpu"], tmp_path)
    if result.returncode == 0:  # a machine with an NVIDIA GPU and driver
        assert "GPU 0:" in result.stdout and "uuid GPU-" in result.stdout
        assert result.stdout.count("load ") >= 2
    else:
        assert result.returncode == 1, result.stderr
        assert result.stdout.startswith("No GPU monitoring: ")
        assert "What to do:" in result.stdout


def test_doctor_tries_the_proxy_from_the_settings(tmp_path: Path, closed_port: int) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(
        json.dumps({"version": 1, "network_endpoint": f"127.0.0.1:{closed_port}"}))
    result = run_cli(["-m", "cocoon_desktop", "doctor", "--json", "--timeout", "2"], tmp_path)
    report = json.loads(result.stdout)
    (proxy,) = report["facts"]["endpoints"]
    assert proxy["endpoint"]["port"] == closed_port and not proxy["reachable"]
    assert report["verdict"]["tier"] == "local-chat-only"
    assert any("No configured Cocoon proxy answered" in reason
               for reason in report["verdict"]["reasons"])
    assert result.returncode == 1
