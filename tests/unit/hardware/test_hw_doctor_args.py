"""The doctor command's inputs: addresses and TON config files, with clear errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cocoon_desktop.hardware.doctor import liteservers_from_config, parse_endpoint
from cocoon_desktop.hardware.probes import Endpoint


def test_addresses() -> None:
    assert parse_endpoint("203.0.113.5:8888") == Endpoint("proxy", "203.0.113.5", 8888)
    assert parse_endpoint("proxy.example.org:443", "liteserver").role == "liteserver"
    ipv6 = parse_endpoint("[2001:db8::1]:8888")
    assert (ipv6.host, ipv6.port, ipv6.address) == ("2001:db8::1", 8888, "[2001:db8::1]:8888")


@pytest.mark.parametrize("text", ["example.org", ":80", "host:0", "host:99999", "host:http"])
def test_bad_addresses_say_how_to_write_them(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="HOST:PORT"):
        parse_endpoint(text)


def test_liteservers_from_a_ton_global_config(tmp_path: Path) -> None:
    config = tmp_path / "global.config.json"
    config.write_text(json.dumps({"liteservers": [
        {"ip": 84478511, "port": 19949, "id": {"key": "n4VDnSCU..."}},
        {"ip": -2018135749, "port": 53312},
    ]}))
    assert liteservers_from_config(config) == (
        Endpoint("liteserver", "5.9.10.47", 19949),
        Endpoint("liteserver", "135.181.177.59", 53312),
    )


@pytest.mark.parametrize("content", [None, "not json", '{"validators": {}}',
                                     '{"liteservers": [{"ip": "x"}]}'])
def test_bad_ton_configs_are_explained(tmp_path: Path, content: str | None) -> None:
    config = tmp_path / "config.json"
    if content is not None:
        config.write_text(content)
    with pytest.raises(ValueError, match="TON global config"):
        liteservers_from_config(config)
