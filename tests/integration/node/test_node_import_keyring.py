"""Importing upstream's worker.conf with the real OS keyring: the node wallet key ends up in
the keyring and in no file (worker.conf keeps `[PRIVATE]`), everything else in the rig file."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cocoon_desktop.node.config import node_home
from cocoon_desktop.wallet.manager import NODE_KEY_REF
from cocoon_desktop.wallet.node_key import NodeWalletKey
from cocoon_desktop.wallet.secret_store import SecretStore

ROOT = Path(__file__).resolve().parents[3]
OWNER = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"
WORKER_CONF = """# COCOON Worker Configuration (INI format)
[node]
type = worker
model = Qwen/Qwen3-0.6B
owner_address = {owner}
gpu = 0000:01:00.0
# Required: Static secret to generate the revenue wallet. Keep private!
node_wallet_key = {key}
hf_token = hf_not_a_real_token
ton_config = ton.json
root_contract_address = EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k
instance = 0
worker_coefficient = 1100
"""


def write_conf(folder: Path, key: NodeWalletKey) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ton.json").write_text("{}")
    path = folder / "worker.conf"
    path.write_text(WORKER_CONF.format(owner=OWNER, key=key.to_base64()))
    return path


def import_conf(conf: Path, home: Path, *extra: str, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    environment = env or {**os.environ, "COCOON_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "cocoon_desktop", "serve",
                           "--import-worker-conf", str(conf), *extra], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=120)


def key_forms(key: NodeWalletKey) -> list[bytes]:
    return [key.to_base64().encode(), base64.urlsafe_b64encode(key.seed).rstrip(b"="),
            key.seed.hex().encode(), key.seed]


def files_holding(folder: Path, key: NodeWalletKey) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()
            and any(form in p.read_bytes() for form in key_forms(key))]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A profile of this test's own, with the real session keyring under its service name."""
    folder = tmp_path / "home"
    monkeypatch.setenv("COCOON_HOME", str(folder))
    store = SecretStore(service=node_home(0).keyring_service, prompt_to_unlock=False)
    status = store.status()
    if not status.usable:
        pytest.skip(f"needs the Secret Service keyring (run scripts/test.sh): {status.problem}")
    yield folder
    store.delete(NODE_KEY_REF)


def stored_key() -> str:
    return SecretStore(service=node_home(0).keyring_service,
                       prompt_to_unlock=False).load(NODE_KEY_REF)


@pytest.mark.keyring
def test_the_key_moves_into_the_keyring_and_out_of_every_file(tmp_path: Path, home: Path
                                                              ) -> None:
    key = NodeWalletKey.generate()
    conf = write_conf(tmp_path / "upstream", key)
    rig = tmp_path / "rig.toml"
    result = import_conf(conf, home, "--config", str(rig))
    assert result.returncode == 0, result.stderr
    assert stored_key() == key.to_base64()
    assert files_holding(tmp_path, key) == []  # worker.conf, rig, wallets.json, logs: none
    assert not any(form.decode(errors="ignore") in result.stdout + result.stderr
                   for form in key_forms(key)[:3])
    assert "node_wallet_key = [PRIVATE]" in conf.read_text()
    assert "hf_token = hf_not_a_real_token" in conf.read_text()  # the rest is untouched
    assert "ignored `hf_token`: this app serves local GGUF files" in result.stdout
    assert "Node wallet (payouts are sent from it" in result.stdout
    assert "before serving: `model.name` announces 'Qwen/Qwen3-0.6B'" in result.stdout
    text = rig.read_text()
    assert 'owner_address = "' + OWNER + '"' in text and "coefficient = 1100" in text
    assert 'kind = "mainnet"' in text and 'device = "0000:01:00.0"' in text
    registry = json.loads((home / "data" / "wallets.json").read_text())
    assert registry["node_wallet"]["public_key_hex"] == key.public_key.hex()
    again = import_conf(conf, home, "--config", str(rig))  # the scrubbed file: nothing to move
    assert again.returncode == 0 and "holds no node_wallet_key" in again.stdout
    assert stored_key() == key.to_base64()
    assert len(list(tmp_path.glob("rig.toml.previous-*"))) == 1  # the first rig file kept


@pytest.mark.keyring
def test_keep_worker_conf_leaves_the_file_alone(tmp_path: Path, home: Path) -> None:
    key = NodeWalletKey.generate()
    conf = write_conf(tmp_path / "upstream", key)
    before = conf.read_text()
    result = import_conf(conf, home, "--keep-worker-conf", "--config", str(tmp_path / "r.toml"))
    assert result.returncode == 0, result.stderr
    assert conf.read_text() == before and stored_key() == key.to_base64()


@pytest.mark.keyring
def test_a_different_key_in_the_keyring_is_never_replaced(tmp_path: Path, home: Path) -> None:
    first, second = NodeWalletKey.generate(), NodeWalletKey.generate()
    assert import_conf(write_conf(tmp_path / "a", first), home, "--config",
                       str(tmp_path / "a.toml")).returncode == 0
    conf = write_conf(tmp_path / "b", second)
    result = import_conf(conf, home, "--config", str(tmp_path / "b.toml"))
    assert result.returncode == 3
    assert "A different node wallet key is already in use" in result.stderr
    assert "worker.conf was left as it is" in result.stderr
    assert second.to_base64() in conf.read_text() and stored_key() == first.to_base64()
    assert not (tmp_path / "b.toml").exists()


def test_without_a_keyring_nothing_is_moved(tmp_path: Path) -> None:
    key = NodeWalletKey.generate()
    conf = write_conf(tmp_path / "upstream", key)
    before = conf.read_text()
    env = {**os.environ, "COCOON_HOME": str(tmp_path / "home"),
           "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}
    result = import_conf(conf, tmp_path / "home", "--config", str(tmp_path / "rig.toml"),
                         env=env)
    assert result.returncode == 3
    assert "no OS keyring is reachable" in result.stderr and "dbus-run-session" in result.stderr
    assert conf.read_text() == before and not (tmp_path / "rig.toml").exists()
    assert files_holding(tmp_path, key) == [conf]  # still only where the user put it
