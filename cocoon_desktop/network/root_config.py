"""The Cocoon root config: prices, allowed hashes, registered proxies, contract codes.

Three sources, as upstream's RootContractConfig (runners/smartcontracts/RootContractConfig.cpp):
- fake-TON JSON (`rootConfig.pseudo`, the test format of spec/fake-ton/fake-ton-config.json);
- `rootConfig.configV5` TL (what a proxy stores);
- the root contract's data cell on chain (`load_from_state`); fetching it needs a liteserver,
  which this module does not do: the caller passes the cell.
It also derives the proxy and worker contract addresses the worker checks in the handshake.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytoniq_core import Address, Cell, Slice, StateInit, begin_cell

from cocoon_desktop.network.tl.base import RegisteredProxy, RootConfigV5
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.protocol.cells import load_std_address, store_std_address
from cocoon_desktop.protocol.model_names import base_model_name
from cocoon_desktop.protocol.money import NANOTON_PER_TON
from cocoon_desktop.protocol.pricing import PriceMultipliers


class RootConfigError(ValueError):
    """The root config cannot be read; the message names the field and what to fix."""


@dataclass(frozen=True)
class ProxyAddress:
    seqno: int
    for_workers: Endpoint
    for_clients: Endpoint


def parse_proxy_address(seqno: int, text: str) -> ProxyAddress:
    """Upstream's `"ip:workers_port ip:clients_port"` (one address serves both when alone)."""
    parts = text.split(" ", 1)
    try:
        workers = Endpoint.parse(parts[0])
        clients = Endpoint.parse(parts[1]) if len(parts) > 1 else workers
    except ValueError as exc:
        raise RootConfigError(f"registered proxy {seqno}: {exc}") from exc
    return ProxyAddress(seqno, workers, clients)


@dataclass(frozen=True)
class RootConfig:
    owner_address: Address
    proxy_hashes: frozenset[bytes] = frozenset()
    registered_proxies: tuple[ProxyAddress, ...] = ()
    last_proxy_seqno: int = 0
    worker_hashes: frozenset[bytes] = frozenset()
    model_hashes: frozenset[bytes] = frozenset()
    version: int = 0
    struct_version: int = 1
    params_version: int = 0
    unique_id: int = 13
    is_test: bool = True
    price_per_token: int = 0
    worker_fee_per_token: int = 0
    multipliers: PriceMultipliers = field(default_factory=PriceMultipliers)
    proxy_delay_before_close: int = 600
    client_delay_before_close: int = 300
    min_proxy_stake: int = NANOTON_PER_TON
    min_client_stake: int = NANOTON_PER_TON
    proxy_sc_code: Cell = field(default_factory=lambda: begin_cell().end_cell())
    worker_sc_code: Cell = field(default_factory=lambda: begin_cell().end_cell())
    client_sc_code: Cell = field(default_factory=lambda: begin_cell().end_cell())

    def has_worker_hash(self, image_hash: bytes) -> bool:
        return image_hash in self.worker_hashes

    def has_model_hash(self, model_name: str) -> bool:
        return hashlib.sha256(model_name.encode()).digest() in self.model_hashes

    def has_proxy_hash(self, image_hash: bytes) -> bool:
        return image_hash in self.proxy_hashes

    def params_cell(self, codes: int) -> Cell:
        """`serialize_params_cell`: bit 1 proxy code, 2 worker code, 4 client code."""
        b = begin_cell().store_uint(self.struct_version, 8).store_uint(self.params_version, 32)
        b.store_uint(self.unique_id, 32).store_bit(self.is_test)
        b.store_coins(self.price_per_token).store_coins(self.worker_fee_per_token)
        if self.struct_version >= 2:
            if self.struct_version >= 3:
                b.store_uint(self.multipliers.prompt, 32)
            b.store_uint(self.multipliers.cached, 32)
            if self.struct_version >= 3:
                b.store_uint(self.multipliers.completion, 32)
            b.store_uint(self.multipliers.reasoning, 32)
        b.store_uint(self.proxy_delay_before_close, 32)
        b.store_uint(self.client_delay_before_close, 32)
        if self.struct_version >= 1:
            b.store_coins(self.min_proxy_stake).store_coins(self.min_client_stake)
        codes_by_bit = ((1, self.proxy_sc_code), (2, self.worker_sc_code),
                        (4, self.client_sc_code))
        for bit, code in codes_by_bit:
            b.store_maybe_ref(code if codes & bit else None)
        return b.end_cell()

    def proxy_sc_address(self, proxy_owner: Address, proxy_public_key: bytes,
                         root_address: Address) -> Address:
        """`ProxyContract::init_data_cell` under the proxy code: the proxy's contract."""
        b = store_std_address(begin_cell(), proxy_owner).store_bytes(proxy_public_key)
        store_std_address(b, root_address).store_uint(0, 2).store_coins(0).store_coins(0)
        data = b.store_uint(0, 32).store_ref(self.params_cell(6)).end_cell()
        return contract_address(self.proxy_sc_code, data)

    def worker_sc_address(self, worker_owner: Address, proxy_sc: Address,
                          proxy_public_key: bytes) -> Address:
        """`WorkerContract::init_data_cell` under the worker code: where payouts go."""
        b = store_std_address(begin_cell(), worker_owner)
        store_std_address(b, proxy_sc).store_bytes(proxy_public_key)
        data = b.store_uint(0, 2).store_uint(0, 64).store_ref(self.params_cell(0)).end_cell()
        return contract_address(self.worker_sc_code, data)

    def to_tl(self) -> RootConfigV5:
        proxies = [RegisteredProxy(p.seqno, f"{p.for_workers} {p.for_clients}")
                   for p in self.registered_proxies]
        m = self.multipliers
        return RootConfigV5(
            friendly(self.owner_address), sorted(self.proxy_hashes), proxies,
            self.last_proxy_seqno, sorted(self.worker_hashes), sorted(self.model_hashes),
            self.version, self.struct_version, self.params_version, self.unique_id,
            int(self.is_test), self.price_per_token, self.worker_fee_per_token, m.prompt,
            m.cached, m.completion, m.reasoning, self.proxy_delay_before_close,
            self.client_delay_before_close, self.min_proxy_stake, self.min_client_stake,
            self.proxy_sc_code.to_boc().hex(), self.worker_sc_code.to_boc().hex(),
            self.client_sc_code.to_boc().hex())


def contract_address(code: Cell, data: Cell) -> Address:
    """Workchain 0, hash of the StateInit with this code and data."""
    return Address((0, StateInit(code=code, data=data).serialize().hash))


def friendly(address: Address) -> str:
    """Upstream's `rserialize(true)` of a runner address: url-safe, non-bounceable."""
    return address.to_str(is_user_friendly=True, is_url_safe=True, is_bounceable=False)


def parse_address(text: str, what: str) -> Address:
    try:
        return Address(text)
    except Exception as exc:  # pytoniq raises several types on bad text
        raise RootConfigError(f"{what} '{text}' is not a TON address (one looks like EQ… or "
                              "0:<64 hex digits>)") from exc


def _code_cell(hex_boc: str, what: str) -> Cell:
    if not hex_boc:
        return begin_cell().end_cell()
    try:
        return Cell.one_from_boc(bytes.fromhex(hex_boc))
    except Exception as exc:
        raise RootConfigError(f"{what} is not a hex-encoded BOC (an unrendered template "
                              f"placeholder like $WORKER_SC_CODE?)") from exc


def _hash_list(values: list[Any], what: str) -> frozenset[bytes]:
    out = set()
    for value in values:
        try:
            raw = base64.b64decode(value, validate=True)
        except (ValueError, TypeError) as exc:
            raise RootConfigError(f"{what}: '{value}' is not base64; each hash is 32 bytes in "
                                  "base64, as upstream's root-config JSON writes it") from exc
        if len(raw) != 32:
            raise RootConfigError(f"{what}: '{value}' is not 32 bytes; each hash is 32 bytes "
                                  "in base64, as upstream's root-config JSON writes it")
        out.add(raw)
    return frozenset(out)


def from_fake_ton_json(source: Path | dict[str, Any]) -> RootConfig:
    """Upstream's `load_from_json` of a `rootConfig.pseudo` (fixed test values as upstream)."""
    try:
        doc = json.loads(source.read_text()) if isinstance(source, Path) else source
    except (OSError, json.JSONDecodeError) as exc:
        raise RootConfigError(f"cannot read the root config {source}: {exc}; check the path "
                              "and that the file is the network's root-config JSON") from exc
    try:
        models = set(_hash_list(doc.get("model_hashes", []), "model_hashes"))
        models |= {hashlib.sha256(base_model_name(n).encode()).digest()
                   for n in doc.get("model_types", [])}
        proxies = tuple(parse_proxy_address(int(p["seqno"]), p["address"])
                        for p in doc.get("registered_proxies", []))
        return RootConfig(
            owner_address=parse_address(doc["root_owner_address"], "root_owner_address"),
            proxy_hashes=_hash_list(doc.get("proxy_hashes", []), "proxy_hashes"),
            registered_proxies=proxies, last_proxy_seqno=int(doc.get("last_proxy_seqno", 0)),
            worker_hashes=_hash_list(doc.get("worker_hashes", []), "worker_hashes"),
            model_hashes=frozenset(models), version=int(doc.get("version", 0)),
            params_version=int(doc.get("params_version", 0)),
            price_per_token=int(doc["price_per_token"]),
            worker_fee_per_token=int(doc["worker_fee_per_token"]),
            proxy_sc_code=_code_cell(doc.get("proxy_sc_code", ""), "proxy_sc_code"),
            worker_sc_code=_code_cell(doc.get("worker_sc_code", ""), "worker_sc_code"),
            client_sc_code=_code_cell(doc.get("client_sc_code", ""), "client_sc_code"))
    except KeyError as exc:
        raise RootConfigError(f"the root config lacks the field {exc}; it is not a complete "
                              "root-config JSON (upstream's fake-TON format): get the "
                              "network's file again") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, RootConfigError):
            raise
        raise RootConfigError(f"the root config has a bad value: {exc}; compare the file with "
                              "the network's published root config") from exc


def from_tl(conf: RootConfigV5) -> RootConfig:
    return RootConfig(
        owner_address=parse_address(conf.root_owner_address, "root_owner_address"),
        proxy_hashes=frozenset(conf.proxy_hashes),
        registered_proxies=tuple(parse_proxy_address(p.seqno, p.address)
                                 for p in conf.registered_proxies),
        last_proxy_seqno=conf.last_proxy_seqno, worker_hashes=frozenset(conf.worker_hashes),
        model_hashes=frozenset(conf.model_hashes), version=conf.version,
        struct_version=conf.struct_version, params_version=conf.params_version,
        unique_id=conf.unique_id, is_test=bool(conf.is_test),
        price_per_token=conf.price_per_token, worker_fee_per_token=conf.worker_fee_per_token,
        multipliers=PriceMultipliers(conf.prompt_tokens_price_multiplier,
                                     conf.cached_tokens_price_multiplier,
                                     conf.completion_tokens_price_multiplier,
                                     conf.reasoning_tokens_price_multiplier),
        proxy_delay_before_close=conf.proxy_delay_before_close,
        client_delay_before_close=conf.client_delay_before_close,
        min_proxy_stake=conf.min_proxy_stake, min_client_stake=conf.min_client_stake,
        proxy_sc_code=_code_cell(conf.proxy_sc_code, "proxy_sc_code"),
        worker_sc_code=_code_cell(conf.worker_sc_code, "worker_sc_code"),
        client_sc_code=_code_cell(conf.client_sc_code, "client_sc_code"))


def _load_params(ps: Slice) -> dict[str, Any]:
    version = ps.load_uint(8)
    if version > 3:
        raise RootConfigError(f"unexpected params struct version {version}: the root "
                              "contract is newer than this app; update Cocoon Desktop")
    out: dict[str, Any] = {"struct_version": version, "params_version": ps.load_uint(32),
                           "unique_id": ps.load_uint(32), "is_test": bool(ps.load_bit()),
                           "price_per_token": ps.load_coins(),
                           "worker_fee_per_token": ps.load_coins()}
    prompt = ps.load_uint(32) if version >= 3 else 10000
    cached = ps.load_uint(32) if version >= 2 else 10000
    completion = ps.load_uint(32) if version >= 3 else 10000
    reasoning = ps.load_uint(32) if version >= 2 else 10000
    out["multipliers"] = PriceMultipliers(prompt, cached, completion, reasoning)
    out["proxy_delay_before_close"] = ps.load_uint(32)
    out["client_delay_before_close"] = ps.load_uint(32)
    if version >= 1:
        out["min_proxy_stake"], out["min_client_stake"] = ps.load_coins(), ps.load_coins()
    for name in ("proxy_sc_code", "worker_sc_code", "client_sc_code"):
        code = ps.load_maybe_ref()
        if code is not None:
            out[name] = code
    if ps.remaining_bits or ps.remaining_refs:
        raise RootConfigError("extra data in the root contract's params: the root contract "
                              "is newer than this app; update Cocoon Desktop")
    return out


def _proxy_entry(seqno: int, value: Slice) -> ProxyAddress | None:
    if value.load_bit():
        return None  # upstream skips non-IPv4 entry types
    size = value.load_uint(7)
    return parse_proxy_address(seqno, value.load_bytes(size).decode())


def from_contract_data(data: Cell) -> RootConfig:
    """Upstream's `load_from_state`: owner, ^data (hashes, proxies), ^params, version."""
    try:
        cs = data.begin_parse()
        owner = load_std_address(cs)
        data_cs, params = cs.load_ref().begin_parse(), _load_params(cs.load_ref().begin_parse())
        version = cs.load_uint(32)
        keys = data_cs.load_dict(256) or {}
        proxies_dict = data_cs.load_dict(32) or {}
        last_seqno = data_cs.load_uint(32)
        workers = data_cs.load_dict(256) or {}
        models = data_cs.load_dict(256) or {}
        proxies = [_proxy_entry(int(k), v) for k, v in sorted(proxies_dict.items())]
    except RootConfigError:
        raise
    except Exception as exc:  # pytoniq raises several types on short or malformed cells
        raise RootConfigError(f"the root contract data does not have upstream's layout: "
                              f"{exc} (is the address a Cocoon root contract?)") from exc

    def as_hashes(d: dict[Any, Any]) -> frozenset[bytes]:
        return frozenset(int(k).to_bytes(32, "big") for k in d)

    return RootConfig(owner_address=owner, proxy_hashes=as_hashes(keys),
                      registered_proxies=tuple(p for p in proxies if p is not None),
                      last_proxy_seqno=last_seqno, worker_hashes=as_hashes(workers),
                      model_hashes=as_hashes(models), version=version, **params)
