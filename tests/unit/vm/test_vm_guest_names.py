"""The guest reaches the DCAP collateral's hosts by name through their forwards: its HTTP
client connects to the forward's address and keeps the real name in the request (and in TLS);
a name the host did not forward fails with the reason. A real HTTP server on loopback stands
in for the forward; the config carries the names through its (measured) JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from cocoon_desktop.vm.guest.names import forwarded_session
from cocoon_desktop.vm.guest_config import GuestConfig
from tests.helpers.vm_config import guest_config


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        hosts.append(request.host)
        return web.Response(text="collateral")

    app = web.Application()
    app.router.add_get("/tdx/certification/v4/qe/identity", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port, hosts
    await runner.cleanup()


async def test_a_forwarded_name_is_reached_under_its_own_name(
        server: tuple[int, list[str]]) -> None:
    port, hosts = server
    make = forwarded_session({"pccs.example": "127.0.0.1"})
    async with make() as session:
        url = f"http://pccs.example:{port}/tdx/certification/v4/qe/identity"
        async with session.get(url) as response:
            assert await response.text() == "collateral"
        with pytest.raises(aiohttp.ClientError,
                           match="not reachable from the VM, which reaches only its proxies "
                                 r"and pccs\.example"):
            await session.get(f"http://elsewhere.example:{port}/")
    assert hosts == [f"pccs.example:{port}"]


def test_the_names_travel_in_the_measured_config() -> None:
    names = {"api.trustedservices.intel.com": "10.0.2.101"}
    config = guest_config()
    assert config.worker is not None
    config = replace(config, worker=replace(config.worker, collateral_hosts=names))
    again = GuestConfig.from_disk(config.disk_bytes())
    assert again.worker is not None and again.worker.collateral_hosts == names
    assert again.sha256_hex == config.sha256_hex
