"""The wallet with the real OS keyring (gnome-keyring's Secret Service in the D-Bus session that
scripts/test.sh starts): secrets in, secrets out, forgetting removes them, nothing overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.errors import WalletStateError
from cocoon_desktop.wallet.manager import MNEMONIC_REF, NODE_KEY_REF, WalletManager
from cocoon_desktop.wallet.mnemonic import keypair_from_mnemonic
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.node_key import NodeWalletKey
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import (
    SecretKind,
    SecretNotFound,
    SecretRef,
    SecretStore,
)
from tests.helpers.keyring_store import throwaway_secret_store

pytestmark = pytest.mark.keyring


@pytest.fixture
def store() -> Iterator[SecretStore]:
    """The session keyring under a service name of this test's own."""
    secret_store = throwaway_secret_store()
    yield secret_store
    for ref in (MNEMONIC_REF, NODE_KEY_REF):
        secret_store.delete(ref)


@pytest.fixture
def vector_words(ton_vectors: list[dict[str, Any]]) -> list[str]:
    """Public test words (ton-crypto's own test mnemonic), read from the shared vectors."""
    return next(v for v in ton_vectors if "mnemonic" in v)["mnemonic"].split()


@pytest.fixture
def manager(store: SecretStore, tmp_path: Path) -> WalletManager:
    return WalletManager(WalletRegistry(tmp_path), store, TonNetwork.MAINNET)


def test_store_load_delete_round_trip(store: SecretStore) -> None:
    ref = SecretRef(SecretKind.NODE_WALLET_KEY, "round-trip")
    store.store(ref, "value-one")
    store.store(ref, "value-two")  # replaces
    assert store.load(ref) == "value-two" and store.contains(ref)
    assert store.delete(ref) is True
    assert not store.contains(ref) and store.delete(ref) is False
    with pytest.raises(SecretNotFound) as info:
        store.load(ref)
    assert "value" not in str(info.value) and info.value.what_to_do
    with pytest.raises(SecretNotFound):
        store.delete(ref, missing_ok=False)


def test_create_a_wallet_and_make_it_the_owner(manager: WalletManager) -> None:
    words = manager.new_mnemonic()
    info = manager.save_full_wallet(words, origin="created", use_as_owner=True)
    assert manager.store.load(MNEMONIC_REF) == " ".join(words)
    key = manager.full_wallet_key()
    assert key.public_key.hex() == info.public_key_hex
    owner = manager.owner_address()
    assert owner is not None and owner.wallet_form(TonNetwork.MAINNET) == info.addresses[
        WalletVersion.V5R1
    ]
    assert manager.records().owner.source == "full_wallet"  # type: ignore[union-attr]
    text = manager.registry.path.read_text()
    assert not any(" ".join(words[i : i + 3]) in text for i in range(len(words) - 2))


def test_import_derives_the_vector_addresses(
    manager: WalletManager, ton_vectors: list[dict[str, Any]], vector_words: list[str]
) -> None:
    vector = next(v for v in ton_vectors if v.get("mnemonic") == " ".join(vector_words))
    info = manager.save_full_wallet(vector_words, origin="imported",
                                    preferred_version=WalletVersion.V4R2)
    assert info.addresses[WalletVersion.V4R2] == vector["wallet_v4r2_non_bounceable"]
    assert info.addresses[WalletVersion.V5R1] == vector["wallet_v5r1_mainnet_non_bounceable"]
    assert manager.full_wallet_contract().version is WalletVersion.V4R2
    manager.set_preferred_version(WalletVersion.V5R1)
    assert manager.full_wallet_contract().version is WalletVersion.V5R1


def test_a_second_wallet_never_overwrites_the_first(
    manager: WalletManager, vector_words: list[str]
) -> None:
    manager.save_full_wallet(vector_words, origin="imported")
    with pytest.raises(WalletStateError, match="Forget it first"):
        manager.save_full_wallet(manager.new_mnemonic(), origin="created")
    assert manager.store.load(MNEMONIC_REF) == " ".join(vector_words)
    manager.save_full_wallet(vector_words, origin="imported", name="again")  # same: fine


def test_forgetting_the_full_wallet_removes_its_words(
    manager: WalletManager, vector_words: list[str]
) -> None:
    manager.save_full_wallet(vector_words, origin="imported", use_as_owner=True)
    manager.forget_full_wallet()
    assert not manager.store.contains(MNEMONIC_REF)
    assert manager.full_wallet() is None
    assert manager.owner_address() is not None  # the public payout address stays linked
    with pytest.raises(WalletStateError):
        manager.full_wallet_key()


def test_the_node_wallet_key_is_made_once_and_moves_in_upstream_form(
    manager: WalletManager,
) -> None:
    manager.link_owner("UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m")
    first = manager.ensure_node_wallet()
    assert manager.ensure_node_wallet() == first
    exported = manager.export_node_key()
    assert NodeWalletKey.from_text(exported).public_key.hex() == first.public_key_hex
    assert first.address == manager.node_wallet_contract().display_address
    assert first.address is not None and first.address.startswith("EQ")

    again = manager.import_node_key(f"node_wallet_key = {exported}")  # the same key: fine
    assert again.public_key_hex == first.public_key_hex
    other = NodeWalletKey.generate().to_base64()
    with pytest.raises(WalletStateError, match="Export the current key"):
        manager.import_node_key(other)
    assert manager.export_node_key() == exported  # nothing replaced
    replaced = manager.import_node_key(other, replace=True)
    assert replaced.public_key_hex != first.public_key_hex and replaced.origin == "imported"


def test_a_lost_node_key_is_reported_never_silently_replaced(manager: WalletManager) -> None:
    before = manager.ensure_node_wallet()
    manager.store.delete(NODE_KEY_REF)
    with pytest.raises(SecretNotFound, match="missing from the keyring"):
        manager.ensure_node_wallet()
    assert manager.node_wallet() == before  # still listed, so the user can import the key


def test_a_damaged_wallet_list_is_rebuilt_from_the_keyring(
    manager: WalletManager, vector_words: list[str]
) -> None:
    manager.save_full_wallet(vector_words, origin="imported")
    node = manager.ensure_node_wallet()
    manager.registry.path.write_text("garbage")
    assert manager.records().recovered_from is not None
    records = manager.recover_from_keyring()
    assert records.node_wallet is not None
    assert records.node_wallet.public_key_hex == node.public_key_hex
    assert records.full_wallet is not None
    assert records.full_wallet.public_key_hex == keypair_from_mnemonic(
        vector_words).public_key.hex()


def test_changing_the_owner_moves_the_node_wallet_and_remembers_the_old_one(
    manager: WalletManager,
) -> None:
    first = manager.link_owner("UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m")
    assert first.node_wallet_address is None and first.previous_node_wallet_address is None
    node = manager.ensure_node_wallet()
    second = manager.link_owner("EQDnBF4JTFKHTYjulEJyNd4dstLGH1m51UrLdu01_tw4z2Au")
    assert second.previous_node_wallet_address == node.address
    assert second.node_wallet_address not in (None, node.address)
    assert any("withdraw it first" in w for w in second.warnings)
    assert manager.node_wallet().past_addresses == (node.address,)  # type: ignore[union-attr]


def test_forget_everything_leaves_no_secret_in_the_keyring(
    manager: WalletManager, vector_words: list[str]
) -> None:
    manager.save_full_wallet(vector_words, origin="imported", use_as_owner=True)
    manager.ensure_node_wallet()
    manager.forget_everything()
    assert not manager.store.contains(MNEMONIC_REF)
    assert not manager.store.contains(NODE_KEY_REF)
    assert manager.records().owner is None and manager.node_wallet() is None


def test_the_owner_address_comes_back_as_the_user_gave_it(store: SecretStore,
                                                          tmp_path: Path) -> None:
    """Issue 15: a mainnet `UQ…` pasted while serving a test network came back as `0Q…`."""
    given = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"
    testnet = WalletManager(WalletRegistry(tmp_path), store, TonNetwork.TESTNET)
    link = testnet.link_owner(f"  {given} ")
    assert link.address.startswith("0Q")  # what the worker announces on a test network
    assert testnet.owner_shown() == given  # what the user reads back
    raw = "0:" + "ab" * 32  # a raw form is not what a wallet app shows: the wallet form is
    testnet.link_owner(raw)
    assert testnet.owner_shown() == testnet.owner_address().wallet_form(TonNetwork.TESTNET)
