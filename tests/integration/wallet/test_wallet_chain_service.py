"""The chain service's state machine against real loopback sockets: nothing listens, a server
that never answers, a server that hangs up. No call hangs, no call raises, last known values
come back with their age, and retries back off."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.chain_types import (
    AccountSnapshot,
    AccountStatus,
    ChainState,
    ChainStatus,
    LastKnownCache,
)
from cocoon_desktop.wallet.contracts import WalletVersion
from cocoon_desktop.wallet.networks import TonNetwork
from tests.helpers.ton_config import closed_loopback_port, write_liteserver_config

ADDRESS = TonAddress(0, b"\x21" * 32)
NET = TonNetwork.TESTNET


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def service(tmp_path: Path, ports: list[int], clock: Clock, **kwargs: Any) -> ChainService:
    config = write_liteserver_config(tmp_path, ports)
    return ChainService(
        NET, cache_dir=tmp_path / "cache", config_file=config, clock=clock,
        request_timeout_s=2, connect_timeout_s=4, **kwargs,
    )


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers (a liteserver stuck or behind a black hole)."""
    held: list[asyncio.StreamWriter] = []

    async def on_client(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def hangup_server() -> AsyncIterator[int]:
    """Accepts and immediately closes every connection."""
    async def on_client(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def test_constructing_the_service_touches_no_network(tmp_path: Path) -> None:
    chain = ChainService(NET, cache_dir=tmp_path, config_url=f"http://127.0.0.1:{closed_loopback_port()}/")
    assert chain.state.status is ChainStatus.IDLE and chain.connect_attempts == 0
    assert not list(tmp_path.iterdir())


async def test_nothing_listening_is_unreachable_fast_and_backs_off(tmp_path: Path) -> None:
    clock = Clock()
    chain = service(tmp_path, [closed_loopback_port(), closed_loopback_port()], clock)
    seen: list[ChainState] = []
    chain.add_listener(seen.append)
    started = time.monotonic()
    reading = await chain.read_account(ADDRESS, WalletVersion.V4R2)
    assert time.monotonic() - started < 4
    assert reading.snapshot is None and not reading.fresh
    assert reading.state.status is ChainStatus.UNREACHABLE
    assert "None of the 2 TON liteservers could be reached" in reading.state.message
    assert [s.status for s in seen] == [ChainStatus.CONNECTING, ChainStatus.UNREACHABLE]
    first_retry = reading.state.next_retry_at
    assert first_retry is not None and 1.6 <= first_retry - clock.now <= 2.4  # 2 s ± jitter

    await chain.read_account(ADDRESS)  # inside the backoff: no new attempt
    assert chain.connect_attempts == 1
    clock.now = first_retry + 0.01
    again = await chain.read_transactions(ADDRESS)
    assert chain.connect_attempts == 2 and again.records == () and not again.fresh
    second_retry = again.state.next_retry_at
    assert second_retry is not None and 3.2 <= second_retry - clock.now <= 4.8  # doubled
    assert again.state.failures == 2
    await chain.close()


async def test_retry_now_and_sends_skip_the_backoff(tmp_path: Path) -> None:
    clock = Clock()
    chain = service(tmp_path, [closed_loopback_port()], clock)
    await chain.read_account(ADDRESS)
    chain.retry_now()
    await chain.read_account(ADDRESS)
    assert chain.connect_attempts == 2
    outcome = await chain.send(b"not even a message")  # a user action: tried at once
    assert chain.connect_attempts == 3
    assert not outcome.sent and "Nothing left your wallet" in outcome.message
    assert "The TON liteserver could not be reached" in outcome.state.message
    await chain.close()


async def test_last_known_values_come_back_with_their_age(tmp_path: Path) -> None:
    clock = Clock()
    cache = LastKnownCache(tmp_path / "cache" / f"chain-{NET.value}.json")
    known = AccountSnapshot(ADDRESS.raw, NET, 7_000_000_000, AccountStatus.ACTIVE, 12, 99,
                            clock.now - 3600)
    cache.put_account(LastKnownCache.key(NET, ADDRESS), known)
    chain = service(tmp_path, [closed_loopback_port()], clock)  # a restart, offline
    reading = await chain.read_account(ADDRESS, WalletVersion.V4R2)
    assert reading.snapshot == known and not reading.fresh
    assert reading.snapshot.age_s(clock.now) == pytest.approx(3600)
    assert reading.state.status is ChainStatus.UNREACHABLE
    await chain.close()


async def test_a_silent_liteserver_times_out_instead_of_hanging(
    tmp_path: Path, silent_server: int
) -> None:
    chain = service(tmp_path, [silent_server], Clock())
    started = time.monotonic()
    reading = await chain.read_account(ADDRESS)
    elapsed = time.monotonic() - started
    assert elapsed < 4 + 2  # the connect timeout, with slack for a loaded machine
    assert reading.state.status is ChainStatus.UNREACHABLE
    await chain.close()


async def test_a_server_that_hangs_up_is_unreachable(tmp_path: Path, hangup_server: int) -> None:
    chain = service(tmp_path, [hangup_server], Clock())
    reading = await chain.read_account(ADDRESS)
    assert reading.state.status is ChainStatus.UNREACHABLE
    await chain.close()
    assert chain.state.status is ChainStatus.IDLE


async def test_a_broken_user_config_is_offline_with_what_to_do(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"liteservers": []}))
    chain = ChainService(NET, cache_dir=tmp_path, config_file=broken, clock=Clock())
    reading = await chain.read_account(ADDRESS)
    assert reading.state.status is ChainStatus.OFFLINE
    assert "liteservers" in reading.state.message and "Settings" in reading.state.message


async def test_an_unreachable_download_is_a_state_not_an_exception(tmp_path: Path) -> None:
    chain = ChainService(
        NET, cache_dir=tmp_path, config_url=f"http://127.0.0.1:{closed_loopback_port()}/c.json",
        connect_timeout_s=3, clock=Clock(),
    )
    reading = await chain.read_account(ADDRESS)
    assert reading.state.status is ChainStatus.UNREACHABLE
    assert "could not be downloaded" in reading.state.message


def test_closed_loopback_port_is_really_closed() -> None:
    port = closed_loopback_port()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))
