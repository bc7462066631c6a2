"""TON global configs naming loopback liteservers, and a loopback port nothing listens on.

Usage: `from tests.helpers.ton_config import liteserver_config, write_liteserver_config`.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey


def liteserver_config(ports: Iterable[int]) -> dict[str, Any]:
    """A global config naming loopback liteservers on `ports` (fresh, valid server keys)."""
    zero = base64.b64encode(bytes(32)).decode()
    return {
        "liteservers": [
            {"ip": 2130706433, "port": port, "id": {
                "@type": "pub.ed25519",
                "key": base64.b64encode(bytes(SigningKey.generate().verify_key)).decode(),
            }} for port in ports
        ],
        "validator": {"init_block": {
            "root_hash": zero, "file_hash": zero, "seqno": 0, "workchain": -1,
            "shard": -9223372036854775808,
        }},
    }


def write_liteserver_config(folder: Path, ports: Iterable[int] = (1,)) -> Path:
    """`liteserver_config(ports)` written to `folder/ton.config.json` (for ChainService)."""
    path = folder / "ton.config.json"
    path.write_text(json.dumps(liteserver_config(ports)))
    return path


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
