"""The two TON networks a Cocoon worker can be paid on, and what differs between them."""

from __future__ import annotations

from enum import StrEnum


class TonNetwork(StrEnum):
    """A TON network. Cocoon's devnet has no chain of its own (see `ton_network_for`)."""

    MAINNET = "mainnet"
    TESTNET = "testnet"

    @property
    def global_id(self) -> int:
        """The network's `global_id` (config param 19); part of a WalletV5R1's wallet id."""
        return -239 if self is TonNetwork.MAINNET else -3

    @property
    def global_config_url(self) -> str:
        """Where ton.org publishes the liteserver list of this network."""
        if self is TonNetwork.MAINNET:
            return "https://ton.org/global-config.json"
        return "https://ton.org/testnet-global.config.json"

    def explorer_url(self, address: str) -> str:
        """A public explorer page for `address` (opened only when the user asks)."""
        host = "tonviewer.com" if self is TonNetwork.MAINNET else "testnet.tonviewer.com"
        return f"https://{host}/{address}"


def ton_network_for(serving: str) -> TonNetwork | None:
    """The TON network behind a serving choice ("mainnet", "testnet", "devnet").

    The local devnet settles nothing on a chain: None, and addresses are then not
    network-checked.
    """
    try:
        return TonNetwork(str(serving))
    except ValueError:
        return None
