"""`cocoon-desktop serve` as a real process, the way systemd runs it: SIGTERM drains and exits 0;
two instances on one machine keep apart; no keyring on a paying network exits 3 saying what to
do."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    DevnetSettings,
    devnet_root_config,
    fake_ton_json,
)
from cocoon_desktop.network.root_config import friendly
from tests.integration.node.node_harness import (
    COUNTING,
    Served,
    complete,
    serve_env,
    served_ok,
    stats,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]
DEVNET_RIG = """home = "{home}"
[worker]
max_active_requests = 2
[model]
context_tokens = 1024
threads = 2
[stats]
{port}
"""


@pytest.fixture
def processes() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


async def test_sigterm_drains_the_running_job_and_exits_0(tmp_path: Path,
                                                          processes: list[Served]) -> None:
    home = tmp_path / "home"
    rig = tmp_path / "rig.toml"
    rig.write_text(DEVNET_RIG.format(home=home, port="port = 0"))
    served = Served(rig, None, home)
    processes.append(served)
    run = await served.serving()
    engine_tree = psutil.Process(served.process.pid).children(recursive=True)
    assert engine_tree, "the engine runs in its own process"
    model = (await stats(run, "/jsonstats"))["localconfig"]["model"]
    started = asyncio.Event()
    job = asyncio.ensure_future(complete(run["devnet_client_url"], run["devnet_client_token"],
                                         model, COUNTING, max_tokens=120, started=started))
    await asyncio.wait_for(started.wait(), 60)
    served.process.send_signal(signal.SIGTERM)
    assert served_ok(await job)  # finished although the service was asked to stop
    assert await asyncio.to_thread(served.stop) == 0, served.log
    assert "SIGTERM: finishing running jobs, then stopping" in served.log
    assert "some running jobs were cut off" not in served.log
    assert not served.run_file.exists()
    assert not [p for p in engine_tree if p.is_running() and p.status() != "zombie"]
    with Ledger.open(home / "data" / "ledger-devnet.sqlite3") as ledger:
        [request] = ledger.requests()
    assert request.succeeded and request.tokens.completion_tokens == 120  # the whole answer


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_two_instances_keep_their_ports_folders_and_tokens_apart(
        tmp_path: Path, processes: list[Served]) -> None:
    if not (_free(12070) and _free(12080)):
        pytest.skip("ports 12070/12080 (instances 7 and 8) are in use on this machine")
    rig = tmp_path / "rig.toml"  # one rig file for both, as the systemd template uses it
    rig.write_text(DEVNET_RIG.format(home=tmp_path / "rig-{instance}", port=""))
    seven = Served(rig, 7, tmp_path / "rig-7")
    eight = Served(rig, 8, tmp_path / "rig-8")
    processes += [seven, eight]
    run7, run8 = await seven.serving(), await eight.serving()
    assert (run7["stats_url"], run8["stats_url"]) == ("http://127.0.0.1:12070",
                                                      "http://127.0.0.1:12080")
    assert (run7["data_dir"], run8["data_dir"]) == (str(tmp_path / "rig-7" / "data"),
                                                     str(tmp_path / "rig-8" / "data"))
    assert run7["stats_token"] != run8["stats_token"]
    assert (await stats(run7, "/nodestatus"))["instance"] == 7
    assert (await stats(run8, "/nodestatus"))["instance"] == 8
    assert await stats(run7, "/jsonstats", token=run8["stats_token"]) == {"http_status": 401}
    checks = [subprocess.run([sys.executable, "-m", "cocoon_desktop", "serve", "--config",
                              str(rig), "--instance", n, "--check"], capture_output=True,
                             text=True, cwd=ROOT, env=serve_env(tmp_path)).stdout
              for n in ("7", "8")]
    services = {line.split("service ", 1)[1] for text in checks for line in text.splitlines()
                if line.strip().startswith("keyring:")}
    assert services == {f"'cocoon-desktop@{tmp_path / 'rig-7'}'",
                        f"'cocoon-desktop@{tmp_path / 'rig-8'}'"}
    assert [seven.stop(), eight.stop()] == [0, 0], seven.log + eight.log
    for n in (7, 8):
        assert (tmp_path / f"rig-{n}" / "data" / "ledger-devnet.sqlite3").exists()
        assert (tmp_path / f"rig-{n}" / "logs" / "serve.log").exists()


def test_no_keyring_on_a_paying_network_exits_3_saying_what_to_do(tmp_path: Path) -> None:
    root_file = tmp_path / "root.json"
    root_file.write_text(json.dumps(fake_ton_json(devnet_root_config(DevnetSettings()))))
    rig = tmp_path / "rig.toml"
    rig.write_text(f"""home = "{tmp_path / 'home'}"
[network]
kind = "testnet"
root_config_file = "root.json"
proxies = ["127.0.0.1:9"]
[worker]
owner_address = "{friendly(DEVNET_WORKER_OWNER)}"
[stats]
port = 0
""")
    env = {**serve_env(tmp_path), "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}
    result = subprocess.run([sys.executable, "-m", "cocoon_desktop", "serve", "--config",
                             str(rig)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 3, result.stderr
    assert "The node wallet key cannot be read: no OS keyring is reachable." in result.stderr
    assert "dbus-run-session" in result.stderr and "systemctl --user" in result.stderr
    assert "engine ready" not in result.stderr  # it stopped before loading anything
    assert not (tmp_path / "home" / "data" / "node-run.json").exists()
