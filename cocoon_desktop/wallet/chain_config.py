"""Where the liteservers are: a user's config file (upstream `ton_config`) or ton.org's global
config, cached so that a later start works while ton.org is down.

Nothing here runs at import or construction: the download happens only when the chain service
first needs a liteserver (pytoniq's `LiteBalancer.from_mainnet_config()` would download at
construction, synchronously; it is never used).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.networks import TonNetwork

log = logging.getLogger(__name__)

CACHE_MAX_AGE_S = 7 * 24 * 3600
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class ChainConfigError(WalletError):
    """No usable liteserver list."""


@dataclass(frozen=True)
class LiteserverConfig:
    """A validated global config; `source` says where it came from, for the UI."""

    data: dict[str, Any] = field(repr=False)
    source: str

    @property
    def liteserver_count(self) -> int:
        return len(self.data["liteservers"])


def validate_config(data: object, origin: str) -> dict[str, Any]:
    """Check the parts pytoniq needs; ChainConfigError naming the first problem."""
    def bad(problem: str) -> ChainConfigError:
        return ChainConfigError(
            f"The TON network config from {origin} is not usable: {problem}.",
            "In Settings, choose a global config file from ton.org (or your provider), or "
            "clear the TON config setting to use the network's default.",
        )

    if not isinstance(data, dict):
        raise bad("it is not a JSON object")
    servers = data.get("liteservers")
    if not isinstance(servers, list) or not servers:
        raise bad('it lists no "liteservers"')
    for index, server in enumerate(servers):
        try:
            ip, port, key = int(server["ip"]), int(server["port"]), server["id"]["key"]
            if not (-(2**31) <= ip < 2**31 and 0 < port < 65536):
                raise ValueError
            VerifyKey(base64.b64decode(key, validate=True)).to_curve25519_public_key()
        except (KeyError, TypeError, ValueError, binascii.Error, CryptoError):
            raise bad(f"liteserver #{index + 1} lacks a valid ip, port or id.key") from None
    try:
        init_block = data["validator"]["init_block"]
        for name in ("root_hash", "file_hash", "seqno", "workchain", "shard"):
            init_block[name]
    except (KeyError, TypeError):
        raise bad('it has no "validator.init_block"') from None
    return data


def load_config_file(path: Path) -> LiteserverConfig:
    """Read a user-supplied config (upstream's `ton_config`)."""
    origin = f"the file {path}"
    try:
        raw = path.read_bytes()[:MAX_CONFIG_BYTES]
    except OSError as exc:
        raise ChainConfigError(
            f"The TON network config file {path} cannot be read ({exc.strerror}).",
            "Choose an existing file in Settings, or clear the setting to use the default.",
        ) from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ChainConfigError(
            f"The TON network config file {path} is not JSON.",
            "Choose a global config file (JSON), or clear the setting to use the default.",
        ) from None
    return LiteserverConfig(validate_config(data, origin), origin)


def cache_file(cache_dir: Path, network: TonNetwork) -> Path:
    return cache_dir / f"ton-{network.value}-global-config.json"


async def obtain_config(
    network: TonNetwork,
    *,
    user_file: Path | None,
    cache_dir: Path,
    timeout_s: float = 15.0,
    url: str | None = None,
    now: float | None = None,
) -> LiteserverConfig:
    """The user's file when set; else a fresh cache; else a download; else a stale cache."""
    if user_file is not None:
        return await run_blocking(load_config_file, user_file)
    cached = cache_file(cache_dir, network)
    age_s = _age_s(cached, now)
    if age_s is not None and age_s < CACHE_MAX_AGE_S:
        try:
            return _from_cache(cached)
        except ChainConfigError:
            log.warning("the cached %s config is damaged; downloading it again", network.value)
    import aiohttp  # loads with the first download, not with the app's window

    source_url = url or network.global_config_url
    try:
        data = await _download(source_url, timeout_s)
        validate_config(data, source_url)
    except (TimeoutError, ChainConfigError, OSError, aiohttp.ClientError, ValueError) as exc:
        if age_s is not None:
            log.info("using the cached %s config: download failed (%s)", network.value,
                     type(exc).__name__)
            return _from_cache(cached)
        raise ChainConfigError(
            f"The list of TON {network.value} liteservers could not be downloaded from "
            f"{source_url} ({type(exc).__name__}).",
            "Check the internet connection (it retries by itself), or choose a TON config file "
            "in Settings.",
        ) from None
    _write_cache(cached, data)
    return LiteserverConfig(data, source_url)


def _age_s(path: Path, now: float | None) -> float | None:
    try:
        return (now if now is not None else time.time()) - path.stat().st_mtime
    except OSError:
        return None


def _from_cache(path: Path) -> LiteserverConfig:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise ChainConfigError(
            "The cached TON config is damaged.", "It is downloaded again."
        ) from None
    return LiteserverConfig(validate_config(data, "the cache"), f"cache {path.name}")


async def _download(url: str, timeout_s: float) -> object:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        response.raise_for_status()
        raw = await response.content.read(MAX_CONFIG_BYTES)
    return json.loads(raw)


def _write_cache(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
