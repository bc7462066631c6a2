"""The upstream gateway's rules that need no engine: loopback only, a clear refusal."""

from __future__ import annotations

import socket

import pytest

from cocoon_desktop.engine.host.gateway import (
    DEFAULT_PORT,
    ROUTES,
    GatewayError,
    UpstreamGateway,
    loopback_host,
)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    gateway = UpstreamGateway(lambda: None, host=host, port=0)
    assert gateway.host in ("127.0.0.1", "127.8.9.10", "::1")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "8.8.8.8"])
def test_any_other_address_is_refused_saying_why(host: str) -> None:
    with pytest.raises(GatewayError, match="listens only on a loopback address") as caught:
        UpstreamGateway(lambda: None, host=host)
    assert "without a token" in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


@pytest.mark.parametrize("host", ["localhost", "my-rig.lan", ""])
def test_names_are_refused_too(host: str) -> None:
    with pytest.raises(GatewayError, match=r"loopback IP address such as 127\.0\.0\.1"):
        loopback_host(host)


def test_upstreams_default_port_and_the_engines_routes_only() -> None:
    assert DEFAULT_PORT == 8000
    assert ROUTES == {"/v1/models": "GET", "/v1/chat/completions": "POST",
                      "/v1/completions": "POST"}


async def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        gateway = UpstreamGateway(lambda: None, port=port)
        with pytest.raises(GatewayError, match=f"cannot listen on 127.0.0.1:{port}") as caught:
            await gateway.start()
        assert "choose another port" in str(caught.value)
    await gateway.stop()  # nothing was opened: stopping is harmless
