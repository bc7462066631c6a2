"""Address and mnemonic checks for the wizard tests (until the wallet package lands)."""

from __future__ import annotations

from cocoon_desktop.settings import NetworkKind

_WORDS = ["abandon", "ability", "able", "about", "above", "absent", "absorb", "abstract",
          "absurd", "abuse", "access", "accident", "account", "accuse", "achieve", "acid",
          "acoustic", "acquire", "across", "act", "action", "actor", "actress", "actual"]


def parse_address(text: str, network: NetworkKind) -> str:
    if not text.startswith("0:") or len(text) != 66:
        raise ValueError("This is not a TON address; paste it again from your wallet app.")
    return f"{network.value}:{text}"


def check_mnemonic(words: list[str]) -> None:
    if len(words) != 24:
        raise ValueError(f"A TON mnemonic has 24 words; you entered {len(words)}.")


def new_words() -> list[str]:
    return list(_WORDS)
