"""Offline address derivation: every known-answer vector, and the node wallet's rules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.wallet.address import TonAddress, parse_address
from cocoon_desktop.wallet.contracts import (
    NODE_WALLET_CODE_HASH_HEX,
    NODE_WALLET_CODE_HEX,
    WalletVersion,
    node_wallet_code,
    seqno_from_data,
    v5r1_wallet_id,
    wallet_contract,
)
from cocoon_desktop.wallet.mnemonic import keypair_from_mnemonic, keypair_from_seed
from cocoon_desktop.wallet.networks import TonNetwork

UPSTREAM = Path("/work/.mirror/TelegramMessenger+cocoon/repo")
OWNER = parse_address("UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m").address


def _public_key(vector: dict[str, Any]) -> bytes:
    if "mnemonic" in vector:
        return keypair_from_mnemonic(vector["mnemonic"].split()).public_key
    return keypair_from_seed(bytes.fromhex(vector["ed25519_seed_hex"])).public_key


def _expected(name: str) -> tuple[WalletVersion, TonNetwork, bool, bool] | None:
    """(version, network, bounceable, test_only) a vector field names, or None."""
    if name.startswith("wallet_v3r2"):
        return WalletVersion.V3R2, TonNetwork.MAINNET, "non_bounceable" not in name, False
    if name.startswith("wallet_v4r2"):
        return WalletVersion.V4R2, TonNetwork.MAINNET, "non_bounceable" not in name, False
    if name.startswith("wallet_v5r1"):
        testnet = "testnet" in name
        network = TonNetwork.TESTNET if testnet else TonNetwork.MAINNET
        return WalletVersion.V5R1, network, "non_bounceable" not in name, testnet
    return None


def test_every_wallet_vector_is_derived_offline(ton_vectors: list[dict[str, Any]]) -> None:
    checked = 0
    for vector in ton_vectors:
        key = _public_key(vector)
        for name, expected_address in vector.items():
            spec = _expected(name)
            if spec is None:
                continue
            version, network, bounceable, test_only = spec
            contract = wallet_contract(version, key, network)
            assert contract.address.friendly(
                bounceable=bounceable, test_only=test_only
            ) == expected_address, name
            checked += 1
    assert checked == 7  # every wallet address in vectors.json


def test_v5r1_addresses_differ_between_networks_and_v4r2_do_not() -> None:
    key = keypair_from_seed(bytes(32)).public_key
    v5 = {n: wallet_contract(WalletVersion.V5R1, key, n).address for n in TonNetwork}
    v4 = {n: wallet_contract(WalletVersion.V4R2, key, n).address for n in TonNetwork}
    assert v5[TonNetwork.MAINNET] != v5[TonNetwork.TESTNET]
    assert v4[TonNetwork.MAINNET] == v4[TonNetwork.TESTNET]
    assert v5r1_wallet_id(TonNetwork.MAINNET) == 2147483409  # 0x7FFFFF11, as W5 wallets use


def test_display_forms() -> None:
    key = keypair_from_seed(bytes(32)).public_key
    user = wallet_contract(WalletVersion.V4R2, key, TonNetwork.MAINNET)
    node = wallet_contract(WalletVersion.NODE, key, TonNetwork.TESTNET, OWNER)
    assert user.display_address.startswith("UQ")
    assert node.display_address.startswith("kQ")  # bounceable, test-only: as upstream logs it


def test_node_wallet_code_is_upstreams_contract() -> None:
    assert node_wallet_code().hash.hex() == NODE_WALLET_CODE_HASH_HEX
    if not UPSTREAM.exists():
        pytest.skip("the upstream Cocoon checkout is not on this machine")
    source = subprocess.run(
        ["git", "-C", str(UPSTREAM), "show", "HEAD:runners/smartcontracts/CocoonWallet.cpp"],
        capture_output=True, text=True, check=True,
    ).stdout
    body = source.split("boc_hex =", 1)[1].split(";", 1)[0]
    upstream_hex = "".join(part.strip().strip('"') for part in body.split())
    assert upstream_hex == "".join(NODE_WALLET_CODE_HEX)


def test_node_wallet_address_depends_on_key_owner_and_nothing_else() -> None:
    key_a = keypair_from_seed(b"\x01" * 32).public_key
    key_b = keypair_from_seed(b"\x02" * 32).public_key
    other_owner = TonAddress(0, b"\x07" * 32)
    a = wallet_contract(WalletVersion.NODE, key_a, TonNetwork.MAINNET, OWNER).address
    assert a == wallet_contract(WalletVersion.NODE, key_a, TonNetwork.TESTNET, OWNER).address
    assert a != wallet_contract(WalletVersion.NODE, key_b, TonNetwork.MAINNET, OWNER).address
    assert a != wallet_contract(WalletVersion.NODE, key_a, TonNetwork.MAINNET, other_owner).address


def test_node_wallet_initial_data_layout() -> None:
    """Upstream init_data_cell: seqno 0, subwallet 0, the key, flags 0, the owner address."""
    key = keypair_from_seed(b"\x01" * 32).public_key
    data = wallet_contract(WalletVersion.NODE, key, TonNetwork.MAINNET, OWNER).data
    cs = data.begin_parse()
    assert (cs.load_uint(32), cs.load_uint(32)) == (0, 0)
    assert cs.load_bytes(32) == key
    assert cs.load_uint(32) == 0
    assert TonAddress.from_pytoniq(cs.load_address()) == OWNER
    assert cs.remaining_bits == 0 and seqno_from_data(WalletVersion.NODE, data) == 0


def test_wallet_contract_argument_checks() -> None:
    key = keypair_from_seed(bytes(32)).public_key
    with pytest.raises(ValueError):
        wallet_contract(WalletVersion.NODE, key, TonNetwork.MAINNET)  # no owner
    with pytest.raises(ValueError):
        wallet_contract(WalletVersion.V4R2, key, TonNetwork.MAINNET, OWNER)
    with pytest.raises(ValueError):
        wallet_contract(WalletVersion.V4R2, key[:31], TonNetwork.MAINNET)


def test_seqno_is_read_from_each_layout() -> None:
    key = keypair_from_seed(bytes(32)).public_key
    for version in (WalletVersion.V3R2, WalletVersion.V4R2, WalletVersion.V5R1):
        contract = wallet_contract(version, key, TonNetwork.MAINNET)
        assert seqno_from_data(version, contract.data) == 0
