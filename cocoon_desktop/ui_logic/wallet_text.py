"""What the wallet screens say beside an address and a disabled button, without Qt."""

from __future__ import annotations

from cocoon_desktop.settings import NetworkKind

NETWORK_WORDS = {NetworkKind.DEVNET: "the local devnet", NetworkKind.TESTNET: "test networks",
                 NetworkKind.MAINNET: "mainnet"}


def address_note(shown: str, network_form: str, network: NetworkKind) -> str:
    """Why the app's own form of the owner address differs from the one the user gave, in
    words: the same account, the money goes there either way. Empty when they are the same."""
    if not shown or not network_form or shown == network_form:
        return ""
    if network is not NetworkKind.MAINNET and shown[:1] in ("U", "E"):
        return (f"This is the address as you gave it. On {NETWORK_WORDS[network]} the same "
                f"account is written {network_form} (its test-network form); payouts go to "
                "this same account either way.")
    return (f"This is the address as you gave it; the app writes the same account as "
            f"{network_form}. Payouts go to this same account either way.")


def withdraw_reason(on_chain: bool, has_node_wallet: bool, has_address: bool) -> str:
    """Why Withdraw cannot be used now (empty when it can)."""
    if not on_chain:
        return ("Withdraw works on a TON chain: the local devnet has none and nothing to "
                "withdraw. Switch to a test network or mainnet in Settings.")
    if not has_node_wallet:
        return "Create the node wallet first."
    if not has_address:
        return "Link an owner address first: the node wallet's address depends on it."
    return ""
