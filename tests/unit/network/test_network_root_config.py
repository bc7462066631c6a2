"""Root config: upstream's fake-TON JSON, configV5 TL, the contract data cell, addresses."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from pytoniq_core import Address, HashMap, begin_cell

from cocoon_desktop.network import tl
from cocoon_desktop.network.root_config import (
    RootConfigError,
    from_contract_data,
    from_fake_ton_json,
    from_tl,
)
from cocoon_desktop.protocol.cells import store_std_address

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "cocoon"
OWNER = Address("0:" + "ab" * 32)


def rendered_fake_ton() -> dict:
    path = SHARED / "fake-ton-config.json"
    if not path.exists():
        pytest.skip("upstream's fake-ton-config.json is not available")
    text = path.read_text()
    for key, value in {"$EXTERNAL_IP": "127.0.0.1", "$EXTERNAL_WORKER_PORT": "8120",
                       "$EXTERNAL_CLIENT_PORT": "8121", "$MODEL_NAME": "Qwen/Qwen3-8B"}.items():
        text = text.replace(key, value)
    for code in ("$PROXY_SC_CODE", "$WORKER_SC_CODE", "$CLIENT_SC_CODE"):
        text = text.replace(code, begin_cell().store_uint(7, 8).end_cell().to_boc().hex())
    return json.loads(text)


def test_upstreams_fake_ton_config_loads() -> None:
    root = from_fake_ton_json(rendered_fake_ton())
    proxy = root.registered_proxies[0]
    assert (str(proxy.for_workers), str(proxy.for_clients)) == ("127.0.0.1:8120",
                                                                "127.0.0.1:8121")
    assert root.price_per_token == 2 and root.worker_fee_per_token == 1
    assert root.has_worker_hash(base64.b64decode("WorkerWorkerWorkerWorkerWorkerWorkerWorkerU="))
    assert root.is_test and root.struct_version == 1 and root.unique_id == 13


def test_an_unrendered_template_is_refused_clearly() -> None:
    path = SHARED / "fake-ton-config.json"
    if not path.exists():
        pytest.skip("upstream's fake-ton-config.json is not available")
    with pytest.raises(RootConfigError, match="registered proxy 1"):
        from_fake_ton_json(json.loads(path.read_text()))
    doc = rendered_fake_ton() | {"worker_sc_code": "$WORKER_SC_CODE"}
    with pytest.raises(RootConfigError, match="unrendered template"):
        from_fake_ton_json(doc)
    with pytest.raises(RootConfigError, match="lacks the field 'price_per_token'"):
        from_fake_ton_json({k: v for k, v in rendered_fake_ton().items()
                            if k != "price_per_token"})


def test_config_v5_round_trips_through_tl() -> None:
    root = from_fake_ton_json(rendered_fake_ton())
    again = from_tl(tl.decode(root.to_tl().encode()))
    assert again == root


def test_contract_addresses_depend_on_every_input() -> None:
    root = from_fake_ton_json(rendered_fake_ton())
    proxy_sc = root.proxy_sc_address(OWNER, b"\x01" * 32, OWNER)
    assert proxy_sc == root.proxy_sc_address(OWNER, b"\x01" * 32, OWNER)
    assert proxy_sc != root.proxy_sc_address(OWNER, b"\x02" * 32, OWNER)
    worker_sc = root.worker_sc_address(OWNER, proxy_sc, b"\x01" * 32)
    assert worker_sc != root.worker_sc_address(Address("0:" + "cd" * 32), proxy_sc, b"\x01" * 32)


def _hashes(values: list[bytes]):
    hm = HashMap(256, value_serializer=lambda v, b: b.store_bit(1))
    for value in values:
        hm.set_int_key(int.from_bytes(value, "big"), True)
    return hm.serialize()


def test_the_root_contract_data_cell_parses_like_upstream() -> None:
    params = (begin_cell().store_uint(3, 8).store_uint(4, 32).store_uint(77, 32).store_bit(0)
              .store_coins(20).store_coins(10).store_uint(10000, 32).store_uint(5000, 32)
              .store_uint(20000, 32).store_uint(10000, 32).store_uint(600, 32)
              .store_uint(300, 32).store_coins(10**9).store_coins(2 * 10**9)
              .store_maybe_ref(begin_cell().store_uint(1, 8).end_cell()).store_maybe_ref(None)
              .store_maybe_ref(None).end_cell())
    entry = b"10.0.0.1:8120 10.0.0.1:8121"
    proxies = HashMap(32, value_serializer=lambda v, b: b.store_bit(0).store_uint(
        len(v), 7).store_bytes(v))
    proxies.set_int_key(5, entry)
    model = hashlib.sha256(b"Qwen/Qwen3-8B@abc:def").digest()
    data = (begin_cell().store_maybe_ref(_hashes([b"\x01" * 32]))
            .store_maybe_ref(proxies.serialize()).store_uint(5, 32)
            .store_maybe_ref(_hashes([b"\x02" * 32])).store_maybe_ref(_hashes([model]))
            .end_cell())
    state = store_std_address(begin_cell(), OWNER).store_ref(data).store_ref(params)
    root = from_contract_data(state.store_uint(9, 32).end_cell())
    assert root.version == 9 and root.params_version == 4 and root.unique_id == 77
    assert not root.is_test and root.price_per_token == 20 and root.worker_fee_per_token == 10
    assert root.multipliers.cached == 5000 and root.multipliers.completion == 20000
    assert root.min_client_stake == 2 * 10**9
    assert str(root.registered_proxies[0].for_clients) == "10.0.0.1:8121"
    assert root.has_proxy_hash(b"\x01" * 32) and root.has_worker_hash(b"\x02" * 32)
    assert root.has_model_hash("Qwen/Qwen3-8B@abc:def")


def test_a_short_contract_cell_gives_a_clear_error() -> None:
    with pytest.raises(RootConfigError, match="upstream's layout"):
        from_contract_data(begin_cell().store_uint(1, 8).end_cell())
