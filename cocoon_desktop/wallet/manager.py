"""The wallet façade the UI and the worker use: owner address, full wallet, node wallet.

Secrets go only to the `SecretStore` (the OS keyring); everything else (addresses, public keys,
choices) goes to the `WalletRegistry` JSON. Methods that touch the keyring block (D-Bus, maybe an
unlock prompt) and derive keys (PBKDF2, ~0.1 s): call them through the UI's `run_blocking()`.

Keyring entries have fixed names ("mnemonic/main", "node-wallet-key/node"), so a damaged
wallet list is rebuilt from the keyring (`recover_from_keyring`), and an existing secret is
never overwritten by a new one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from cocoon_desktop.wallet.address import (
    AddressForm,
    TonAddress,
    check_network,
    parse_address,
)
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.chain_types import AccountReading
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion, wallet_contract
from cocoon_desktop.wallet.errors import WalletStateError
from cocoon_desktop.wallet.mnemonic import KeyPair, create_mnemonic, keypair_from_mnemonic
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.node_key import NodeWalletKey
from cocoon_desktop.wallet.registry import (
    FullWalletRecord,
    NodeWalletRecord,
    OwnerRecord,
    WalletRecords,
    WalletRegistry,
)
from cocoon_desktop.wallet.secret_store import SecretKind, SecretNotFound, SecretRef, SecretStore

log = logging.getLogger(__name__)

FULL_WALLET_ID = "main"
NODE_WALLET_ID = "node"
MNEMONIC_REF = SecretRef(SecretKind.MNEMONIC, FULL_WALLET_ID)
NODE_KEY_REF = SecretRef(SecretKind.NODE_WALLET_KEY, NODE_WALLET_ID)
USER_WALLET_VERSIONS = (WalletVersion.V3R2, WalletVersion.V4R2, WalletVersion.V5R1)


@dataclass(frozen=True)
class OwnerLink:
    """The result of linking an owner address."""

    address: str  # canonical (wallet form) for the network served
    warnings: tuple[str, ...]
    node_wallet_address: str | None  # the node wallet under this owner, when there is a key
    previous_node_wallet_address: str | None  # set when the owner change moved the node wallet


@dataclass(frozen=True)
class FullWalletInfo:
    name: str
    origin: str
    public_key_hex: str
    preferred_version: WalletVersion
    addresses: dict[WalletVersion, str]  # display forms on the network served


@dataclass(frozen=True)
class NodeWalletInfo:
    public_key_hex: str
    origin: str
    address: str | None  # None until an owner address is linked
    past_addresses: tuple[str, ...]  # node wallets under earlier owners (may still hold TON)


class WalletManager:
    """Owns the wallet metadata and the keyring entries of one app profile."""

    def __init__(
        self, registry: WalletRegistry, store: SecretStore, network: TonNetwork | None
    ) -> None:
        self.registry = registry
        self.store = store
        self.network = network  # None: the local devnet (addresses shown in testnet form)

    @property
    def derivation_network(self) -> TonNetwork:
        return self.network or TonNetwork.TESTNET

    def records(self) -> WalletRecords:
        return self.registry.load()

    # -- owner address -----------------------------------------------------------------------
    def link_owner(self, text: str, source: str = "linked") -> OwnerLink:
        """Make `text` the payout (owner) address; say what it changes."""
        parsed = parse_address(text)
        warnings = parsed.warnings + check_network(parsed, self.network)
        records = self.records()
        node = records.node_wallet
        previous = None
        if records.owner and records.owner.address_raw != parsed.address.raw and node:
            previous = self._node_contract(node, _raw(records.owner.address_raw)).display_address
            if records.owner.address_raw not in node.past_owner_raws:
                pasts = (*node.past_owner_raws, records.owner.address_raw)
                node = NodeWalletRecord(
                    node.wallet_id, node.public_key_hex, node.origin, node.created_at, pasts
                )
            warnings += (
                f"The node wallet address changes with the owner: it was {previous}. TON left "
                "there stays reachable from the old address; withdraw it first.",
            )
        given = "".join(text.split()) if parsed.form is AddressForm.FRIENDLY else ""
        owner = OwnerRecord(parsed.address.raw, source, time.time(), given)
        self.registry.update(owner=owner, node_wallet=node)
        new_node = self._node_contract(node, parsed.address).display_address if node else None
        return OwnerLink(
            parsed.address.wallet_form(self.network), warnings, new_node, previous
        )

    def owner_address(self) -> TonAddress | None:
        owner = self.records().owner
        return _raw(owner.address_raw) if owner else None

    def owner_shown(self) -> str | None:
        """The owner address as the user gave it (as their wallet app shows it); the network's
        wallet form when it came from elsewhere (a full wallet of this app, an old record)."""
        owner = self.records().owner
        if owner is None:
            return None
        return owner.given or _raw(owner.address_raw).wallet_form(self.network)

    # -- full wallet -------------------------------------------------------------------------
    @staticmethod
    def new_mnemonic() -> list[str]:
        """Fresh words for the user to write down; nothing is stored until save_full_wallet."""
        return create_mnemonic()

    def save_full_wallet(
        self,
        words: list[str],
        *,
        origin: str,
        name: str = "My TON wallet",
        preferred_version: WalletVersion = WalletVersion.V5R1,
        use_as_owner: bool = False,
    ) -> FullWalletInfo:
        """Keep checked words in the keyring and the wallet's public data in the registry."""
        key = keypair_from_mnemonic(words)
        records = self.recover_from_keyring()
        if records.full_wallet and records.full_wallet.public_key_hex != key.public_key.hex():
            raise WalletStateError(
                "Another full wallet is already kept in this app.",
                "Forget it first (after checking you have its secret words written down).",
            )
        self.store.store(MNEMONIC_REF, " ".join(words))
        record = FullWalletRecord(
            FULL_WALLET_ID, name, key.public_key.hex(), origin, time.time(), preferred_version
        )
        self.registry.update(full_wallet=record)
        info = self._full_info(record)
        if use_as_owner:
            self.link_owner(info.addresses[preferred_version], source="full_wallet")
        return info

    def full_wallet(self) -> FullWalletInfo | None:
        record = self.records().full_wallet
        return self._full_info(record) if record else None

    def full_wallet_contract(self, version: WalletVersion | None = None) -> WalletContract:
        record = self._require_full()
        chosen = version or record.preferred_version
        return wallet_contract(chosen, bytes.fromhex(record.public_key_hex),
                               self.derivation_network)

    def full_wallet_key(self) -> KeyPair:
        """The full wallet's key pair, derived from the words in the keyring."""
        record = self._require_full()
        key = keypair_from_mnemonic(self.store.load(MNEMONIC_REF).split())
        if key.public_key.hex() != record.public_key_hex:
            raise WalletStateError(
                "The secret words in the keyring belong to another wallet than the one listed.",
                "Forget the full wallet and import it again from your written words.",
            )
        return key

    def set_preferred_version(self, version: WalletVersion) -> None:
        record = self._require_full()
        self.registry.update(full_wallet=FullWalletRecord(
            record.wallet_id, record.name, record.public_key_hex, record.origin,
            record.created_at, version,
        ))

    async def read_full_wallet_accounts(
        self, chain: ChainService
    ) -> dict[WalletVersion, AccountReading]:
        """Both wallet versions' accounts, to show which one holds funds."""
        readings = {}
        for version in USER_WALLET_VERSIONS:
            contract = self.full_wallet_contract(version)
            readings[version] = await chain.read_account(contract.address, version)
        return readings

    def forget_full_wallet(self) -> None:
        """Remove the words from the keyring and the wallet from the list (the owner address,
        being public, stays linked)."""
        self.store.delete(MNEMONIC_REF)
        self.registry.update(full_wallet=None)

    # -- node wallet -------------------------------------------------------------------------
    def ensure_node_wallet(self) -> NodeWalletInfo:
        """The node wallet; its key is generated once, and never replaced silently."""
        records = self.recover_from_keyring()
        if records.node_wallet is not None:
            if not self.store.contains(NODE_KEY_REF):
                raise SecretNotFound(
                    "The node wallet key is missing from the keyring.",
                    "Import it from your backup (Export key) to reach the TON it holds; a new "
                    "key would be a different wallet.",
                )
            return self._node_info(records.node_wallet, records.owner)
        key = NodeWalletKey.generate()
        return self._save_node_key(key, "generated")

    def node_wallet(self) -> NodeWalletInfo | None:
        records = self.records()
        return self._node_info(records.node_wallet, records.owner) if records.node_wallet else None

    def node_wallet_contract(self, owner: TonAddress | None = None) -> WalletContract:
        records = self.records()
        if records.node_wallet is None:
            raise WalletStateError("There is no node wallet yet.", "Create it first.")
        chosen = owner or (_raw(records.owner.address_raw) if records.owner else None)
        if chosen is None:
            raise WalletStateError(
                "The node wallet's address depends on the owner address, which is not set.",
                "Link the owner address first.",
            )
        return self._node_contract(records.node_wallet, chosen)

    def node_wallet_key(self) -> KeyPair:
        return self._load_node_key().keypair

    def export_node_key(self) -> str:
        """The key in upstream's form, for the user's backup or worker.conf (only on request)."""
        return self._load_node_key().to_base64()

    def import_node_key(self, text: str, *, replace: bool = False) -> NodeWalletInfo:
        """Use a key exported from the upstream worker or another install."""
        key = NodeWalletKey.from_text(text)
        records = self.recover_from_keyring()
        current = records.node_wallet
        if current and current.public_key_hex != key.public_key.hex() and not replace:
            raise WalletStateError(
                "A different node wallet key is already in use (its wallet may hold TON).",
                "Export the current key as a backup first, then import with replace.",
            )
        return self._save_node_key(key, "imported")

    def forget_node_wallet(self) -> None:
        self.store.delete(NODE_KEY_REF)
        self.registry.update(node_wallet=None)

    def forget_everything(self) -> None:
        """Remove every secret and every wallet record of this profile."""
        self.forget_full_wallet()
        self.forget_node_wallet()
        self.registry.update(owner=None)

    # -- recovery ----------------------------------------------------------------------------
    def recover_from_keyring(self) -> WalletRecords:
        """Re-list wallets whose secrets are in the keyring but missing from the list."""
        records = self.records()
        if records.node_wallet is None and self.store.contains(NODE_KEY_REF):
            key = NodeWalletKey.from_text(self.store.load(NODE_KEY_REF))
            records = self.registry.update(node_wallet=NodeWalletRecord(
                NODE_WALLET_ID, key.public_key.hex(), "recovered", time.time()
            ))
        if records.full_wallet is None and self.store.contains(MNEMONIC_REF):
            key = keypair_from_mnemonic(self.store.load(MNEMONIC_REF).split())
            records = self.registry.update(full_wallet=FullWalletRecord(
                FULL_WALLET_ID, "Recovered wallet", key.public_key.hex(), "recovered",
                time.time(),
            ))
        return records

    # -- internals ---------------------------------------------------------------------------
    def _require_full(self) -> FullWalletRecord:
        record = self.records().full_wallet
        if record is None:
            raise WalletStateError("There is no full wallet in this app.", "Create or import one.")
        return record

    def _full_info(self, record: FullWalletRecord) -> FullWalletInfo:
        key = bytes.fromhex(record.public_key_hex)
        addresses = {
            v: wallet_contract(v, key, self.derivation_network).display_address
            for v in USER_WALLET_VERSIONS
        }
        return FullWalletInfo(
            record.name, record.origin, record.public_key_hex, record.preferred_version, addresses
        )

    def _node_contract(self, record: NodeWalletRecord, owner: TonAddress) -> WalletContract:
        return wallet_contract(
            WalletVersion.NODE, bytes.fromhex(record.public_key_hex), self.derivation_network,
            owner,
        )

    def _node_info(self, record: NodeWalletRecord, owner: OwnerRecord | None) -> NodeWalletInfo:
        address = (
            self._node_contract(record, _raw(owner.address_raw)).display_address if owner else None
        )
        past = tuple(
            self._node_contract(record, _raw(raw)).display_address
            for raw in record.past_owner_raws
        )
        return NodeWalletInfo(record.public_key_hex, record.origin, address, past)

    def _save_node_key(self, key: NodeWalletKey, origin: str) -> NodeWalletInfo:
        self.store.store(NODE_KEY_REF, key.to_base64())
        record = NodeWalletRecord(NODE_WALLET_ID, key.public_key.hex(), origin, time.time())
        records = self.registry.update(node_wallet=record)
        return self._node_info(record, records.owner)

    def _load_node_key(self) -> NodeWalletKey:
        record = self.records().node_wallet
        if record is None:
            raise WalletStateError("There is no node wallet yet.", "Create or import it first.")
        key = NodeWalletKey.from_text(self.store.load(NODE_KEY_REF))
        if key.public_key.hex() != record.public_key_hex:
            raise WalletStateError(
                "The node wallet key in the keyring does not match the node wallet listed.",
                "Import the right key from your backup.",
            )
        return key


def versions_holding_funds(readings: dict[WalletVersion, AccountReading]) -> list[WalletVersion]:
    """The wallet versions whose account holds TON or was ever used, richest first: what the
    UI shows as "this is where your funds are" (readings from `read_full_wallet_accounts`)."""
    used = [
        (reading.snapshot.balance_nano, version)
        for version, reading in readings.items()
        if reading.snapshot is not None
        and (reading.snapshot.balance_nano > 0 or reading.snapshot.status.value != "nonexist")
    ]
    return [version for _, version in sorted(used, key=lambda item: -item[0])]


def _raw(address_raw: str) -> TonAddress:
    return parse_address(address_raw).address
