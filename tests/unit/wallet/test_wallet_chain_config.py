"""Liteserver configs: validation with clear errors, the cache, downloads over loopback."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cocoon_desktop.wallet.chain_config import (
    CACHE_MAX_AGE_S,
    ChainConfigError,
    cache_file,
    load_config_file,
    obtain_config,
    validate_config,
)
from cocoon_desktop.wallet.networks import TonNetwork
from tests.helpers.ton_config import closed_loopback_port, liteserver_config


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda c: c.pop("liteservers"), 'no "liteservers"'),
        (lambda c: c.__setitem__("liteservers", []), 'no "liteservers"'),
        (lambda c: c["liteservers"][0].pop("ip"), "liteserver #1"),
        (lambda c: c["liteservers"][0].__setitem__("port", 70000), "liteserver #1"),
        (lambda c: c["liteservers"][0]["id"].__setitem__("key", "abc"), "liteserver #1"),
        (lambda c: c.pop("validator"), "init_block"),
    ],
)
def test_validation_names_the_problem(mutate: Any, fragment: str) -> None:
    config = liteserver_config([1])
    mutate(config)
    with pytest.raises(ChainConfigError, match=fragment):
        validate_config(config, "test")


def test_a_key_that_is_not_an_ed25519_point_is_refused() -> None:
    config = liteserver_config([1])
    # Most random 32-byte strings are not valid Ed25519 points; pytoniq would crash on them.
    for attempt in range(256):
        key = bytes([attempt]) * 32
        config["liteservers"][0]["id"]["key"] = base64.b64encode(key).decode()
        try:
            validate_config(config, "test")
        except ChainConfigError:
            return
    pytest.fail("no invalid point found")


def test_user_files(tmp_path: Path) -> None:
    good = tmp_path / "global.config.json"
    good.write_text(json.dumps(liteserver_config([1, 1, 1])))
    assert load_config_file(good).liteserver_count == 3
    with pytest.raises(ChainConfigError, match="cannot be read"):
        load_config_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(ChainConfigError, match="is not JSON"):
        load_config_file(bad)


async def test_download_is_cached_and_reused(tmp_path: Path) -> None:
    served = liteserver_config([1])
    hits = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response(served)

    app = web.Application()
    app.router.add_get("/global.config.json", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/global.config.json"
    try:
        first, second = [
            await obtain_config(TonNetwork.TESTNET, user_file=None, cache_dir=tmp_path, url=url)
            for _ in range(2)
        ]
    finally:
        await runner.cleanup()
    assert first.data == served == second.data
    assert hits == ["/global.config.json"]  # the second came from the cache
    assert second.source.startswith("cache")


async def test_a_failed_download_falls_back_to_a_stale_cache(tmp_path: Path) -> None:
    stale = liteserver_config([1])
    path = cache_file(tmp_path, TonNetwork.MAINNET)
    path.write_text(json.dumps(stale))
    old = path.stat().st_mtime - CACHE_MAX_AGE_S - 10
    os.utime(path, (old, old))
    url = f"http://127.0.0.1:{closed_loopback_port()}/x.json"
    config = await obtain_config(
        TonNetwork.MAINNET, user_file=None, cache_dir=tmp_path, url=url, timeout_s=3
    )
    assert config.data == stale


async def test_a_failed_download_without_cache_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_loopback_port()}/x.json"
    with pytest.raises(ChainConfigError, match="could not be downloaded"):
        await obtain_config(
            TonNetwork.MAINNET, user_file=None, cache_dir=tmp_path, url=url, timeout_s=3
        )
