"""Real parts for the wallet integration tests: the TVM emulator as a tiny chain, loopback
sockets, and private D-Bus sessions with their own gnome-keyring (for the locked case)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.emulated_chain import EmulatedChain
from tests.helpers.ton_vectors import ton_vectors  # noqa: F401  (a fixture for this folder)


def pytest_configure(config: pytest.Config) -> None:
    # pytvm imports pkg_resources (setuptools<81 is pinned for it); its notice is not ours.
    config.addinivalue_line("filterwarnings", "ignore:pkg_resources is deprecated:UserWarning")


@pytest.fixture
def ledger() -> EmulatedChain:
    """The accounts of an emulated chain (each test its own)."""
    return EmulatedChain()


@pytest.fixture
def private_secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A D-Bus session bus and gnome-keyring of our own, with no display (so no unlock
    prompt can appear); the process's D-Bus address points at it for the test."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/bootstrap.sh test installs it)")
    home = tmp_path / "keyring-home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"), "XDG_RUNTIME_DIR": str(home / "run"),
        "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
    }
    (home / "run").mkdir(mode=0o700)
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, env=env, text=True,
    )
    address = bus.stdout.readline().strip() if bus.stdout else ""
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    assert daemon.stdin is not None
    daemon.stdin.write(b"private-test-password")
    daemon.stdin.close()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    monkeypatch.delenv("DISPLAY", raising=False)
    _wait_for_secret_service()
    try:
        yield address
    finally:
        for process in (daemon, bus):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_secret_service() -> None:
    """Wait until our gnome-keyring owns the Secret Service name (asking for the name before
    that would let D-Bus activate a second, locked daemon), then for its unlocked collection."""
    import secretstorage
    from jeepney import DBus
    from jeepney.io.blocking import open_dbus_connection

    deadline = time.monotonic() + 30  # generous: the machine may be busy
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with open_dbus_connection(bus="SESSION") as bus:
                reply = bus.send_and_get_reply(DBus().NameHasOwner("org.freedesktop.secrets"))
            if reply.body[0]:
                connection = secretstorage.dbus_init()
                try:
                    if not secretstorage.get_default_collection(connection).is_locked():
                        return
                finally:
                    connection.close()
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    pytest.fail(f"the private gnome-keyring did not come up unlocked ({last})")
