"""A whole local test network: root config, proxy, client and its HTTP endpoint, on loopback.

Used by `cocoon-desktop-cli devnet` and by the tests. Nothing here touches a real chain: the
root config is fake-TON (is_test), contract codes are devnet placeholders (both sides derive the
same contract addresses from them), and the proxy's signing key is new each run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web
from pytoniq_core import Address, begin_cell

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network.attestation import AttestationPolicy, QuoteProvider
from cocoon_desktop.network.devnet.client import DevnetClient
from cocoon_desktop.network.devnet.client_http import build_app
from cocoon_desktop.network.devnet.proxy import DevnetProxy
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import (
    ProxyAddress,
    RootConfig,
    friendly,
    from_fake_ton_json,
)
from cocoon_desktop.network.transport import Endpoint

DEVNET_ROOT_OWNER = Address("0:" + hashlib.sha256(b"cocoon-desktop devnet root").hexdigest())
DEVNET_ROOT_CONTRACT = Address("0:" + hashlib.sha256(b"cocoon-desktop devnet root sc").hexdigest())
DEVNET_PROXY_OWNER = Address("0:" + hashlib.sha256(b"cocoon-desktop devnet proxy").hexdigest())
DEVNET_CLIENT_OWNER = Address("0:" + hashlib.sha256(b"cocoon-desktop devnet client").hexdigest())
DEVNET_WORKER_OWNER = Address("0:" + hashlib.sha256(b"cocoon-desktop devnet worker").hexdigest())


@dataclass(frozen=True)
class DevnetSettings:
    host: str = "127.0.0.1"
    workers_port: int = 0
    clients_port: int = 0
    http_port: int = 0
    price_per_token: int = 20  # nanoTON per adjusted token, paid by clients
    worker_fee_per_token: int = 10  # nanoTON per adjusted token, earned by workers
    worker_policy: AttestationPolicy = field(default_factory=AttestationPolicy)
    check_worker_hashes: bool = False
    worker_hashes: frozenset[bytes] = frozenset()
    model_names: tuple[str, ...] = ()
    pow_difficulty: int = 16
    http_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)


def devnet_root_config(settings: DevnetSettings) -> RootConfig:
    code = (begin_cell().store_bytes(b"cocoon-desktop devnet " + kind).end_cell()
            for kind in (b"proxy", b"worker", b"client"))
    proxy_code, worker_code, client_code = code
    models = frozenset(hashlib.sha256(m.encode()).digest() for m in settings.model_names)
    return RootConfig(owner_address=DEVNET_ROOT_OWNER, is_test=True, version=1,
                      params_version=1, price_per_token=settings.price_per_token,
                      worker_fee_per_token=settings.worker_fee_per_token,
                      worker_hashes=settings.worker_hashes, model_hashes=models,
                      proxy_sc_code=proxy_code, worker_sc_code=worker_code,
                      client_sc_code=client_code)


def fake_ton_json(root: RootConfig) -> dict[str, object]:
    """The root config in upstream's fake-TON JSON format, for a worker to load."""
    def b64(values: frozenset[bytes]) -> list[str]:
        return sorted(base64.b64encode(v).decode() for v in values)

    return {
        "proxy_hashes": b64(root.proxy_hashes), "worker_hashes": b64(root.worker_hashes),
        "model_hashes": b64(root.model_hashes), "model_types": [],
        "registered_proxies": [{"seqno": p.seqno, "address": f"{p.for_workers} {p.for_clients}"}
                               for p in root.registered_proxies],
        "price_per_token": root.price_per_token,
        "worker_fee_per_token": root.worker_fee_per_token,
        "last_proxy_seqno": root.last_proxy_seqno, "version": root.version,
        "params_version": root.params_version,
        "proxy_sc_code": root.proxy_sc_code.to_boc().hex(),
        "worker_sc_code": root.worker_sc_code.to_boc().hex(),
        "client_sc_code": root.client_sc_code.to_boc().hex(),
        "root_owner_address": friendly(root.owner_address),
    }


@dataclass
class Devnet:
    settings: DevnetSettings
    root_config: RootConfig
    proxy: DevnetProxy
    client: DevnetClient
    http: web.AppRunner
    workers_endpoint: Endpoint
    clients_endpoint: Endpoint
    http_url: str

    @property
    def root_contract_address(self) -> str:
        return friendly(DEVNET_ROOT_CONTRACT)

    def write_root_config(self, path: Path) -> None:
        path.write_text(json.dumps(fake_ton_json(self.root_config), indent=2) + "\n")

    async def stop(self) -> None:
        """Stop everything and wait for every task it started. The client goes first, so
        requests in flight end at once with a reason instead of holding the HTTP shutdown."""
        await self.client.stop()
        await self.http.cleanup()
        await self.proxy.stop()


async def start_devnet(settings: DevnetSettings, proxy_provider: QuoteProvider | None = None
                       ) -> Devnet:
    """Start proxy, client and the client's HTTP endpoint; the root config lists the proxy."""
    root = devnet_root_config(settings)
    client_identity = make_identity(FakeTdxProvider())
    proxy = DevnetProxy(root, DEVNET_ROOT_CONTRACT, DEVNET_PROXY_OWNER,
                        make_identity(proxy_provider), worker_policy=settings.worker_policy,
                        client_policy=AttestationPolicy("fake_tdx"),
                        client_keys=(client_identity.public_key,),
                        check_worker_hashes=settings.check_worker_hashes,
                        pow_difficulty=settings.pow_difficulty)
    workers_port, clients_port = await proxy.start(settings.host, settings.workers_port,
                                                   settings.clients_port)
    workers = Endpoint(settings.host, workers_port)
    clients = Endpoint(settings.host, clients_port)
    root = replace(root, registered_proxies=(ProxyAddress(1, workers, clients),),
                   last_proxy_seqno=1)
    root = from_fake_ton_json(fake_ton_json(root))  # what a worker will read back
    proxy.root_config = root
    client_policy = (AttestationPolicy("fake_tdx") if proxy_provider is not None
                     and proxy_provider.kind == "fake_tdx" else AttestationPolicy("any"))
    client = DevnetClient(clients, client_identity, client_policy,
                          friendly(DEVNET_CLIENT_OWNER))
    runner = web.AppRunner(build_app(client, settings.http_token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.http_port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Devnet(settings, root, proxy, client, runner, workers, clients,
                  f"http://{settings.host}:{port}")
