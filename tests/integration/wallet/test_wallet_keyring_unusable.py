"""The keyring when it cannot serve: locked (a private gnome-keyring, locked through
secretstorage), absent (no D-Bus session), and keyring's `fail` backend. Each is an explicit
error with what to do, and the wallet loses nothing and writes no secret elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
import secretstorage

from cocoon_desktop.wallet.manager import NODE_KEY_REF, WalletManager
from cocoon_desktop.wallet.mnemonic import create_mnemonic
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import (
    SecretStore,
    SecretStoreLocked,
    SecretStoreUnavailable,
)

pytestmark = pytest.mark.keyring


@pytest.fixture
def restore_keyring_choice() -> Iterator[None]:
    """Tests below make keyring re-detect its backend; put the process's choice back."""
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def lock_default_collection() -> None:
    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        collection.lock()
        assert collection.is_locked()
    finally:
        connection.close()


@pytest.mark.parametrize("prompt_to_unlock", [False, True])
def test_a_locked_keyring_is_reported_and_nothing_is_lost(
    private_secret_service: str, tmp_path: Path, prompt_to_unlock: bool
) -> None:
    store = SecretStore(service="cocoon-desktop-locked-test", prompt_to_unlock=prompt_to_unlock)
    manager = WalletManager(WalletRegistry(tmp_path), store, TonNetwork.MAINNET)
    node = manager.ensure_node_wallet()  # unlocked: works
    exported = manager.export_node_key()
    lock_default_collection()

    assert not store.status().usable
    with pytest.raises(SecretStoreLocked) as info:
        manager.export_node_key()
    assert "locked" in str(info.value) and info.value.what_to_do
    assert exported not in str(info.value)
    with pytest.raises(SecretStoreLocked):
        manager.ensure_node_wallet()  # no new key is generated while locked
    with pytest.raises(SecretStoreLocked):
        manager.forget_node_wallet()
    assert manager.node_wallet() == node  # the wallet list is untouched


def test_no_dbus_session_means_unavailable_and_no_secret_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_keyring_choice: None
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    store = SecretStore(prompt_to_unlock=False)
    manager = WalletManager(WalletRegistry(tmp_path / "data"), store, TonNetwork.MAINNET)
    words = create_mnemonic()
    with pytest.raises(SecretStoreUnavailable) as info:
        manager.save_full_wallet(words, origin="created")
    assert "OS keyring" in str(info.value) and "D-Bus" in info.value.what_to_do
    with pytest.raises(SecretStoreUnavailable):
        manager.ensure_node_wallet()
    assert manager.records().full_wallet is None and manager.records().node_wallet is None
    written = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(" ".join(words[:3]) in text for text in written)


def test_the_fail_backend_chosen_by_configuration_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_keyring_choice: None
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()
    store = SecretStore(prompt_to_unlock=False)
    status = store.status()
    assert not status.usable and "no OS keyring backend" in (status.problem or "")
    with pytest.raises(SecretStoreUnavailable):
        store.load(NODE_KEY_REF)
