"""The node wallet key: every way a user pastes it, the upstream form out, no leak in repr."""

from __future__ import annotations

import base64
import json

import pytest

from cocoon_desktop.wallet.errors import NodeKeyError
from cocoon_desktop.wallet.node_key import NodeWalletKey

SEED = bytes(range(32))
B64 = base64.b64encode(SEED).decode()


def test_generated_keys_are_32_random_bytes_in_upstream_base64() -> None:
    first, second = NodeWalletKey.generate(), NodeWalletKey.generate()
    assert first.seed != second.seed
    text = first.to_base64()
    assert len(text) == 44 and text.endswith("=")
    assert base64.b64decode(text) == first.seed
    assert NodeWalletKey.from_text(text) == first
    assert first.worker_conf_line() == f"node_wallet_key = {text}"


@pytest.mark.parametrize(
    "text",
    [
        B64,
        B64.rstrip("="),
        base64.urlsafe_b64encode(SEED).decode(),
        SEED.hex(),
        SEED.hex().upper(),
        f"node_wallet_key = {B64}",
        f"  node_wallet_key={B64}  ",
        f'"node_wallet_key": "{B64}",',
        json.dumps({"node_wallet_key": B64})[1:-1],
        f"'{B64}'",
        f"node_wallet_key = {B64[:30]}\n{B64[30:]}",  # wrapped by a narrow terminal
        f"\ufeff{B64[:20]}\u200b{B64[20:]}",  # invisible characters from a web page or a chat
    ],
)
def test_every_pasted_form_is_read(text: str) -> None:
    assert NodeWalletKey.from_text(text).seed == SEED


def test_upstreams_example_fake_ton_key_is_read() -> None:
    key = NodeWalletKey.from_text("gaEatwGNgLGOeFI/TRGfPdJG/K4G8picYHQkDHpLQ9w=")
    assert len(key.public_key) == 32


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "No node wallet key"),
        ("node_wallet_key = [PRIVATE]", "placeholder"),
        ("$NODE_WALLET_KEY", "placeholder"),
        (B64[:-8], "decodes to 27 bytes"),
        (base64.b64encode(bytes(33)).decode(), "decodes to 33 bytes"),
        ("not a key at all!", "not valid base64"),
    ],
)
def test_bad_keys_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(NodeKeyError) as info:
        NodeWalletKey.from_text(text)
    assert fragment in str(info.value) and info.value.what_to_do


def test_the_key_never_shows_in_repr_or_errors() -> None:
    key = NodeWalletKey(SEED)
    assert B64 not in repr(key) and SEED.hex() not in repr(key)
    with pytest.raises(NodeKeyError) as info:
        NodeWalletKey.from_text(B64[:-8])
    assert B64[:-8] not in str(info.value)
