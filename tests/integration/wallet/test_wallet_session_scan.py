"""A whole wallet session with the real keyring, the app's folders in a temporary COCOON_HOME and
DEBUG logging to its log folder: create, import, node wallet, export, withdraw-build, send
attempt, forget. Afterwards no secret is found in any file the app wrote."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.core.logs import setup_logging
from cocoon_desktop.core.paths import app_paths
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.manager import MNEMONIC_REF, NODE_KEY_REF, WalletManager
from cocoon_desktop.wallet.mnemonic import keypair_from_mnemonic
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore
from cocoon_desktop.wallet.withdraw import plan_transfer
from tests.helpers.emulated_chain import EmulatedChain
from tests.helpers.ton_config import closed_loopback_port, write_liteserver_config

pytestmark = pytest.mark.keyring
TON = 1_000_000_000
NET = TonNetwork.TESTNET


@pytest.fixture
def app_logging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The app's own logging set-up (redacting handlers) into COCOON_HOME's log folder."""
    monkeypatch.setenv("COCOON_HOME", str(tmp_path / "home"))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    setup_logging(app_paths().ensure().log_dir, logging.DEBUG)
    yield tmp_path / "home"
    for handler in list(root.handlers):
        handler.close()
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def secret_forms(words: list[str], seeds: list[bytes]) -> list[bytes]:
    """Every way a secret could appear: word runs of 3, seeds raw, hex, base64."""
    forms = [" ".join(words[i : i + 3]).encode() for i in range(len(words) - 2)]
    forms.append(",".join(words[:3]).encode())
    for seed in seeds:
        forms += [seed, seed.hex().encode(), seed.hex().upper().encode(),
                  base64.b64encode(seed), base64.urlsafe_b64encode(seed).rstrip(b"=")]
    return forms


async def test_no_secret_survives_a_session_on_disk(
    app_logging: Path, ton_vectors: list[dict[str, Any]], tmp_path: Path
) -> None:
    home = app_logging
    paths = app_paths()
    store = SecretStore(service=f"cocoon-desktop-scan-{uuid.uuid4().hex}", prompt_to_unlock=False)
    if not store.status().usable:
        pytest.skip("needs the Secret Service keyring (run scripts/test.sh)")
    manager = WalletManager(WalletRegistry(paths.data_dir), store, NET)
    log = logging.getLogger("cocoon_desktop.test_session")

    # 1. Create a wallet, as the wizard does; an accidental log line is redacted.
    created = manager.new_mnemonic()
    manager.save_full_wallet(created, origin="created", use_as_owner=True)
    log.info("wallet words were %s", " ".join(created))
    manager.forget_full_wallet()

    # 2. Import the public test wallet instead; set up the node wallet; export its key.
    imported = next(v for v in ton_vectors if "mnemonic" in v)["mnemonic"].split()
    manager.save_full_wallet(imported, origin="imported", use_as_owner=True)
    manager.ensure_node_wallet()
    exported = manager.export_node_key()
    log.debug("node_wallet_key = %s", exported)
    node_seed = base64.b64decode(exported)
    full_seed = keypair_from_mnemonic(imported).seed

    # 3. Build withdrawals from both wallets against emulated state; try to send one.
    ledger = EmulatedChain()
    node = manager.node_wallet_contract()
    full = manager.full_wallet_contract(WalletVersion.V5R1)
    for contract, key in ((node, manager.node_wallet_key()), (full, manager.full_wallet_key())):
        ledger.fund_and_deploy(contract, key, 5 * TON, full.address)
    confirmation = plan_transfer(
        node, manager.node_wallet_key(), ledger.snapshot(node.address, WalletVersion.NODE, NET),
        full.display_address, "1.25", "to my wallet",
        shard_account=ledger.shard_account(node.address), now=ledger.now,
    )
    chain = ChainService(NET, cache_dir=paths.cache_dir, config_file=_closed_config(tmp_path),
                         connect_timeout_s=3, request_timeout_s=2)
    outcome = await chain.send(confirmation.transfer.boc)
    assert not outcome.sent
    await chain.read_account(node.address, WalletVersion.NODE)
    await chain.close()

    # 4. Forget everything; the keyring holds nothing of ours.
    manager.forget_everything()
    assert not store.contains(MNEMONIC_REF) and not store.contains(NODE_KEY_REF)

    for handler in logging.getLogger().handlers:
        handler.flush()
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "app.log" for p in files) and any(p.name == "wallets.json" for p in files)
    assert (paths.log_dir / "app.log").read_text().count("«redacted»") >= 2
    forms = secret_forms(created, []) + secret_forms(imported, [node_seed, full_seed])
    assert find_leaks(files, forms) == []
    probe = tmp_path / "probe.bin"  # the scan itself finds a planted secret
    probe.write_bytes(b"x" + base64.b64encode(node_seed) + b"y")
    found = find_leaks([probe], forms)
    assert found and {name for name, _ in found} == {"probe.bin"}


def find_leaks(files: list[Path], forms: list[bytes]) -> list[tuple[str, bytes]]:
    """(file name, start of the secret form) for every secret form found in a file."""
    return [(p.name, f[:12]) for p in files for f in forms if f in p.read_bytes()]


def _closed_config(tmp_path: Path) -> Path:
    return write_liteserver_config(tmp_path, [closed_loopback_port()])
