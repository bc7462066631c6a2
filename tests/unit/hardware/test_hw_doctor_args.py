"""The doctor command's inputs: addresses and TON config files, with clear errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cocoon_desktop.cli.doctor import configured_endpoints, liteservers_from_config, parse_endpoint
from cocoon_desktop.doctor.probes import Endpoint


def test_addresses() -> None:
    assert parse_endpoint("203.0.113.5:8888") == Endpoint("proxy", "203.0.113.5", 8888)
    assert parse_endpoint("proxy.example.org:443", "liteserver").role == "liteserver"
    ipv6 = parse_endpoint("[2001:db8::1]:8888")
    assert (ipv6.host, ipv6.port, ipv6.address) == ("2001:db8::1", 8888, "[2001:db8::1]:8888")


@pytest.mark.parametrize("text", ["example.org", ":80", "host:0", "host:99999", "host:http",
                                  "host:\u00b2",  # a superscript 2: isdigit(), yet int() raised
                                  "host:\u0668\u0668"])  # Arabic-Indic digits: ASCII only
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


def test_endpoints_from_the_settings_file(tmp_path: Path) -> None:
    ton = tmp_path / "ton.json"
    ton.write_text(json.dumps({"liteservers": [{"ip": 84478511, "port": 19949}]}))
    settings = tmp_path / "settings.json"
    original = json.dumps({"network_endpoint": "198.51.100.7:8888", "ton_config_path": str(ton)})
    settings.write_text(original)
    endpoints, notes = configured_endpoints(settings)
    assert endpoints == (Endpoint("proxy", "198.51.100.7", 8888),
                         Endpoint("liteserver", "5.9.10.47", 19949))
    assert notes == [] and settings.read_text() == original


def test_unusable_settings_are_noted_not_fatal(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"network_endpoint": "proxy-without-port",
                                    "ton_config_path": str(tmp_path / "missing.json")}))
    endpoints, notes = configured_endpoints(settings)
    assert endpoints == () and len(notes) == 2 and "HOST:PORT" in notes[0]
    assert configured_endpoints(tmp_path / "none.json") == ((), [])
    root_config = tmp_path / "root.json"
    root_config.write_text(json.dumps({"network_endpoint": "/srv/root-config.json"}))
    assert configured_endpoints(root_config) == ((), [])  # a root-config file is not an address
    settings.write_text("{broken")
    assert configured_endpoints(settings) == ((), [])
