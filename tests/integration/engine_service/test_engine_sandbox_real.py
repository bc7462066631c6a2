"""The engine's isolation, checked on the real process: network, files, environment."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cocoon_desktop.engine.host.client import EngineClient
from cocoon_desktop.engine.host.sandbox import (
    ENV_ALLOWED,
    SandboxMode,
    plan_sandbox,
    runtime_read_only_paths,
    scrubbed_environment,
)
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from tests.integration.engine_service.conftest import (
    SERVED,
    bundled_model_path,
    engine_settings,
    started,
)

pytestmark = pytest.mark.engine
SECRETS = {
    "COCOON_WALLET_MNEMONIC": "abandon ability able about above absent absorb abstract absurd "
                              "abuse access accident",
    "TON_NODE_WALLET_KEY": "9f" * 32,
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/0/bus",
    "GNOME_KEYRING_CONTROL": "/run/user/0/keyring",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock",
}
CONNECT = "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 3)"


def needs(mode: SandboxMode) -> None:
    plan = plan_sandbox(mode)
    if plan.kind != mode:
        pytest.skip(f"{mode} is not usable here: {plan.detail}")


@pytest.fixture
def app_listener() -> Iterator[int]:
    """A listener in the app's network namespace: what a sandboxed engine must not reach."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@contextlib.asynccontextmanager
async def engine(mode: SandboxMode) -> AsyncIterator[EngineSupervisor]:
    supervisor = EngineSupervisor(engine_settings(), sandbox_mode=mode)
    try:
        await started(supervisor)
        yield supervisor
    finally:
        await supervisor.stop(drain_timeout_s=0)


def net_namespace(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def interfaces(pid: int) -> list[str]:
    lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":")[0].strip() for line in lines)


async def serves(supervisor: EngineSupervisor) -> bool:
    assert supervisor.endpoint is not None
    async with EngineClient(supervisor.endpoint) as client:
        answer = await client.complete({"model": SERVED, "prompt": "Hi", "max_tokens": 2})
    return answer["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("mode", ["bwrap", "unshare"])
async def test_the_engine_has_no_network_but_serves_on_its_socket(
        mode: SandboxMode, app_listener: int) -> None:
    needs(mode)
    async with engine(mode) as supervisor:
        pid = supervisor.status.pid
        stats = supervisor.status.stats
        assert pid is not None and stats is not None
        assert stats.sandbox.kind == mode and stats.sandbox.network_isolated
        # the engine confirmed its own pid namespace from inside, and says what it is worth
        assert stats.sandbox.pids_isolated
        assert stats.sandbox.level == {
            "bwrap": "bubblewrap: own network, pids, read-only view",
            "unshare": "unshare: own network, pids; the engine can read your files"}[mode]
        assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert net_namespace(pid) != net_namespace("self")
        assert interfaces(pid) == ["lo"]
        assert await serves(supervisor)
        if os.geteuid() == 0 and shutil.which("nsenter"):
            # From inside the engine's own namespace, the app's loopback listener is unreachable.
            inside = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable,
                                     "-c", CONNECT, str(app_listener)], capture_output=True)
            assert inside.returncode != 0
            assert b"Connection refused" in inside.stderr or b"unreachable" in inside.stderr
        outside = subprocess.run([sys.executable, "-c", CONNECT, str(app_listener)])
        assert outside.returncode == 0  # the same probe works from the app's namespace


@pytest.mark.parametrize("mode", ["bwrap", "unshare"])
def test_a_process_in_the_sandbox_cannot_connect_out(mode: SandboxMode,
                                                     app_listener: int) -> None:
    needs(mode)
    plan = plan_sandbox(mode)
    command = plan.wrap([sys.executable, "-c", CONNECT, str(app_listener)],
                        read_only_paths=runtime_read_only_paths(bundled_model_path()),
                        home=os.environ.get("HOME"))
    result = subprocess.run(command, capture_output=True, env=scrubbed_environment(os.environ))
    assert result.returncode != 0
    assert b"ConnectionRefusedError" in result.stderr or b"unreachable" in result.stderr


async def test_bwrap_shows_the_engine_only_the_runtime_and_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs("bwrap")
    home = tmp_path / "home"
    (home / ".local/share/keyrings").mkdir(parents=True)
    (home / ".local/share/keyrings/login.keyring").write_text("wallet secrets")
    (tmp_path / "notes.txt").write_text("private")
    monkeypatch.setenv("HOME", str(home))
    async with engine("bwrap") as supervisor:
        root = Path(f"/proc/{supervisor.status.pid}/root")  # the engine's own view of files
        assert (root / str(bundled_model_path()).lstrip("/")).is_file()
        assert (root / "usr/bin").is_dir()
        assert not (root / str(home).lstrip("/") / ".local").exists()
        assert not (root / str(tmp_path).lstrip("/") / "notes.txt").exists()
        assert not (root / "etc/shadow").exists()
        assert not (root / "run/user").exists()  # no D-Bus session, no keyring daemon


async def test_the_engine_environment_holds_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    async with engine("auto") as supervisor:
        pid, endpoint = supervisor.status.pid, supervisor.endpoint
        assert pid is not None and endpoint is not None
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
        set_by_launcher = {"PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH",
                           "PWD"}  # bubblewrap sets PWD for its --chdir
        assert names <= ENV_ALLOWED | set_by_launcher
        for value in [*SECRETS.values(), endpoint.token]:
            assert value.encode() not in environ
            assert value.encode() not in cmdline
        assert await serves(supervisor)


async def test_without_isolation_the_status_says_so() -> None:
    async with engine("none") as supervisor:
        status = supervisor.status
        assert status.stats is not None
        assert status.stats.sandbox.kind == "none"
        assert not status.stats.sandbox.network_isolated
        assert any("not isolated from the network" in w for w in status.warnings)
        assert await serves(supervisor)


async def test_the_engine_command_refuses_to_run_by_hand() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cocoon_desktop", "engine", "--listen-fd", "0",
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"started by the app" in stderr
