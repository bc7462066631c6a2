"""The wallet's error types: each says what happened and what to do next.

No error text ever contains a secret (a mnemonic word, a key): messages are built from fixed
phrases, positions and public values only.
"""

from __future__ import annotations


class WalletError(Exception):
    """Base of every wallet error; `str(err)` is the sentence the UI shows."""

    def __init__(self, what: str, what_to_do: str = "") -> None:
        self.what = what
        self.what_to_do = what_to_do
        super().__init__(f"{what} {what_to_do}".strip())


class AddressError(WalletError, ValueError):
    """A TON address could not be used (malformed, or for the wrong network)."""


class MnemonicError(WalletError, ValueError):
    """Secret words that are not a valid TON mnemonic.

    `kind` is one of "empty", "word_count", "unknown_word", "checksum", "password"; for
    "unknown_word", `position` is 1-based and `suggestions` lists the nearest valid words.
    The suggestions are kept out of the message (they are close to a secret word): the UI
    offers them next to the word's field.
    """

    def __init__(
        self,
        kind: str,
        what: str,
        what_to_do: str,
        position: int | None = None,
        suggestions: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.position = position
        self.suggestions = suggestions
        super().__init__(what, what_to_do)


class NodeKeyError(WalletError, ValueError):
    """A node wallet key that is not 32 bytes in base64 (or hex)."""


class AmountError(WalletError, ValueError):
    """An amount of TON that cannot be sent."""


class TransferError(WalletError):
    """A transfer that cannot be built or would be refused by the wallet contract."""


class WalletStateError(WalletError):
    """An action that does not fit the wallets the user has (e.g. no full wallet yet)."""
