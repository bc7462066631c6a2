"""The devnet proxy's client port asks who is there: only the devnet's own client (its
certificate key, proven in the RA-TLS handshake, with a software quote) is served."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network.attestation import AttestationError, AttestationPolicy
from cocoon_desktop.network.devnet.client import DevnetClient
from cocoon_desktop.network.errors import RemoteError
from cocoon_desktop.network.ratls import make_identity
from tests.helpers.devnet_harness import chat, scripted_engine, served_devnet


@pytest.fixture
async def net():
    async with scripted_engine() as engine, served_devnet(engine.endpoint) as (devnet, _, _):
        yield devnet


async def test_another_local_process_is_not_served_on_the_client_port(net) -> None:
    devnet = net
    intruder = DevnetClient(devnet.clients_endpoint, make_identity(FakeTdxProvider()),
                            AttestationPolicy("any"), devnet.client.owner_address)
    try:
        with pytest.raises(RemoteError, match="client not authorised"):
            await intruder.models()
    finally:
        await intruder.stop()
    assert (await chat(devnet, "hi"))[0] == 200  # the devnet's own client still is


async def test_a_client_without_a_quote_is_refused_in_the_handshake(net) -> None:
    devnet = net
    bare = DevnetClient(devnet.clients_endpoint, make_identity(None), AttestationPolicy("any"),
                        devnet.client.owner_address)
    try:
        with pytest.raises((AttestationError, ConnectionError, OSError)):
            await bare.models()
    finally:
        await bare.stop()
    assert devnet.proxy.client_policy.kind == "fake_tdx"
