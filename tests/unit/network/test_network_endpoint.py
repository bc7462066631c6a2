"""`Endpoint.parse`: a proxy's or a liteserver's host:port as a person writes it."""

from __future__ import annotations

import pytest

from cocoon_desktop.network.transport import Endpoint


def test_hosts_ports_and_bracketed_ipv6() -> None:
    assert Endpoint.parse(" proxy.example.org:8888 ") == Endpoint("proxy.example.org", 8888)
    assert Endpoint.parse("[2001:db8::1]:8116") == Endpoint("2001:db8::1", 8116)
    assert Endpoint.parse(":8116") == Endpoint("127.0.0.1", 8116)
    assert str(Endpoint.parse("[::1]:80")) == "[::1]:80"


@pytest.mark.parametrize("text", ["proxy", "proxy:", "proxy:0", "proxy:65536", "proxy:http",
                                  "proxy:\u00b2",  # a superscript 2: isdigit(), yet int() raised
                                  "proxy:\u0668\u0668"])  # Arabic-Indic digits: ASCII only
def test_a_bad_port_says_how_to_write_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        Endpoint.parse(text)
