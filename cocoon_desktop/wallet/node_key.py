"""The node wallet key: 32 random bytes, the Ed25519 seed of the worker's own wallet.

Upstream keeps it as `node_wallet_key` in worker.conf, in standard base64 (`head -c 32
/dev/urandom | base64`), and in the worker's JSON config (TL `int256`, also base64). This module
reads every way a user may paste it (the bare value, the worker.conf line, the JSON member, hex)
and writes the upstream form, so a user can move between this app and the upstream worker.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field

from cocoon_desktop.core.logs import register_secret
from cocoon_desktop.wallet.errors import NodeKeyError
from cocoon_desktop.wallet.mnemonic import KeyPair, keypair_from_seed
from cocoon_desktop.wallet.pasted_text import without_invisible

KEY_BYTES = 32
_LABEL = re.compile(r"""^\s*["']?node_wallet_key["']?\s*[=:]\s*""", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class NodeWalletKey:
    """A node wallet key. `seed` is secret: it is kept out of repr and registered for redaction."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.seed) != KEY_BYTES:
            raise NodeKeyError(
                f"A node wallet key has {KEY_BYTES} bytes, not {len(self.seed)}.",
                "Export the key again from the worker or the app.",
            )
        register_secret(self.seed)
        register_secret(self.to_base64())

    @classmethod
    def generate(cls) -> NodeWalletKey:
        """A fresh key from the OS's secure random source."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> NodeWalletKey:
        """Read a pasted key: base64 (standard or url-safe, padded or not), hex, or the line
        `node_wallet_key = …` / the JSON member `"node_wallet_key": "…"`; line breaks and
        invisible characters that copying adds are dropped."""
        value = _LABEL.sub("", without_invisible(text).strip()).strip().strip(",").strip()
        value = "".join(value.strip("\"'").split())
        if not value:
            raise NodeKeyError("No node wallet key was entered.", "Paste the key (44 characters).")
        if value.upper() in ("[PRIVATE]", "$NODE_WALLET_KEY"):
            raise NodeKeyError(
                "This is the placeholder from the example configuration, not a key.",
                "Paste the value of node_wallet_key from your own worker.conf.",
            )
        if _HEX.match(value):
            return cls(bytes.fromhex(value))
        compact = value.replace("-", "+").replace("_", "/")
        try:
            raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise NodeKeyError(
                "This node wallet key is not valid base64 (nor 64 hexadecimal digits).",
                "Copy the whole value of node_wallet_key again (it ends with '=').",
            ) from None
        if len(raw) != KEY_BYTES:
            raise NodeKeyError(
                f"This value decodes to {len(raw)} bytes; a node wallet key has {KEY_BYTES}.",
                "Part of it was lost while copying; copy the whole value again.",
            )
        return cls(raw)

    def to_base64(self) -> str:
        """The upstream form (worker.conf `node_wallet_key`): standard base64, 44 characters."""
        return base64.b64encode(self.seed).decode("ascii")

    def worker_conf_line(self) -> str:
        """The line to put into upstream's worker.conf."""
        return f"node_wallet_key = {self.to_base64()}"

    @property
    def keypair(self) -> KeyPair:
        return keypair_from_seed(self.seed)

    @property
    def public_key(self) -> bytes:
        return self.keypair.public_key
