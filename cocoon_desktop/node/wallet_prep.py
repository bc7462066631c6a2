"""Before serving: the owner address payouts go to, and a readable node wallet key.

Blocking (the keyring is D-Bus, maybe slow): the node runs `prepare_wallet` in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cocoon_desktop.node.keyring_advice import keyring_problem, no_node_wallet
from cocoon_desktop.node.status import NodeProblem
from cocoon_desktop.wallet.address import parse_address
from cocoon_desktop.wallet.errors import AddressError, WalletError
from cocoon_desktop.wallet.manager import WalletManager

log = logging.getLogger(__name__)


class WalletNotReady(Exception):
    """The wallet side stops the node from serving; `problem` says what to do."""

    def __init__(self, problem: NodeProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass(frozen=True)
class WalletReady:
    owner_address: str
    node_wallet_address: str | None  # None on the devnet (no chain, no payouts)


def prepare_wallet(manager: WalletManager, owner_in_config: str, needs_key: bool,
                   headless: bool, service: str) -> WalletReady:
    """Link the configured owner (when it differs from the linked one) and, for networks that
    pay, check the node wallet key can be read. Raises WalletNotReady."""
    owner = _owner(manager, owner_in_config, needs_key)
    if not needs_key:
        return WalletReady(owner, None)
    try:
        records = manager.recover_from_keyring()
        if records.node_wallet is None:
            raise WalletNotReady(no_node_wallet(service))
        manager.node_wallet_key()  # proves the key can be read now, not at the first payout
        contract = manager.node_wallet_contract()
    except WalletError as error:
        raise WalletNotReady(keyring_problem(error, headless, service)) from None
    return WalletReady(owner, contract.display_address)


def _owner(manager: WalletManager, configured: str, needs_key: bool) -> str:
    linked = manager.owner_address()
    if configured.strip():
        try:
            if needs_key and (linked is None or linked.raw != _raw(configured)):
                link = manager.link_owner(configured, source="rig config")
                for warning in link.warnings:
                    log.warning("owner address: %s", warning)
                return link.address
            return configured.strip()
        except AddressError as error:
            raise WalletNotReady(NodeProblem(f"The owner address cannot be used: {error.what}",
                                             error.what_to_do)) from None
    if linked is not None:
        return linked.wallet_form(manager.network)
    if needs_key:
        raise WalletNotReady(NodeProblem(
            "No owner address is set: payouts have nowhere to go.",
            "Set `owner_address` in the rig file (or link it: `cocoon-desktop wallet "
            "link-owner ADDRESS`, or on the Wallet page)."))
    from cocoon_desktop.network.devnet.network import DEVNET_WORKER_OWNER  # the devnet's stack
    from cocoon_desktop.network.root_config import friendly  # the TL schema: when serving

    return friendly(DEVNET_WORKER_OWNER)


def _raw(text: str) -> str:
    return parse_address(text).address.raw
